"""The tantivy index: its schema, writing documents and running a :class:`QueryPlan`.

Every field holds terms already normalised by :mod:`relata_search.normalise` (raw tokenizer,
no positions), so the index and the query side can never disagree about folding or splitting.
One writer per index directory: only the follower of this process writes it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
import tantivy

from relata_search.documents import SearchDocument, index_terms
from relata_search.ranking import Clause, QueryPlan, Source, match_sources

TERM_FIELDS = ("name", "city", "email", "phone", "postal", "number")


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("relation_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("lists", tokenizer_name="raw", index_option="basic")
    for field in TERM_FIELDS:
        builder.add_text_field(field, tokenizer_name="raw", index_option="basic")
    builder.add_bytes_field("document", stored=True)
    return builder.build()


@dataclass(frozen=True)
class Hit:
    score: float
    document: SearchDocument
    sources: list[Source]


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    next_offset: int | None


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The offset an opaque cursor stands for; a malformed cursor raises ValueError."""
    if not cursor:
        return 0
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    if not raw.startswith("o:") or not raw[2:].isdigit():
        raise ValueError("not a cursor this service issued")
    return int(raw[2:])


class SearchIndex:
    """One on-disk index: documents in, pages of hits out."""

    def __init__(self, path: Path | None, *, heap_mb: int = 128) -> None:
        self.schema = build_schema()
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(self.schema, path=str(path) if path else None, reuse=True)
        self.index.config_reader(reload_policy="Manual")
        self.writer = self.index.writer(heap_size=heap_mb * 1_000_000)

    # --- writing (one thread at a time: the follower) -----------------------------------------

    def upsert(
        self, document: SearchDocument, lists: Iterable[str], *, fresh: bool = False
    ) -> None:
        """Replace the relation's document; ``fresh`` skips the delete on an empty index."""
        if not fresh:
            self.writer.delete_documents_by_term("relation_id", document["relation_id"])
        doc = tantivy.Document()
        doc.add_text("relation_id", document["relation_id"])
        for list_id in lists:
            doc.add_text("lists", str(list_id))
        for field, values in index_terms(document).items():
            for value in dict.fromkeys(values):
                doc.add_text(field, value)
        doc.add_bytes("document", orjson.dumps([document, match_sources(document)]))
        self.writer.add_document(doc)

    def remove(self, relation_id: str) -> None:
        self.writer.delete_documents_by_term("relation_id", relation_id)

    def clear(self) -> None:
        self.writer.delete_all_documents()

    def commit(self) -> None:
        """Make every write so far durable and visible to the next search."""
        self.writer.commit()
        self.index.reload()

    def count(self) -> int:
        return self.index.searcher().num_docs

    # --- searching (any thread) ---------------------------------------------------------------

    def search(self, plan: QueryPlan, *, views: Sequence[str], limit: int, offset: int = 0) -> Page:
        if plan.empty or not views:
            return Page([], None)
        query = self._query(plan, views)
        searcher = self.index.searcher()
        result = searcher.search(query, limit + 1, count=False, offset=offset)
        hits = [
            Hit(score, *orjson.loads(searcher.doc(address).get_first("document")))
            for score, address in result.hits[:limit]
        ]
        more = len(result.hits) > limit
        return Page(hits, offset + limit if more else None)

    def _query(self, plan: QueryPlan, views: Sequence[str]) -> tantivy.Query:
        should = tantivy.Occur.Should
        must = tantivy.Occur.Must
        alternatives = [(should, self._clause(c)) for c in plan.identifiers]
        if plan.words:
            every_word = tantivy.Query.boolean_query(
                [
                    (must, tantivy.Query.boolean_query([(should, self._clause(c)) for c in group]))
                    for group in plan.words
                ]
            )
            alternatives.append((should, every_word))
        matches = tantivy.Query.boolean_query(alternatives)
        visible = tantivy.Query.const_score_query(
            tantivy.Query.term_set_query(self.schema, "lists", list(views)), 0.0
        )
        return tantivy.Query.boolean_query([(must, matches), (must, visible)])

    def _clause(self, clause: Clause) -> tantivy.Query:
        schema, field, value = self.schema, clause.field, clause.value
        if clause.kind == "term":
            query = tantivy.Query.term_query(schema, field, value)
        elif clause.kind == "prefix":
            query = tantivy.Query.fuzzy_term_query(schema, field, value, distance=0, prefix=True)
        else:
            query = tantivy.Query.fuzzy_term_query(
                schema, field, value, distance=1, prefix=clause.kind == "fuzzy_prefix"
            )
        return tantivy.Query.const_score_query(query, clause.score)

"""The tantivy index: its schema, writing documents and running a :class:`QueryPlan`.

Every field holds terms already normalised by :mod:`relata_search.normalise` (raw tokenizer,
no positions), so the index and the query side can never disagree about folding or splitting.
One writer per index directory: only the follower of this process writes it.

Name and city words also have their first one to ``MAX_START`` letters indexed (``name_start``,
``city_start``), so a short typed prefix (``d``, ``ja``) is one posting list instead of the
union of every word that starts with it. An index directory written with another schema is
emptied on open; the follower then refills it from the read model.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import orjson
import tantivy

from relata_common.logging import get_logger
from relata_search.documents import SearchDocument, index_terms
from relata_search.ranking import Clause, QueryPlan, Source, match_sources, tiers

log = get_logger(__name__)

TERM_FIELDS = ("name", "city", "email", "phone", "postal", "number")
START_FIELDS = {"name": "name_start", "city": "city_start"}
MAX_START = 3  # longer prefixes match few enough words to expand them at query time


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("relation_id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("lists", tokenizer_name="raw", index_option="basic")
    for field in (*TERM_FIELDS, *START_FIELDS.values()):
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


def word_starts(words: Iterable[str]) -> list[str]:
    """The distinct first 1..``MAX_START`` letters of each word: 'berg' → b, be, ber."""
    return list(dict.fromkeys(w[:n] for w in words for n in range(1, min(len(w), MAX_START) + 1)))


def open_index(schema: tantivy.Schema, path: Path | None) -> tantivy.Index:
    """The index at ``path``; one written with another schema is removed and started afresh."""
    if path is None:
        return tantivy.Index(schema)
    path.mkdir(parents=True, exist_ok=True)
    try:
        return tantivy.Index(schema, path=str(path), reuse=True)
    except ValueError as error:
        if "schema does not match" not in str(error):
            raise
    log.warning("index schema changed: emptying the index directory to rebuild", path=str(path))
    for entry in path.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()  # the follower's position too: it reloads from the read model
    return tantivy.Index(schema, path=str(path), reuse=True)


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
        self.index = open_index(self.schema, path)
        self.index.config_reader(reload_policy="Manual")
        self.writer = self.index.writer(heap_size=heap_mb * 1_000_000)
        self._searcher = self.index.searcher()

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
        # Every field of IndexTerms holds a list of terms; the loops look fields up by name.
        terms = cast(Mapping[str, list[str]], index_terms(document))
        for field, values in terms.items():
            for value in dict.fromkeys(values):
                doc.add_text(field, value)
        for field, start_field in START_FIELDS.items():
            for start in word_starts(terms[field]):
                doc.add_text(start_field, start)
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
        self._searcher = self.index.searcher()

    def count(self) -> int:
        return self._searcher.num_docs

    # --- searching (any thread) ---------------------------------------------------------------

    def search(self, plan: QueryPlan, *, views: Sequence[str], limit: int, offset: int = 0) -> Page:
        """One page of hits: the plan's tiers in order, each stopping at the first ``wanted``.

        A tier only needs as many hits as the page still lacks plus those earlier tiers found
        (a relation in an earlier tier may match this one too), so a common word costs a
        top-k collection, not a pass over every relation that has it.
        """
        if plan.empty or not views:
            return Page([], None)
        searcher = self.searcher
        visible = self._visible(views)
        wanted = offset + limit + 1
        found: dict[tuple[int, int], tuple[float, tantivy.DocAddress]] = {}
        for tier in tiers(plan):
            # Asking for ``wanted`` leaves room for every earlier hit coming back in this tier.
            result = searcher.search(self._query(tier, visible), wanted, count=False)
            for score, address in result.hits:
                found.setdefault((address.segment_ord, address.doc), (score, address))
            if len(found) >= wanted:
                break
        ranked = list(found.values())[offset : offset + limit]
        hits = [self._hit(searcher, address, score) for score, address in ranked]
        return Page(hits, offset + limit if len(found) > offset + limit else None)

    @property
    def searcher(self) -> tantivy.Searcher:
        """The searcher of the last commit: taken once per commit, not once per search."""
        return self._searcher

    @staticmethod
    def _hit(searcher: tantivy.Searcher, address: tantivy.DocAddress, score: float) -> Hit:
        stored = searcher.doc(address).get_first("document")
        if stored is None:
            raise LookupError("an indexed relation without its stored document")
        return Hit(score, *orjson.loads(stored))

    def _visible(self, views: Sequence[str]) -> tantivy.Query:
        """Relations in any of the views: a term query per view, so tantivy intersects postings."""
        terms = [tantivy.Query.term_query(self.schema, "lists", view) for view in views]
        if len(terms) == 1:
            return tantivy.Query.const_score_query(terms[0], 0.0)
        should = tantivy.Occur.Should
        either = tantivy.Query.boolean_query([(should, term) for term in terms])
        return tantivy.Query.const_score_query(either, 0.0)

    def _query(self, plan: QueryPlan, visible: tantivy.Query) -> tantivy.Query:
        should = tantivy.Occur.Should
        must = tantivy.Occur.Must
        alternatives = [(should, self._clause(c)) for c in plan.identifiers]
        if plan.words:
            every_word = tantivy.Query.boolean_query(
                [(must, self._any_of(group)) for group in plan.words]
            )
            alternatives.append((should, every_word))
        return tantivy.Query.boolean_query(
            [(must, self._any_of_pairs(alternatives)), (must, visible)]
        )

    def _any_of(self, clauses: Sequence[Clause]) -> tantivy.Query:
        if len(clauses) == 1:
            return self._clause(clauses[0])
        should = tantivy.Occur.Should
        return tantivy.Query.boolean_query([(should, self._clause(c)) for c in clauses])

    @staticmethod
    def _any_of_pairs(alternatives: list[tuple[tantivy.Occur, tantivy.Query]]) -> tantivy.Query:
        if len(alternatives) == 1:
            return alternatives[0][1]
        return tantivy.Query.boolean_query(alternatives)

    def _clause(self, clause: Clause) -> tantivy.Query:
        schema, field, value = self.schema, clause.field, clause.value
        if clause.kind == "term":
            query = tantivy.Query.term_query(schema, field, value)
        elif clause.kind == "prefix" and field in START_FIELDS and len(value) <= MAX_START:
            query = tantivy.Query.term_query(schema, START_FIELDS[field], value)
        elif clause.kind == "prefix":
            query = tantivy.Query.fuzzy_term_query(schema, field, value, distance=0, prefix=True)
        else:
            query = tantivy.Query.fuzzy_term_query(
                schema, field, value, distance=1, prefix=clause.kind == "fuzzy_prefix"
            )
        return tantivy.Query.const_score_query(query, clause.score)

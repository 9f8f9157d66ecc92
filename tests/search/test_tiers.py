"""The tiered search on a small in-memory index: order, paging, views and short prefixes."""

from __future__ import annotations

from pathlib import Path

import tantivy

from relata_search.documents import SearchDocument
from relata_search.index import Page, SearchIndex, word_starts
from relata_search.ranking import plan_query, tiers

VIEW = "view-a"
OTHER = "view-b"


def document(number: int, last_name: str, city: str = "Utrecht") -> SearchDocument:
    return SearchDocument(
        relation_id=f"r{number}",
        relation_type="person",
        relation_number=number,
        display_name=last_name,
        names={"last_name": last_name},
        organisation_name=None,
        emails=[],
        phones=[],
        addresses=[{"city": city}],
    )


BERG = document(1, "Berg")
BERGMAN = document(2, "Bergman")
SMIT_IN_BERGEN = document(3, "Smit", city="Bergen")
BREG = document(4, "Breg")  # one transposition away from 'berg'
HIDDEN = document(5, "Berg")


def small_index() -> SearchIndex:
    index = SearchIndex(None, heap_mb=32)
    # Added in reverse rank order: the order of the results must come from the tiers.
    for doc in (BREG, SMIT_IN_BERGEN, BERGMAN, BERG):
        index.upsert(doc, [VIEW], fresh=True)
    index.upsert(HIDDEN, [OTHER], fresh=True)
    index.commit()
    return index


def ids(page: Page) -> list[str]:
    return [hit.document["relation_id"] for hit in page.hits]


def test_tiers_run_identifiers_then_exact_then_prefix_then_typo():
    kinds = [
        ({c.kind for c in t.identifiers}, {c.kind for g in t.words for c in g})
        for t in tiers(plan_query("bergman"))
    ]
    assert kinds == [
        (set(), {"term"}),
        (set(), {"term", "prefix"}),
        (set(), {"term", "prefix", "fuzzy", "fuzzy_prefix"}),
    ]
    number = tiers(plan_query("612345"))
    assert {c.kind for c in number[0].identifiers} == {"term"}
    assert {c.kind for c in number[1].identifiers} == {"prefix"}
    assert all(not t.words for t in number)


def test_tiers_without_anything_new_are_left_out():
    # Words under four letters get no typo clause: the typo tier would repeat the prefix tier.
    assert len(tiers(plan_query("jan ber"))) == 2
    assert tiers(plan_query("")) == []


def test_word_starts():
    assert word_starts(["berg", "de"]) == ["b", "be", "ber", "d", "de"]
    assert word_starts(["bergen", "berg"]) == ["b", "be", "ber"]


def test_exact_word_then_prefix_name_then_prefix_city_then_typo():
    page = small_index().search(plan_query("berg"), views=[VIEW], limit=10)
    assert ids(page) == ["r1", "r2", "r3", "r4"]
    assert page.next_offset is None


def test_paging_walks_through_the_tiers_without_repeats():
    index = small_index()
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = index.search(plan_query("berg"), views=[VIEW], limit=1, offset=offset)
        seen += ids(page)
        offset = page.next_offset
    assert seen == ["r1", "r2", "r3", "r4"]


def test_views_restrict_every_tier():
    index = small_index()
    assert "r5" not in ids(index.search(plan_query("berg"), views=[VIEW], limit=10))
    assert ids(index.search(plan_query("berg"), views=[OTHER], limit=10)) == ["r5"]
    both = ids(index.search(plan_query("berg"), views=[VIEW, OTHER], limit=10))
    assert set(both) == {"r1", "r2", "r3", "r4", "r5"}


def test_short_prefixes_use_the_indexed_word_starts():
    index = small_index()
    assert set(ids(index.search(plan_query("b"), views=[VIEW], limit=10))) == {
        "r1",
        "r2",
        "r3",
        "r4",
    }
    found = ids(index.search(plan_query("be"), views=[VIEW], limit=10))
    assert set(found[:2]) == {"r1", "r2"} and found[2:] == ["r3"]  # names before the city
    assert ids(index.search(plan_query("sm"), views=[VIEW], limit=10)) == ["r3"]


def test_an_index_with_another_schema_is_emptied(tmp_path: Path):
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("relation_id", stored=True)
    old = tantivy.Index(builder.build(), path=str(tmp_path))
    writer = old.writer(heap_size=15_000_000)
    writer.commit()
    del writer, old
    (tmp_path / "follower.json").write_text('{"generation": 1, "seq": 42}')
    index = SearchIndex(tmp_path, heap_mb=32)
    assert index.count() == 0
    assert not (tmp_path / "follower.json").exists()

"""The domain rules alone: normalising, planning a query, ranking and naming the matched field."""

from __future__ import annotations

from relata_search.documents import SearchDocument, index_terms
from relata_search.index import decode_cursor, encode_cursor
from relata_search.normalise import (
    fold,
    phone_keys,
    postal_keys,
    query_phone,
    query_postal,
    tokens,
)
from relata_search.ranking import (
    EXACT_IDENTIFIER,
    clause_matches,
    match_sources,
    matched_field,
    plan_query,
    within_one_edit,
)

DOCUMENT = SearchDocument(
    relation_id="r1",
    relation_type="person",
    relation_number=100042,
    display_name="Sébastien van der Berg",
    names={"first_name": "Sébastien", "infix": "van der", "last_name": "Berg"},
    organisation_name=None,
    emails=["seb@example.org"],
    phones=["+31612345678"],
    addresses=[{"postal_code": "3511 AB", "house_number": "12a", "city": "Utrecht"}],
)
SOURCES = match_sources(DOCUMENT)


def test_folding_and_tokens():
    assert fold("Sébastien Ærø") == "sebastien aero"
    assert tokens("van der Berg-Sébastien") == ["van", "der", "berg", "sebastien"]
    assert tokens(None) == []


def test_phone_keys_and_typed_numbers():
    assert phone_keys("+31612345678") == ["31612345678", "0612345678", "612345678"]
    for typed in ("0612345678", "06-12 34 56 78", "+31 6 12345678"):
        assert query_phone(typed) == "31612345678"
    assert query_phone("0612") is None


def test_postal_keys():
    assert postal_keys("3511 AB", "12a") == ["3511ab12a", "3511ab"]
    assert query_postal("3511 ab 12A") == "3511ab12a"
    assert query_postal("3511AB") == "3511ab"
    assert query_postal("berg") is None


def test_index_terms():
    terms = index_terms(DOCUMENT)
    assert terms["name"] == ["sebastien", "van", "der", "berg"]
    assert terms["email"] == ["seb@example.org"]
    assert "0612345678" in terms["phone"]
    assert terms["postal"] == ["3511ab12a", "3511ab"]
    assert terms["city"] == ["utrecht"] and terms["number"] == ["100042"]


def test_one_edit():
    assert within_one_edit("bergman", "bregman")  # transposition
    assert within_one_edit("berg", "berk") and within_one_edit("berg", "ber")
    assert not within_one_edit("berg", "brga")


def test_identifier_plans():
    plan = plan_query("0612345678")
    assert plan.words == ()
    assert any(
        c.field == "phone" and c.kind == "term" and c.value == "31612345678"
        for c in plan.identifiers
    )
    plan = plan_query("Seb@Example.org")
    assert plan.identifiers[0].value == "seb@example.org"
    assert plan.identifiers[0].score == EXACT_IDENTIFIER


def test_word_plans_rank_exact_over_prefix_over_typo():
    plan = plan_query("bergen van de ber")
    assert len(plan.words) == 4
    scores = {(c.field, c.kind): c.score for c in plan.words[0]}
    assert scores[("name", "term")] > scores[("name", "prefix")] > scores[("name", "fuzzy")]
    assert scores[("name", "term")] > scores[("city", "term")]
    assert all(c.kind != "fuzzy" for c in plan.words[3])  # too short for a typo
    assert all(c.kind != "prefix" for c in plan.words[2])  # 'de', typed out, is a word


def test_clause_matching():
    plan = plan_query("sebastein")
    assert any(clause_matches(c, "sebastien") for c in plan.words[0] if c.kind == "fuzzy")


def test_matched_field():
    assert matched_field(plan_query("berg"), SOURCES) == ("last_name", "Berg")
    assert matched_field(plan_query("seba"), SOURCES) == ("first_name", "Sébastien")
    assert matched_field(plan_query("utrecht"), SOURCES) == ("city", "Utrecht")
    assert matched_field(plan_query("0612345678"), SOURCES) == ("phone", "+31612345678")
    assert matched_field(plan_query("3511AB12a"), SOURCES) == ("postal_code", "3511 AB 12a")
    assert matched_field(plan_query("100042"), SOURCES) == ("relation_number", "100042")
    assert matched_field(plan_query("nobody"), SOURCES) is None


def test_cursor_round_trip():
    assert decode_cursor(encode_cursor(40)) == 40
    assert decode_cursor(None) == 0

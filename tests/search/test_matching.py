"""Each matching rule against one shared corpus, fed through the broker into the real service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from relata_common.db import drop_database, ensure_database
from relata_common.events import RelationState
from tests.search.conftest import (
    ALL,
    SearchService,
    changed,
    membership,
    relation_state,
    running_search,
    search_settings_for,
)

OTHER_VIEW = uuid.UUID("00000000-0000-0000-0000-0000000000b2")


class Corpus:
    berg: RelationState
    bergman: RelationState
    sebastien: RelationState
    organisation: RelationState
    numbered: RelationState
    phone_alike: RelationState
    hidden: RelationState
    pages: list[RelationState]


@pytest.fixture(scope="module")
async def corpus(
    postgres_server: str, kafka_bootstrap: str, tmp_path_factory
) -> AsyncIterator[tuple[SearchService, Corpus]]:
    database = f"relata_test_{uuid.uuid4().hex[:12]}"
    prefix = f"t{uuid.uuid4().hex[:8]}"
    await ensure_database(f"{postgres_server}/{database}")
    settings = search_settings_for(
        postgres_server, kafka_bootstrap, database, prefix, tmp_path_factory.mktemp("index")
    )
    c = Corpus()
    c.berg = relation_state(
        {
            "first_name": "Jan",
            "infix": "van der",
            "last_name": "Berg",
            "emails": [{"type": "private", "address": "jan.vdberg@example.org"}],
            "phones": [{"type": "mobile", "number": "+31612345678"}],
            "addresses": [
                {"type": "home", "postal_code": "3511 AB", "house_number": "12", "city": "Utrecht"}
            ],
        }
    )
    c.bergman = relation_state(
        {
            "first_name": "Anna",
            "last_name": "Bergman",
            "addresses": [
                {"type": "home", "postal_code": "1012 LG", "house_number": "5", "city": "Amsterdam"}
            ],
        }
    )
    c.sebastien = relation_state(
        {
            "first_name": "Sébastien",
            "last_name": "Dubois",
            "addresses": [{"type": "home", "city": "Den Haag", "country": "NL"}],
        }
    )
    c.organisation = relation_state(
        {
            "organisation_name": "Stichting Groen Licht",
            "emails": [{"type": "work", "address": "info@groenlicht.nl"}],
            "phones": [{"type": "work", "number": "+31201234567"}],
        },
        relation_type="organisation",
    )
    c.numbered = relation_state({"last_name": "Nummer"}, number=612345)
    c.phone_alike = relation_state(
        {"last_name": "Telefoon", "phones": [{"type": "mobile", "number": "+31612345000"}]}
    )
    c.hidden = relation_state({"first_name": "Verborgen", "last_name": "Berg"})
    c.pages = [relation_state({"last_name": "Pagina", "first_name": f"P{i}"}) for i in range(5)]
    async with running_search(settings) as service:
        everyone = [
            c.berg,
            c.bergman,
            c.sebastien,
            c.organisation,
            c.numbered,
            c.phone_alike,
            *c.pages,
        ]
        for state in [*everyone, c.hidden]:
            await service.relation(changed(state, "relation.created"))
        for state in everyone:
            await service.membership(membership(state.relation_id, ALL))
        await service.membership(membership(c.hidden.relation_id, OTHER_VIEW))
        for state in everyone:
            await service.wait_found(str(state.relation_number), state.relation_id)
        await service.wait_found("verborgen", c.hidden.relation_id, views=[OTHER_VIEW])
        yield service, c
    await drop_database(f"{postgres_server}/{database}")


async def first(service: SearchService, q: str, **params) -> dict:
    results = (await service.search(q, **params))["results"]
    assert results, f"nothing found for {q!r}"
    return results[0]


async def test_names_with_infix_are_found_by_last_name_and_full_name(corpus):
    service, c = corpus
    berg = str(c.berg.relation_id)
    assert berg in await service.ids("berg")
    assert (await first(service, "van der berg"))["relation_id"] == berg
    assert (await first(service, "Jan van der Berg"))["relation_id"] == berg
    assert berg in await service.ids("van der b")


async def test_organisation_name(corpus):
    service, c = corpus
    hit = await first(service, "groen lic")
    assert hit["relation_id"] == str(c.organisation.relation_id)
    assert hit["relation_type"] == "organisation"
    assert hit["display_name"] == "Stichting Groen Licht"
    assert hit["matched_field"] == "organisation_name"


async def test_email_exact(corpus):
    service, c = corpus
    hit = await first(service, "Jan.VdBerg@example.org")
    assert hit["relation_id"] == str(c.berg.relation_id)
    assert (hit["matched_field"], hit["matched_value"]) == ("email", "jan.vdberg@example.org")
    assert hit["score"] >= 1000


async def test_phone_normalised_from_national_format(corpus):
    service, c = corpus
    for typed in ("0612345678", "06-12345678", "+31 6 12345678", "0031612345678"):
        hit = await first(service, typed)
        assert hit["relation_id"] == str(c.berg.relation_id), typed
        assert (hit["matched_field"], hit["matched_value"]) == ("phone", "+31612345678")


async def test_postal_code_with_house_number(corpus):
    service, c = corpus
    for typed in ("3511 AB 12", "3511AB12", "3511ab 12"):
        hit = await first(service, typed)
        assert hit["relation_id"] == str(c.berg.relation_id), typed
        assert hit["matched_field"] == "postal_code"
    assert str(c.bergman.relation_id) in await service.ids("1012 LG")


async def test_city(corpus):
    service, c = corpus
    assert (await first(service, "utrecht"))["relation_id"] == str(c.berg.relation_id)
    hit = await first(service, "den haag")
    assert hit["relation_id"] == str(c.sebastien.relation_id)
    assert (hit["matched_field"], hit["matched_value"]) == ("city", "Den Haag")


async def test_relation_number(corpus):
    service, c = corpus
    hit = await first(service, str(c.bergman.relation_number))
    assert hit["relation_id"] == str(c.bergman.relation_id)
    assert hit["matched_field"] == "relation_number"


async def test_one_typo(corpus):
    service, c = corpus
    assert str(c.bergman.relation_id) in await service.ids("bregman")  # transposition
    assert str(c.sebastien.relation_id) in await service.ids("duboid")  # substitution
    assert str(c.organisation.relation_id) in await service.ids("stichtng")  # deletion
    assert await service.ids("bxrgmxn") == []  # two typos are too many


async def test_diacritics_either_way(corpus):
    service, c = corpus
    sebastien = str(c.sebastien.relation_id)
    assert sebastien in await service.ids("Sebastien")
    assert sebastien in await service.ids("sébastien dubois")
    assert sebastien in await service.ids("seba")
    hit = await first(service, "sebastien")
    assert (hit["matched_field"], hit["matched_value"]) == ("first_name", "Sébastien")


async def test_exact_identifier_ranks_first_then_exact_word_then_prefix(corpus):
    service, c = corpus
    # 612345 is one relation's number and the start of another one's phone number.
    ids = await service.ids("612345")
    assert ids[0] == str(c.numbered.relation_id)
    assert str(c.phone_alike.relation_id) in ids[1:]
    # 'berg': the exact last name before the prefix match Bergman.
    ids = await service.ids("berg")
    assert ids.index(str(c.berg.relation_id)) < ids.index(str(c.bergman.relation_id))


async def test_paging_with_cursor(corpus):
    service, c = corpus
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await service.search("pagina", **params)
        seen += [r["relation_id"] for r in page["results"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(s.relation_id) for s in c.pages)
    assert cursor is None
    bad = await service.client.get("/search", params={"q": "x", "views": str(ALL), "cursor": "!"})
    assert bad.status_code == 422


async def test_matched_field_marks_the_name_part(corpus):
    service, c = corpus
    hit = await first(service, "berg")
    assert (hit["matched_field"], hit["matched_value"]) == ("last_name", "Berg")
    hit = await first(service, "jan van")
    assert hit["matched_field"] in {"first_name", "infix"}
    assert hit["display_name"] == "Jan van der Berg"
    assert hit["relation_number"] == c.berg.relation_number


async def test_only_relations_in_the_named_views(corpus):
    service, c = corpus
    hidden = str(c.hidden.relation_id)
    assert hidden not in await service.ids("berg")
    assert hidden in await service.ids("berg", views=[OTHER_VIEW])
    assert hidden in await service.ids("berg", views=[ALL, OTHER_VIEW])
    assert await service.ids("berg", views=[uuid.uuid4()]) == []
    refused = await service.client.get("/search", params={"q": "berg", "views": "nope"})
    assert refused.status_code == 422
    unauthorised = await service.client.get(
        "/search", params={"q": "berg", "views": str(ALL)}, headers={"X-Internal-Token": "x"}
    )
    assert unauthorised.status_code == 403


async def test_only_the_fields_the_caller_may_see_are_matched(corpus):
    service, c = corpus
    berg = str(c.berg.relation_id)
    names_only = {"fields": "first_name,infix,last_name"}
    assert berg in await service.ids("jan utrecht")
    assert berg not in await service.ids("jan utrecht", **names_only)  # the city is hidden
    assert berg not in await service.ids("jan.vdberg@example.org", **names_only)
    assert berg not in await service.ids("3511 AB 12", **names_only)
    assert berg in await service.ids("berg", fields="last_name")
    # The index holds every name part in one field: a hidden first name must not match either.
    assert berg not in await service.ids("jan", fields="last_name")
    hit = await first(service, "jan berg", fields="first_name,last_name")
    assert hit["relation_id"] == berg and hit["matched_field"] in ("first_name", "last_name")
    assert await service.ids("berg", fields="") == []
    refused = await service.client.get(
        "/search", params={"q": "berg", "views": str(ALL), "fields": "last_name,iban"}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["query", "fields"]
    assert "iban" in refused.json()["detail"][0]["msg"]

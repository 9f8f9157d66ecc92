"""Relations created and kept through the gateway alone (no internal token anywhere)."""

from __future__ import annotations

import uuid

import httpx

from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation
from tests.helpers import CATCHING_UP, eventually

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
FORM = [{"name": "Person", "fields": ["first_name", "last_name", "emails", "organisation_name"]}]


async def test_a_relation_created_in_a_view_says_whether_the_view_takes_it_in(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: the answer's in_view not following the view's base filter (an organisation
    created from a view of persons must say false), and the card not following."""
    view = await admin.view("Persons", PERSONS, FORM)
    anna = await admin.user("anna")
    await admin.grant(anna, view, can_edit=True)

    card = await create_relation(gateway, anna, view, first_name="Sanne", last_name="Bakker")
    assert card["display_name"] == "Sanne Bakker"

    outside = await gateway.post(
        f"/views/{view['view_id']}/relations",
        json={"relation_type": "organisation", "fields": {"organisation_name": "Acme"}},
        headers=anna,
    )
    assert outside.status_code == 201, outside.text
    assert outside.json()["in_view"] is False


async def test_creating_needs_an_editable_view_the_form_and_valid_fields(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: creating from a read-only grant, with a field the form hides, or with a bad
    value turning into anything but a 4xx naming the field."""
    view = await admin.view("Persons", PERSONS, FORM)
    bert = await admin.user("bert")
    await admin.grant(bert, view)
    url = f"/views/{view['view_id']}/relations"
    body = {"relation_type": "person", "fields": {"last_name": "Jansen"}}
    assert (await gateway.post(url, json=body, headers=bert)).status_code == 403

    hidden = {"relation_type": "person", "fields": {"last_name": "J", "phones": []}}
    refused = await gateway.post(url, json=hidden, headers=admin.headers)
    assert refused.status_code == 422
    assert "phones" in refused.text

    bad = {"relation_type": "person", "fields": {"last_name": "J", "emails": [{"address": "x"}]}}
    refused = await gateway.post(url, json=bad, headers=admin.headers)
    assert refused.status_code == 422, refused.text
    assert "emails" in refused.text

    strange = {"relation_type": "robot", "fields": {"last_name": "J"}}
    refused = await gateway.post(url, json=strange, headers=admin.headers)
    assert refused.status_code == 422
    assert "relation_type" in refused.text

    other = await admin.user("carla")
    unknown = await gateway.post(url, json=body, headers=other)
    assert unknown.status_code == 404  # a view not granted does not exist for her


# --- helpers -----------------------------------------------------------------------------------

JANSENS = {"kind": "field", "field": "last_name", "op": "equals", "value": "Jansen"}
"""A second view of persons: only those named Jansen."""


def card_url(view: dict, relation: dict) -> str:
    return f"/views/{view['view_id']}/relations/{relation['relation_id']}"


async def card_status(gateway: httpx.AsyncClient, url: str, headers: dict) -> int:
    return (await gateway.get(url, headers=headers)).status_code


async def until_card(gateway: httpx.AsyncClient, url: str, headers: dict, status: int) -> None:
    """Wait until the card answers ``status`` (the lists follow a change within moments)."""

    async def answers() -> bool:
        return await card_status(gateway, url, headers) == status

    await eventually(answers, timeout=CATCHING_UP)


async def until_out_of_lists(gateway: httpx.AsyncClient, url: str, headers: dict) -> None:
    """Wait until the gateway has heard that the relation left the view's lists. (Its card
    answers 404 at once after archiving, by status; presence asks the lists alone.)"""
    await until_card(gateway, f"{url}/presence", headers, 404)


# --- the card's PATCH --------------------------------------------------------------------------


async def test_relation_type_is_refused_wherever_the_patch_puts_it(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: relation_type beside the fields silently ignored with 200 (the card's body
    allowing extra keys), or among the fields answered as a mere field outside the form; and
    any other unknown key beside the fields passing."""
    view = await admin.view("Persons", PERSONS, FORM)
    anna = await admin.user("anna")
    await admin.grant(anna, view, can_edit=True)
    sanne = await create_relation(gateway, anna, view, first_name="Sanne", last_name="Bakker")
    url = card_url(view, sanne)
    if_match = {**anna, "If-Match": sanne["etag"]}

    for body, loc in (
        (
            {"relation_type": "organisation", "fields": {"last_name": "B"}},
            ["body", "relation_type"],
        ),
        ({"fields": {"relation_type": "organisation"}}, ["body", "fields", "relation_type"]),
    ):
        refused = await gateway.patch(url, json=body, headers=if_match)
        assert refused.status_code == 422, refused.text
        assert [e["loc"] for e in refused.json()["detail"]] == [loc]
        assert "never changes" in refused.json()["detail"][0]["msg"]

    strange = await gateway.patch(
        url, json={"fields": {"last_name": "B"}, "colour": "blue"}, headers=if_match
    )
    assert strange.status_code == 422
    assert strange.json()["detail"][0]["loc"] == ["body", "colour"]
    card = (await gateway.get(url, headers=anna)).json()
    assert card["relation_type"] == "person" and card["version"] == sanne["version"]


# --- archiving ---------------------------------------------------------------------------------


async def test_archiving_and_unarchiving_from_the_view(gateway: httpx.AsyncClient, admin: Admin):
    """Catches: archiving without If-Match or with a stale one, from a read-only grant or
    outside the view; an answer naming fields the form hides; and the archived relation, whose
    card is gone, no longer reachable to unarchive from the view that archived it."""
    view = await admin.view("Persons", PERSONS, FORM)
    anna = await admin.user("anna")
    bert = await admin.user("bert")
    await admin.grant(anna, view, can_edit=True)
    await admin.grant(bert, view)
    sanne = await create_relation(gateway, anna, view, first_name="Sanne", last_name="Bakker")
    url = card_url(view, sanne)

    assert (await gateway.post(f"{url}/archive", headers=anna)).status_code == 428
    stale = await gateway.post(f"{url}/archive", headers={**anna, "If-Match": '"99"'})
    assert stale.status_code == 412
    read_only = await gateway.post(f"{url}/archive", headers={**bert, "If-Match": sanne["etag"]})
    assert read_only.status_code == 403

    archived = await gateway.post(f"{url}/archive", headers={**anna, "If-Match": sanne["etag"]})
    assert archived.status_code == 200, archived.text
    shown = archived.json()
    assert shown["status"] == "archived" and shown["display_name"] == "Sanne Bakker"
    assert archived.headers["ETag"] == f'"{shown["version"]}"'
    assert shown["version"] == sanne["version"] + 1
    assert set(shown["tabs"][0]["fields"]) == set(FORM[0]["fields"])
    assert await card_status(gateway, url, anna) == 404  # an archived relation has no card
    await until_out_of_lists(gateway, url, anna)

    back = await gateway.post(f"{url}/unarchive", headers={**anna, "If-Match": '"1"'})
    assert back.status_code == 412  # reachable, but the version is stale
    back = await gateway.post(
        f"{url}/unarchive", headers={**anna, "If-Match": archived.headers["ETag"]}
    )
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "active"
    await until_card(gateway, url, anna, 200)
    assert (await gateway.get(url, headers=anna)).json()["version"] == back.json()["version"]


async def test_an_archived_relation_stays_in_the_views_that_showed_it_when_archived(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: unarchiving (or learning of) an archived relation through a view that never
    showed it, or one it had left before it was archived (no list shows an archived relation,
    so only its last leaving of the view's base list, at the archiving, puts it in scope)."""
    persons = await admin.view("Persons", PERSONS, FORM)
    jansens = await admin.view("Jansens", JANSENS, FORM)
    anna = await admin.user("anna")
    await admin.grant(anna, persons, can_edit=True)
    await admin.grant(anna, jansens, can_edit=True)
    sanne = await create_relation(gateway, anna, persons, first_name="Sanne", last_name="Bakker")
    jan = await create_relation(gateway, anna, persons, first_name="Jan", last_name="Jansen")
    await until_card(gateway, card_url(jansens, jan), anna, 200)

    # Jan leaves the Jansens by a new name, and is archived after that.
    renamed = await gateway.patch(
        card_url(persons, jan),
        json={"fields": {"last_name": "Smit"}},
        headers={**anna, "If-Match": jan["etag"]},
    )
    assert renamed.status_code == 200, renamed.text
    await until_card(gateway, card_url(jansens, jan), anna, 404)
    for relation, etag in ((sanne, sanne["etag"]), (jan, renamed.headers["ETag"])):
        url = card_url(persons, relation)
        archived = await gateway.post(f"{url}/archive", headers={**anna, "If-Match": etag})
        assert archived.status_code == 200, archived.text
        relation["etag"] = archived.headers["ETag"]
        await until_out_of_lists(gateway, url, anna)

    for relation in (sanne, jan):
        elsewhere = f"{card_url(jansens, relation)}/unarchive"
        refused = await gateway.post(elsewhere, headers={**anna, "If-Match": relation["etag"]})
        assert refused.status_code == 404, refused.text
        erasing = await gateway.post(
            f"{card_url(jansens, relation)}/erasure", headers=admin.headers
        )
        assert erasing.status_code == 404
    back = await gateway.post(
        f"{card_url(persons, jan)}/unarchive", headers={**anna, "If-Match": jan["etag"]}
    )
    assert back.status_code == 200, back.text


# --- erasure -----------------------------------------------------------------------------------


async def test_erasure_needs_its_own_right_and_the_view(gateway: httpx.AsyncClient, admin: Admin):
    """Catches: staff erasing without the right relations.erase, erasing outside the view,
    and the erased relation's card still served from the cache."""
    persons = await admin.view("Persons", PERSONS, FORM)
    jansens = await admin.view("Jansens", JANSENS, FORM)
    anna = await admin.user("anna")
    await admin.grant(anna, persons, can_edit=True)
    sanne = await create_relation(gateway, anna, persons, first_name="Sanne", last_name="Bakker")
    url = card_url(persons, sanne)

    refused = await gateway.post(f"{url}/erasure", headers=anna)
    assert refused.status_code == 403
    assert "relations.erase" in refused.text
    outside = await gateway.post(f"{card_url(jansens, sanne)}/erasure", headers=admin.headers)
    assert outside.status_code == 404
    assert (await gateway.get(url, headers=anna)).status_code == 200  # cached now

    erased = await gateway.post(f"{url}/erasure", headers=admin.headers)
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "relation_id": sanne["relation_id"],
        "status": "erased",
        "version": sanne["version"] + 1,
    }
    assert (await gateway.get(url, headers=anna)).status_code == 404  # at once, not eventually
    unknown = f"/views/{persons['view_id']}/relations/{uuid.uuid4()}/erasure"
    assert (await gateway.post(unknown, headers=admin.headers)).status_code == 404


# --- merges ------------------------------------------------------------------------------------

FULL = [{"name": "All", "fields": ["first_name", "last_name", "emails", "phones", "birth_date"]}]
"""A form showing more than FORM: phones and birth dates, which the Persons form hides."""


async def test_merging_two_relations_of_the_view_and_undoing_it(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a preview, a choice or a decision naming a field the form hides (phones,
    birth date); merging, reading or undoing a merge outside the view or without the right
    relations.merge (staff lack it); and the merged relation's card outliving the merge."""
    persons = await admin.view("Persons", PERSONS, FORM)
    jansens = await admin.view("Jansens", JANSENS, FORM)
    everything = await admin.view("Everything", PERSONS, FULL)
    anna = await admin.user("anna")
    await admin.grant(anna, persons, can_edit=True)
    berg = await create_relation(
        gateway,
        admin.headers,
        everything,
        first_name="Jan",
        last_name="Berg",
        emails=[{"address": "jan@example.org"}],
        phones=[{"number": "0612345678"}],
    )
    bergh = await create_relation(
        gateway,
        admin.headers,
        everything,
        first_name="Jan",
        last_name="Bergh",
        emails=[{"address": "jan@acme.example", "type": "work"}],
        phones=[{"number": "020-1234567", "type": "home"}],
        birth_date="1970-05-01",
    )
    for relation in (berg, bergh):
        await until_card(gateway, card_url(persons, relation), anna, 200)
    merges = f"/views/{persons['view_id']}/merges"
    pair = {"survivor_id": berg["relation_id"], "merged_id": bergh["relation_id"]}

    refused = await gateway.get(f"{merges}/preview", params=pair, headers=anna)
    assert refused.status_code == 403 and "relations.merge" in refused.text
    elsewhere = f"/views/{jansens['view_id']}/merges"
    assert (
        await gateway.get(f"{elsewhere}/preview", params=pair, headers=admin.headers)
    ).status_code == 404
    jansen = await create_relation(gateway, admin.headers, jansens, last_name="Jansen")
    for survivor, other in ((jansen, berg), (berg, jansen)):  # one of the two outside
        half = {"survivor_id": survivor["relation_id"], "merged_id": other["relation_id"]}
        outside = await gateway.get(f"{elsewhere}/preview", params=half, headers=admin.headers)
        assert outside.status_code == 404
        outside = await gateway.post(elsewhere, json=half, headers=admin.headers)
        assert outside.status_code == 404
    preview = await gateway.get(f"{merges}/preview", params=pair, headers=admin.headers)
    assert preview.status_code == 200, preview.text
    differences = {d["field"]: d for d in preview.json()["differences"]}
    assert sorted(differences) == ["emails", "last_name"]  # not phones, not the birth date
    assert differences["last_name"]["merged"] == "Bergh"
    assert differences["emails"]["can_keep_both"] is True

    hidden = {**pair, "choices": {"phones": "both", "last_name": "merged"}}
    chosen = await gateway.post(merges, json=hidden, headers=admin.headers)
    assert chosen.status_code == 422
    assert [e["loc"] for e in chosen.json()["detail"]] == [["body", "choices", "phones"]]
    body = {
        **pair,
        "choices": {"last_name": "merged", "emails": "both"},
        "survivor_version": preview.json()["survivor_version"],
    }
    assert (await gateway.post(merges, json=body, headers=anna)).status_code == 403
    stale = {**body, "survivor_version": body["survivor_version"] + 1}
    assert (await gateway.post(merges, json=stale, headers=admin.headers)).status_code == 412
    assert (await gateway.post(elsewhere, json=body, headers=admin.headers)).status_code == 404
    merged = await gateway.post(merges, json=body, headers=admin.headers)
    assert merged.status_code == 201, merged.text
    merge = merged.json()
    assert merged.headers["Location"] == f"{merges}/{merge['merge_id']}"
    assert merge["decisions"] == {"last_name": "merged", "emails": "both"}
    survivor_fields = merge["survivor"]["tabs"][0]["fields"]
    assert survivor_fields["last_name"] == "Bergh" and len(survivor_fields["emails"]) == 2
    assert set(survivor_fields) == set(FORM[0]["fields"])
    assert await card_status(gateway, card_url(persons, bergh), anna) == 404
    card = (await gateway.get(card_url(persons, berg), headers=anna)).json()
    assert card["display_name"] == "Jan Bergh"

    # The merged relation has left the lists: the view it was merged in still has the merge.
    await until_out_of_lists(gateway, card_url(persons, bergh), anna)
    url = f"{merges}/{merge['merge_id']}"
    assert (await gateway.get(url, headers=anna)).status_code == 403
    assert (
        await gateway.get(f"{elsewhere}/{merge['merge_id']}", headers=admin.headers)
    ).status_code == 404
    read = await gateway.get(url, headers=admin.headers)
    assert read.status_code == 200, read.text
    assert read.json() == {**merge, "survivor": None}

    assert (await gateway.post(f"{url}/undo", headers=anna)).status_code == 403
    assert (
        await gateway.post(f"{elsewhere}/{merge['merge_id']}/undo", headers=admin.headers)
    ).status_code == 404
    undone = await gateway.post(f"{url}/undo", headers=admin.headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["survivor"]["display_name"] == "Jan Berg"
    assert undone.json()["restored"]["status"] == "active"
    assert undone.json()["restored"]["display_name"] == "Jan Bergh"
    await until_card(gateway, card_url(persons, bergh), anna, 200)
    assert (await gateway.post(f"{url}/undo", headers=admin.headers)).status_code == 409
    assert (await gateway.get(url, headers=admin.headers)).json()["undone"] is True

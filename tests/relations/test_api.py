"""The relations API against a real PostgreSQL database."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.relations.fixtures import create, organisation, person


async def test_create_person_normalises_fields_and_returns_etag(relations_api: httpx.AsyncClient):
    response = await relations_api.post(
        "/relations",
        json=person(
            "Berg",
            first_name="Jan",
            infix="van der",
            birth_date="1970-05-01",
            phones=[{"type": "mobile", "number": "06 1234 5678"}],
            emails=[{"address": "jan@example.org"}],
            iban="nl91 abna 0417 1643 00",
            addresses=[
                {
                    "street": "Oudegracht",
                    "house_number": "1",
                    "postal_code": "3511ab",
                    "city": "Utrecht",
                }
            ],
        ),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/relations/{body['relation_id']}"
    assert body["version"] == 1 and body["relation_number"] >= 100001
    fields = body["fields"]
    assert fields["phones"] == [{"type": "mobile", "number": "+31612345678"}]
    assert fields["iban"] == "NL91ABNA0417164300"
    assert fields["addresses"][0]["postal_code"] == "3511 AB"
    fetched = await relations_api.get(f"/relations/{body['relation_id']}")
    assert fetched.json() == body and fetched.headers["ETag"] == '"1"'


async def test_invalid_input_names_each_bad_field(relations_api: httpx.AsyncClient):
    response = await relations_api.post(
        "/relations",
        json=person(
            "Berg",
            emails=[{"address": "not-an-address"}],
            phones=[{"number": "12"}],
            iban="NL00ABNA0000000000",
            birth_date="2999-01-01",
            addresses=[{"postal_code": "ABCD 12"}],
        ),
    )
    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert {
        ("body", "fields", "emails", 0, "address"),
        ("body", "fields", "phones", 0, "number"),
        ("body", "fields", "iban"),
        ("body", "fields", "birth_date"),
        ("body", "fields", "addresses", 0, "postal_code"),
    } <= locations


async def test_fields_must_fit_the_relation_type(relations_api: httpx.AsyncClient):
    response = await relations_api.post(
        "/relations", json={"relation_type": "organisation", "fields": {"birth_date": "1990-01-01"}}
    )
    assert response.status_code == 422
    messages = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert messages[("body", "fields", "birth_date")] == "not a field of a organisation"
    assert "organisation name" in messages[("body", "fields", "organisation_name")]


async def test_update_needs_current_version(relations_api: httpx.AsyncClient):
    created = await create(relations_api, person("Berg"))
    url = f"/relations/{created['relation_id']}"
    patch = {"fields": {"first_name": "Jan"}}
    assert (await relations_api.patch(url, json=patch)).status_code == 428
    updated = await relations_api.patch(url, json=patch, headers={"If-Match": '"1"'})
    assert updated.status_code == 200, updated.text
    assert updated.headers["ETag"] == '"2"'
    assert updated.json()["fields"]["first_name"] == "Jan"
    stale = await relations_api.patch(url, json=patch, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2


async def test_archive_keeps_the_relation_and_can_be_undone(relations_api: httpx.AsyncClient):
    created = await create(relations_api, person("Berg", first_name="Jan"))
    url = f"/relations/{created['relation_id']}"
    assert (await relations_api.post(f"{url}/archive")).status_code == 428
    archived = await relations_api.post(f"{url}/archive", headers={"If-Match": '"1"'})
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "archived" and archived.headers["ETag"] == '"2"'
    assert archived.json()["fields"]["first_name"] == "Jan"  # the data stays
    again = await relations_api.post(f"{url}/archive", headers={"If-Match": '"2"'})
    assert again.json()["version"] == 2  # archived already: nothing changes
    stale = await relations_api.post(f"{url}/unarchive", headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    back = await relations_api.post(f"{url}/unarchive", headers={"If-Match": '"2"'})
    assert back.json()["status"] == "active" and back.json()["version"] == 3
    history = (await relations_api.get(f"{url}/history", params={"field": "status"})).json()
    assert [(e["changes"][0]["old"], e["changes"][0]["new"]) for e in history] == [
        ("archived", "active"),
        ("active", "archived"),
    ]


async def test_clearing_a_field_with_null(relations_api: httpx.AsyncClient):
    created = await create(relations_api, person("Berg", first_name="Jan"))
    url = f"/relations/{created['relation_id']}"
    response = await relations_api.patch(
        url, json={"fields": {"first_name": None}}, headers={"If-Match": '"1"'}
    )
    assert "first_name" not in response.json()["fields"]


async def test_relation_type_never_changes(relations_api: httpx.AsyncClient):
    created = await create(relations_api, person())
    response = await relations_api.patch(
        f"/relations/{created['relation_id']}",
        json={"relation_type": "organisation", "fields": {}},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "relation_type"]
    assert "never changes" in response.json()["detail"][0]["msg"]


async def test_unknown_relation_is_404(relations_api: httpx.AsyncClient):
    response = await relations_api.get("/relations/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404


async def test_internal_token_is_required(relations_api: httpx.AsyncClient):
    missing = await relations_api.get("/custom-fields", headers={"X-Internal-Token": ""})
    assert missing.status_code == 403
    transport = relations_api._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://relations") as anonymous:
        assert (await anonymous.get("/custom-fields")).status_code == 401
        assert (await anonymous.get("/health")).status_code == 200
        assert (await anonymous.get("/ready")).json()["status"] == "ready"
    forged = await relations_api.get("/custom-fields", headers={"X-Internal-Token": "forged"})
    assert forged.status_code == 403


async def test_custom_fields_are_typed_and_validated(relations_api: httpx.AsyncClient):
    definitions: list[dict[str, Any]] = [
        {"key": "member_since", "label": "Member since", "type": "date", "applies_to": "person"},
        {
            "key": "membership",
            "label": "Membership",
            "type": "choice",
            "required": True,
            "choices": ["regular", "student", "honorary"],
            "applies_to": "person",
        },
        {
            "key": "employees",
            "label": "Employees",
            "type": "number",
            "min_value": 0,
            "applies_to": "organisation",
        },
        {"key": "newsletter", "label": "Newsletter", "type": "boolean"},
        {"key": "dues", "label": "Annual dues", "type": "money", "min_value": 0},
        {"key": "nickname", "label": "Nickname", "type": "text", "max_length": 10},
    ]
    for definition in definitions:
        response = await relations_api.post("/custom-fields", json=definition)
        assert response.status_code == 201, response.text
    assert (await relations_api.post("/custom-fields", json=definitions[0])).status_code == 409

    good = await relations_api.post(
        "/relations",
        json=person(
            "Berg",
            custom={
                "member_since": "2001-02-03",
                "membership": "student",
                "newsletter": "ja",
                "dues": "12,5",
                "nickname": "Jantje",
            },
        ),
    )
    assert good.status_code == 201, good.text
    assert good.json()["fields"]["custom"] == {
        "member_since": "2001-02-03",
        "membership": "student",
        "newsletter": True,
        "dues": {"amount": "12.50", "currency": "EUR"},
        "nickname": "Jantje",
    }

    bad = await relations_api.post(
        "/relations",
        json=person(
            "Berg",
            custom={
                "member_since": "yesterday",
                "employees": 5,
                "dues": -1,
                "nickname": "far too long name",
                "colour": "red",
            },
        ),
    )
    assert bad.status_code == 422
    errors = {e["loc"][-1]: e["msg"] for e in bad.json()["detail"]}
    assert errors["member_since"].startswith("must be a date")
    assert errors["membership"] == "required"
    assert errors["employees"] == "not a field of a person"
    assert errors["dues"].startswith("less than the minimum")
    assert errors["nickname"].startswith("longer than")
    assert errors["colour"] == "no such custom field"

    changed = await relations_api.put(
        "/custom-fields/membership", json={**definitions[1], "type": "text", "choices": None}
    )
    assert changed.status_code == 422


async def test_custom_value_patch_merges_per_key(relations_api: httpx.AsyncClient):
    for key in ("a", "b"):
        await relations_api.post("/custom-fields", json={"key": key, "label": key, "type": "text"})
    created = await create(relations_api, person("Berg", custom={"a": "x", "b": "y"}))
    response = await relations_api.patch(
        f"/relations/{created['relation_id']}",
        json={"fields": {"custom": {"a": None}}},
        headers={"If-Match": '"1"'},
    )
    assert response.json()["fields"]["custom"] == {"b": "y"}


async def test_history_records_who_changed_what(relations_api: httpx.AsyncClient):
    created = await create(relations_api, person("Berg", first_name="Jan"))
    url = f"/relations/{created['relation_id']}"
    await relations_api.patch(
        url,
        json={"fields": {"first_name": "Johan"}},
        headers={
            "If-Match": '"1"',
            "X-Actor-Kind": "relation",
            "X-Actor-Id": created["relation_id"],
        },
    )
    history = (await relations_api.get(f"{url}/history")).json()
    assert [entry["version"] for entry in history] == [2, 1]
    latest = history[0]
    assert latest["actor"] == {"kind": "relation", "id": created["relation_id"]}
    assert latest["changes"] == [{"field": "first_name", "old": "Jan", "new": "Johan"}]
    assert history[1]["kind"] == "relation.created"
    assert history[1]["actor"] == {"kind": "user", "id": "u1"}
    only_names = (await relations_api.get(f"{url}/history", params={"field": "last_name"})).json()
    assert [entry["version"] for entry in only_names] == [1]


async def test_a_lookup_answers_each_relation_as_reading_it_alone(relations_api: httpx.AsyncClient):
    """Many relations at once: each state as GET /relations/{id} answers it, functions and all,
    in the order asked, each once; unknown ids are left out.

    Catches: a lookup that pairs a relation with another's functions, drops the functions of a
    relation that holds some, or answers in another order or twice for a repeated id."""
    jan = await create(relations_api, person("Berg"))
    acme = await create(relations_api, organisation("Acme BV", coc_number="87654321"))
    piet = await create(relations_api, person("Jansen"))
    for role in ("director", "treasurer"):
        held = await relations_api.post(
            f"/relations/{jan['relation_id']}/functions",
            json={"role": role, "object_id": acme["relation_id"], "start_date": "2021-03-01"},
        )
        assert held.status_code == 201, held.text
    ids = [piet["relation_id"], str(uuid.uuid4()), jan["relation_id"], acme["relation_id"]]
    response = await relations_api.post("/relations/lookup", json={"ids": [*ids, ids[2]]})
    assert response.status_code == 200, response.text
    alone = [(await relations_api.get(f"/relations/{i}")).json() for i in ids if i != ids[1]]
    assert response.json() == alone
    assert [len(state["functions"]) for state in response.json()] == [0, 2, 0]


async def test_functions_link_relations_with_dated_roles(relations_api: httpx.AsyncClient):
    jan = await create(relations_api, person("Berg"))
    acme = await create(relations_api, organisation("Acme BV", coc_number="12345678"))
    response = await relations_api.post(
        f"/relations/{jan['relation_id']}/functions",
        json={"role": "director", "object_id": acme["relation_id"], "start_date": "2020-01-01"},
    )
    assert response.status_code == 201, response.text
    function = response.json()
    assert function["active"] is True

    state = (await relations_api.get(f"/relations/{jan['relation_id']}")).json()
    assert state["version"] == 2
    assert [f["role"] for f in state["functions"]] == ["director"]

    at_acme = await relations_api.get(
        f"/relations/{acme['relation_id']}/functions", params={"side": "object"}
    )
    assert [f["subject_id"] for f in at_acme.json()] == [jan["relation_id"]]

    ended = await relations_api.patch(
        f"/functions/{function['function_id']}", json={"end_date": "2021-01-01"}
    )
    assert ended.json()["active"] is False
    one = await relations_api.get(f"/functions/{function['function_id']}")
    assert one.json() == ended.json()

    wrong_way = await relations_api.post(
        f"/relations/{acme['relation_id']}/functions",
        json={"role": "director", "object_id": jan["relation_id"], "start_date": "2020-01-01"},
    )
    assert wrong_way.status_code == 422
    unknown_role = await relations_api.post(
        f"/relations/{jan['relation_id']}/functions",
        json={"role": "pope", "object_id": acme["relation_id"], "start_date": "2020-01-01"},
    )
    assert unknown_role.status_code == 422
    assert unknown_role.json()["detail"][0]["loc"] == ["body", "role"]

    removed = await relations_api.delete(f"/functions/{function['function_id']}")
    assert removed.status_code == 204
    assert (await relations_api.get(f"/functions/{function['function_id']}")).status_code == 404
    assert (await relations_api.get(f"/relations/{jan['relation_id']}")).json()["functions"] == []

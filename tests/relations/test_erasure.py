"""Erasure on a privacy request (POST /relations/{id}/erasure) against a real database."""

from __future__ import annotations

from typing import Any

import httpx

from tests.relations.db import count, outbox_events
from tests.relations.fixtures import create, organisation, person
from tests.relations.test_merge import give_function, merged_ok, state


async def erase(client: httpx.AsyncClient, relation: dict) -> dict[str, Any]:
    response = await client.post(f"/relations/{relation['relation_id']}/erasure")
    assert response.status_code == 200, response.text
    return response.json()


async def history(client: httpx.AsyncClient, relation: dict) -> list[dict[str, Any]]:
    response = await client.get(f"/relations/{relation['relation_id']}/history")
    assert response.status_code == 200, response.text
    return response.json()


async def test_erasure_leaves_only_a_tombstone(relations_api: httpx.AsyncClient, relations_db: Any):
    await relations_api.post(
        "/custom-fields", json={"key": "note", "label": "Note", "type": "text"}
    )
    jan = await create(
        relations_api,
        {
            **person(
                "Berg",
                first_name="Jan",
                emails=[{"address": "jan@example.org"}],
                custom={"note": "allergic to nuts"},
            ),
            "external_id": "crm-7",
        },
    )
    url = f"/relations/{jan['relation_id']}"
    changed = await relations_api.patch(
        url, json={"fields": {"first_name": "Johan"}}, headers={"If-Match": '"1"'}
    )
    assert changed.status_code == 200
    acme = await create(relations_api, organisation("Acme BV"))
    await give_function(relations_api, jan, "director", acme)

    erased = await erase(relations_api, jan)
    assert erased["status"] == "erased"
    assert erased["fields"] == {} and erased["functions"] == []
    assert erased["external_id"] is None
    assert erased["relation_type"] == "person"
    assert erased["relation_number"] == jan["relation_number"]
    assert erased["version"] == 4
    assert await state(relations_api, jan) == erased
    found = await relations_api.get("/relations", params={"external_id": "crm-7"})
    assert found.json() == []
    assert await count(relations_db, "functions") == 0
    assert await functions_listed(relations_api, acme) == []

    entries = await history(relations_api, jan)
    assert [(e["version"], e["kind"]) for e in entries] == [
        (4, "relation.erased"),
        (3, "relation.updated"),
        (2, "relation.updated"),
        (1, "relation.created"),
    ]
    assert {c["field"] for c in entries[-1]["changes"]} == {
        "first_name",
        "last_name",
        "emails",
        "custom.note",
    }
    assert [c["field"] for c in entries[2]["changes"]] == ["first_name"]
    for entry in entries:
        for change in entry["changes"]:
            assert change["old"] is None and change["new"] is None, entry
    stored = await relations_db.fetchval(
        "SELECT string_agg(changes::text, ' ') FROM relation_changes WHERE relation_id = $1",
        erased["relation_id"],
    )
    for secret in ("Jan", "Johan", "Berg", "jan@example.org", "nuts"):
        assert secret not in stored

    refused = await relations_api.patch(
        url, json={"fields": {"first_name": "Jan"}}, headers={"If-Match": '"4"'}
    )
    assert refused.status_code == 409


async def functions_listed(client: httpx.AsyncClient, relation: dict) -> list[dict]:
    response = await client.get(f"/relations/{relation['relation_id']}/functions")
    assert response.status_code == 200, response.text
    return response.json()


async def test_functions_held_at_an_erased_relation_go_and_their_holders_move_on(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    acme = await create(relations_api, organisation("Acme BV"))
    holding = await create(relations_api, organisation("Acme Holding"))
    jan = await create(relations_api, person("Berg"))
    await give_function(relations_api, jan, "director", acme)
    await give_function(relations_api, jan, "employee", holding)
    await give_function(relations_api, acme, "subsidiary", holding)
    jan_before = await state(relations_api, jan)

    await erase(relations_api, acme)
    jan_after = await state(relations_api, jan)
    assert [(f["role"], f["object_id"]) for f in jan_after["functions"]] == [
        ("employee", holding["relation_id"])
    ]
    assert jan_after["version"] == jan_before["version"] + 1
    assert [f["role"] for f in await functions_listed(relations_api, holding)] == ["employee"]
    updated = [
        e
        for key, e in await outbox_events(relations_db, "relation.updated")
        if key == jan["relation_id"]
    ]
    assert updated[-1].payload["state"] == jan_after


async def test_erasing_twice_is_harmless_and_publishes_one_event(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    jan = await create(relations_api, person("Berg", first_name="Jan"))
    first = await erase(relations_api, jan)
    second = await erase(relations_api, jan)
    assert second == first
    erased_events = await outbox_events(relations_db, "relation.erased")
    assert len(erased_events) == 1
    key, event = erased_events[0]
    assert key == event.subject_id == jan["relation_id"]
    assert event.payload == {"relation_id": jan["relation_id"]}
    assert event.subject_version == first["version"] == 2
    assert len(await history(relations_api, jan)) == 2
    missing = await relations_api.post("/relations/00000000-0000-0000-0000-000000000000/erasure")
    assert missing.status_code == 404


async def test_a_merge_with_an_erased_survivor_cannot_be_undone(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    survivor = await create(relations_api, person("Berg", first_name="Jan"))
    merged = await create(
        relations_api,
        {
            **person("Bergh", birth_date="1970-05-01", emails=[{"address": "jan@example.org"}]),
            "external_id": "old-42",
        },
    )
    result = await merged_ok(relations_api, survivor, merged)
    refused = await relations_api.post(f"/relations/{merged['relation_id']}/erasure")
    assert refused.status_code == 409
    assert refused.json()["merged_into"] == survivor["relation_id"]

    await erase(relations_api, survivor)
    undo = await relations_api.post(f"/merges/{result['merge_id']}/undo")
    assert undo.status_code == 409
    assert "erased" in undo.json()["detail"]
    snapshots = await relations_db.fetchrow(
        "SELECT survivor_before, merged_before FROM merges WHERE id = $1", result["merge_id"]
    )
    assert tuple(snapshots) == (None, None)

    # the merged relation was the same person: its data goes with the survivor's
    tombstone = await state(relations_api, merged)
    assert tombstone["fields"] == {} and tombstone["external_id"] is None
    assert tombstone["status"] == "erased"
    assert (await relations_api.get("/relations", params={"external_id": "old-42"})).json() == []
    for entry in await history(relations_api, merged):
        assert all(c["old"] is None and c["new"] is None for c in entry["changes"])
    erased_keys = {key for key, _ in await outbox_events(relations_db, "relation.erased")}
    assert erased_keys == {survivor["relation_id"], merged["relation_id"]}


async def test_a_merge_with_an_erased_survivor_of_a_later_merge_cannot_be_undone(
    relations_api: httpx.AsyncClient,
):
    first = await create(relations_api, person("Berg"))
    second = await create(relations_api, person("Berg"))
    third = await create(relations_api, person("Berg"))
    earlier = await merged_ok(relations_api, second, first)
    await merged_ok(relations_api, third, second)
    await erase(relations_api, third)
    for relation in (first, second):
        assert (await state(relations_api, relation))["status"] == "erased"
    assert (await relations_api.post(f"/merges/{earlier['merge_id']}/undo")).status_code == 409

"""Merging two relations (POST /merges) and undoing it, against a real PostgreSQL database."""

from __future__ import annotations

from typing import Any

import httpx

from tests.relations.db import outbox_events
from tests.relations.fixtures import create, organisation, person


async def merge(
    client: httpx.AsyncClient, survivor: dict, merged: dict, **body: Any
) -> httpx.Response:
    return await client.post(
        "/merges",
        json={"survivor_id": survivor["relation_id"], "merged_id": merged["relation_id"], **body},
    )


async def merged_ok(client: httpx.AsyncClient, survivor: dict, merged: dict, **body: Any) -> dict:
    response = await merge(client, survivor, merged, **body)
    assert response.status_code == 201, response.text
    return response.json()


async def state(client: httpx.AsyncClient, relation: dict) -> dict[str, Any]:
    response = await client.get(f"/relations/{relation['relation_id']}")
    assert response.status_code == 200, response.text
    return response.json()


def comparable(relation_state: dict[str, Any]) -> dict[str, Any]:
    """A state without what every change moves on: its version and update time."""
    return {k: v for k, v in relation_state.items() if k not in ("version", "updated_at")}


async def give_function(
    client: httpx.AsyncClient, subject: dict, role: str, at: dict, start: str = "2020-01-01"
) -> dict[str, Any]:
    response = await client.post(
        f"/relations/{subject['relation_id']}/functions",
        json={"role": role, "object_id": at["relation_id"], "start_date": start},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def define_text_fields(client: httpx.AsyncClient, *keys: str) -> None:
    for key in keys:
        response = await client.post(
            "/custom-fields", json={"key": key, "label": key, "type": "text"}
        )
        assert response.status_code == 201, response.text


async def two_people(client: httpx.AsyncClient) -> tuple[dict, dict]:
    await define_text_fields(client, "source", "region")
    survivor = await create(
        client,
        person(
            "Berg",
            first_name="Jan",
            emails=[{"address": "jan@example.org"}],
            phones=[{"number": "0612345678"}],
            custom={"source": "website"},
        ),
    )
    merged = await create(
        client,
        person(
            "Bergh",
            infix="van den",
            birth_date="1970-05-01",
            emails=[
                {"address": "jan@acme.example", "type": "work"},
                {"address": "jan@example.org"},
            ],
            phones=[{"number": "020-1234567", "type": "home"}],
            addresses=[
                {
                    "street": "Oudegracht",
                    "house_number": "1",
                    "postal_code": "3511 AB",
                    "city": "Utrecht",
                }
            ],
            custom={"source": "event", "region": "Utrecht"},
        ),
    )
    return survivor, merged


async def test_fields_merge_one_by_one_as_chosen(relations_api: httpx.AsyncClient):
    survivor, merged = await two_people(relations_api)
    result = await merged_ok(
        relations_api,
        survivor,
        merged,
        choices={"last_name": "merged", "emails": "both", "phones": "both"},
    )
    assert result["survivor_id"] == survivor["relation_id"]
    assert result["merged_id"] == merged["relation_id"]
    assert result["undone"] is False
    expected = {
        "first_name": "Jan",
        "infix": "van den",
        "last_name": "Bergh",
        "birth_date": "1970-05-01",
        "emails": [
            {"type": "private", "address": "jan@example.org"},
            {"type": "work", "address": "jan@acme.example"},
        ],
        "phones": [
            {"type": "mobile", "number": "+31612345678"},
            {"type": "home", "number": "+31201234567"},
        ],
        "addresses": merged["fields"]["addresses"],
        "custom": {"source": "website", "region": "Utrecht"},
    }
    assert result["survivor"]["fields"] == expected
    assert result["survivor"]["version"] == 2
    assert (await state(relations_api, survivor))["fields"] == expected
    decisions = {
        "last_name": "merged",
        "first_name": "survivor",
        "infix": "merged",
        "birth_date": "merged",
        "emails": "both",
        "phones": "both",
        "addresses": "merged",
        "custom.source": "survivor",
        "custom.region": "merged",
    }
    assert result["decisions"] == decisions
    stored = (await relations_api.get(f"/merges/{result['merge_id']}")).json()
    assert stored == {**result, "survivor": None}


async def test_a_preview_lists_the_differing_fields_and_changes_nothing(
    relations_api: httpx.AsyncClient,
):
    """Catches: a preview that leaves out a differing field (custom ones included) or gives a
    default other than the merge itself takes (the decisions name exactly the fields that
    differed)."""
    survivor, merged = await two_people(relations_api)
    ids = {"survivor_id": survivor["relation_id"], "merged_id": merged["relation_id"]}
    response = await relations_api.get("/merges/preview", params=ids)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["survivor_version"], preview["merged_version"]) == (1, 1)
    by_field = {d["field"]: d for d in preview["differences"]}
    differing = ["first_name", "last_name", "infix", "birth_date", "emails", "phones"]
    differing += ["addresses", "custom.source", "custom.region"]
    assert sorted(by_field) == sorted(differing)
    assert by_field["last_name"] == {
        "field": "last_name",
        "survivor": "Berg",
        "merged": "Bergh",
        "default": "survivor",
        "can_keep_both": False,
    }
    assert by_field["infix"]["default"] == "merged"  # the survivor has none
    assert by_field["emails"]["can_keep_both"] is True
    result = await merged_ok(relations_api, survivor, merged)
    assert result["decisions"] == {name: d["default"] for name, d in by_field.items()}

    same = await relations_api.get(
        "/merges/preview", params={**ids, "merged_id": survivor["relation_id"]}
    )
    assert same.status_code == 422
    gone = await relations_api.get("/merges/preview", params=ids)
    assert gone.status_code == 409  # the merged relation is a tombstone now


async def test_the_merged_relation_becomes_a_read_only_tombstone(relations_api: httpx.AsyncClient):
    survivor, merged = await two_people(relations_api)
    acme = await create(relations_api, organisation("Acme BV"))
    await merged_ok(relations_api, survivor, merged)
    tombstone = await state(relations_api, merged)
    assert tombstone["status"] == "merged"
    assert tombstone["merged_into"] == survivor["relation_id"]
    assert tombstone["version"] == 2

    url = f"/relations/{merged['relation_id']}"
    patched = await relations_api.patch(
        url, json={"fields": {"first_name": "Piet"}}, headers={"If-Match": '"2"'}
    )
    assert patched.status_code == 409
    assert patched.json()["merged_into"] == survivor["relation_id"]
    function = await relations_api.post(
        f"{url}/functions",
        json={"role": "employee", "object_id": acme["relation_id"], "start_date": "2020-01-01"},
    )
    assert function.status_code == 409
    again = await merge(relations_api, survivor, merged)
    assert again.status_code == 409
    assert (await state(relations_api, merged))["version"] == 2


async def test_impossible_merges_are_refused_and_change_nothing(relations_api: httpx.AsyncClient):
    jan = await create(relations_api, person("Berg"))
    acme = await create(relations_api, organisation("Acme BV"))
    mixed = await merge(relations_api, jan, acme)
    assert mixed.status_code == 422
    assert mixed.json()["detail"][0]["loc"] == ["body", "merged_id"]
    assert (await merge(relations_api, jan, jan)).status_code == 422

    piet = await create(relations_api, person("Groot"))
    both_names = await merge(relations_api, jan, piet, choices={"last_name": "both"})
    assert both_names.status_code == 422
    assert both_names.json()["detail"][0]["loc"] == ["body", "choices", "last_name"]
    unknown = await merge(relations_api, jan, piet, choices={"custom.colour": "merged"})
    assert unknown.status_code == 422
    stale = await merge(relations_api, jan, piet, survivor_version=7)
    assert stale.status_code == 412
    missing = {"relation_id": "00000000-0000-0000-0000-000000000000"}
    assert (await merge(relations_api, jan, missing)).status_code == 404
    for relation in (jan, acme, piet):
        after = await state(relations_api, relation)
        assert after == relation
    unknown_merge = await relations_api.get("/merges/00000000-0000-0000-0000-000000000000")
    assert unknown_merge.status_code == 404


async def organisations_with_functions(client: httpx.AsyncClient) -> dict[str, dict]:
    """Two organisations to merge, and the functions that tie them to others and each other."""
    relations = {
        "survivor": await create(client, organisation("Acme BV", coc_number="12345678")),
        "merged": await create(client, organisation("ACME B.V.", iban="NL91ABNA0417164300")),
        "holding": await create(client, organisation("Acme Holding")),
        "jan": await create(client, person("Berg", first_name="Jan")),
        "piet": await create(client, person("Groot", first_name="Piet")),
    }
    await give_function(client, relations["jan"], "director", relations["merged"])
    await give_function(client, relations["piet"], "employee", relations["survivor"])
    await give_function(client, relations["merged"], "subsidiary", relations["holding"])
    await give_function(
        client, relations["merged"], "member_organisation", relations["survivor"], "2019-06-01"
    )
    return relations


async def functions_at(client: httpx.AsyncClient, relation: dict, side: str) -> list[dict]:
    response = await client.get(
        f"/relations/{relation['relation_id']}/functions", params={"side": side}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_functions_of_the_merged_relation_move_to_the_survivor(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    r = await organisations_with_functions(relations_api)
    jan_before = await state(relations_api, r["jan"])
    result = await merged_ok(relations_api, r["survivor"], r["merged"])
    survivor_id = r["survivor"]["relation_id"]

    survivor = await state(relations_api, r["survivor"])
    assert [(f["role"], f["object_id"]) for f in survivor["functions"]] == [
        ("subsidiary", r["holding"]["relation_id"])
    ]
    assert survivor["fields"]["iban"] == "NL91ABNA0417164300"
    assert survivor["fields"]["organisation_name"] == "Acme BV"
    held_at = await functions_at(relations_api, r["survivor"], "object")
    assert sorted((f["role"], f["subject_id"]) for f in held_at) == sorted(
        [("director", r["jan"]["relation_id"]), ("employee", r["piet"]["relation_id"])]
    )
    jan = await state(relations_api, r["jan"])
    assert [f["object_id"] for f in jan["functions"]] == [survivor_id]
    assert jan["version"] == jan_before["version"] + 1
    holding_side = await functions_at(relations_api, r["holding"], "object")
    assert [f["subject_id"] for f in holding_side] == [survivor_id]
    assert (await state(relations_api, r["merged"]))["functions"] == []
    assert (
        await relations_api.get(f"/relations/{r['merged']['relation_id']}/functions")
    ).status_code == 409

    merged_events = await outbox_events(relations_db, "relation.merged")
    assert len(merged_events) == 1
    key, event = merged_events[0]
    assert key == event.subject_id == r["merged"]["relation_id"]
    assert event.payload["survivor_id"] == survivor_id
    assert event.payload["merged_id"] == r["merged"]["relation_id"]
    assert event.payload["merge_id"] == result["merge_id"]
    assert event.payload["state"]["status"] == "merged"
    assert event.payload["state"]["merged_into"] == survivor_id
    assert event.subject_version == event.payload["state"]["version"]
    updated = {key: e for key, e in await outbox_events(relations_db, "relation.updated")}
    assert updated[survivor_id].payload["state"] == survivor
    assert updated[r["jan"]["relation_id"]].payload["state"] == jan


async def test_undo_restores_both_relations_and_their_functions(
    relations_api: httpx.AsyncClient, relations_db: Any
):
    r = await organisations_with_functions(relations_api)
    await define_text_fields(relations_api, "sector")
    url = f"/relations/{r['merged']['relation_id']}"
    patched = await relations_api.patch(
        url, json={"fields": {"custom": {"sector": "retail"}}}, headers={"If-Match": '"3"'}
    )
    assert patched.status_code == 200, patched.text
    before = {name: await state(relations_api, relation) for name, relation in r.items()}
    listed_before = {
        name: await functions_at(relations_api, relation, "both") for name, relation in r.items()
    }
    result = await merged_ok(
        relations_api, r["survivor"], r["merged"], choices={"organisation_name": "merged"}
    )
    assert result["survivor"]["fields"]["custom"] == {"sector": "retail"}

    undone = await relations_api.post(f"/merges/{result['merge_id']}/undo")
    assert undone.status_code == 200, undone.text
    body = undone.json()
    assert body["restored"]["status"] == "active" and body["restored"]["merged_into"] is None
    for name, relation in r.items():
        after = await state(relations_api, relation)
        assert comparable(after) == comparable(before[name]), name
        assert after["version"] >= before[name]["version"]
        listed = await functions_at(relations_api, relation, "both")
        assert listed == listed_before[name], name
    assert comparable(body["survivor"]) == comparable(before["survivor"])
    assert comparable(body["restored"]) == comparable(before["merged"])

    merge_record = (await relations_api.get(f"/merges/{result['merge_id']}")).json()
    assert merge_record["undone"] is True
    assert (await relations_api.post(f"/merges/{result['merge_id']}/undo")).status_code == 409
    restored_events = await outbox_events(relations_db, "relation.restored")
    assert len(restored_events) == 1
    key, event = restored_events[0]
    assert key == r["merged"]["relation_id"]
    assert event.payload["state"] == await state(relations_api, r["merged"])
    assert "status" in event.payload["changed_fields"]
    editable = await relations_api.patch(
        url,
        json={"fields": {"coc_number": "87654321"}},
        headers={"If-Match": f'"{body["restored"]["version"]}"'},
    )
    assert editable.status_code == 200, editable.text


async def test_undo_of_a_merge_of_two_people_restores_their_fields(
    relations_api: httpx.AsyncClient,
):
    survivor, merged = await two_people(relations_api)
    result = await merged_ok(relations_api, survivor, merged, choices={"emails": "both"})
    undone = await relations_api.post(f"/merges/{result['merge_id']}/undo")
    assert undone.status_code == 200, undone.text
    assert comparable(await state(relations_api, survivor)) == comparable(survivor)
    assert comparable(await state(relations_api, merged)) == comparable(merged)


async def test_undo_is_refused_once_the_survivor_changed(relations_api: httpx.AsyncClient):
    survivor, merged = await two_people(relations_api)
    result = await merged_ok(relations_api, survivor, merged)
    changed = await relations_api.patch(
        f"/relations/{survivor['relation_id']}",
        json={"fields": {"first_name": "Johan"}},
        headers={"If-Match": f'"{result["survivor"]["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    refused = await relations_api.post(f"/merges/{result['merge_id']}/undo")
    assert refused.status_code == 409
    assert refused.json()["survivor_version"] == changed.json()["version"]
    assert (await state(relations_api, merged))["status"] == "merged"
    assert (await state(relations_api, survivor)) == changed.json()
    assert (await relations_api.get(f"/merges/{result['merge_id']}")).json()["undone"] is False
    assert (
        await relations_api.post("/merges/00000000-0000-0000-0000-000000000000/undo")
    ).status_code == 404


async def test_undo_archives_again_a_relation_that_was_archived_when_merged(
    relations_api: httpx.AsyncClient,
):
    survivor, merged = await two_people(relations_api)
    url = f"/relations/{merged['relation_id']}"
    archived = await relations_api.post(
        f"{url}/archive", headers={"If-Match": f'"{merged["version"]}"'}
    )
    assert archived.status_code == 200, archived.text
    result = await merged_ok(relations_api, survivor, merged)

    undone = await relations_api.post(f"/merges/{result['merge_id']}/undo")
    assert undone.status_code == 200, undone.text
    assert undone.json()["restored"]["status"] == "archived"
    history = (await relations_api.get(f"{url}/history", params={"field": "status"})).json()
    statuses = [c for entry in history for c in entry["changes"] if c["field"] == "status"]
    assert [(c["old"], c["new"]) for c in statuses] == [
        ("merged", "archived"),
        ("archived", "merged"),
        ("active", "archived"),
    ]

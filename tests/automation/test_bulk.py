"""Bulk edits over a selection, against the real relations and selections services: a dry run
that changes nothing, the real run as one batch, and its undo that leaves later changes be."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from relata_automation.bulk import Change, fields_patch, plan
from tests.helpers import eventually
from tests.relations.fixtures import create, organisation, person
from tests.selections.conftest import (  # noqa: F401 - the services' fixtures, reused
    lists_api,
    lists_database,
    lists_settings,
    selections_api,
    selections_database,
    selections_settings,
    selections_transports,
)


@pytest.fixture
def automation_transports(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
    lists_api: httpx.AsyncClient,  # noqa: F811
) -> dict[str, Any]:
    return {
        "relations": relations_api._transport,
        "selections": selections_api._transport,
        "lists": lists_api._transport,
    }


async def selection_of(selections: httpx.AsyncClient, relations: list[dict]) -> str:
    response = await selections.post(
        "/selections",
        json={
            "name": "Bulk",
            "source": {"kind": "manual", "relation_ids": [r["relation_id"] for r in relations]},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["selection_id"]


async def field_of(relations: httpx.AsyncClient, relation: dict, name: str) -> Any:
    return (await relations.get(f"/relations/{relation['relation_id']}")).json()["fields"].get(name)


async def test_dry_run_then_run_then_undo(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
    automation_api: httpx.AsyncClient,
):
    dear = await create(relations_api, person("Aa", salutation="Dear"))
    bare = await create(relations_api, person("Bb"))
    done = await create(relations_api, person("Cc", salutation="Beste"))
    selection = await selection_of(selections_api, [dear, bare, done])
    body = {
        "source": {"kind": "selection", "id": selection},
        "change": {"kind": "set_field", "field": "salutation", "value": "Beste"},
    }

    dry = await automation_api.post("/bulk-edits", json=body)
    assert dry.status_code == 200, dry.text
    plan = {p["relation_id"]: p for p in dry.json()["planned"]}
    assert dry.json()["changes"] == 2 and dry.json()["unchanged"] == 1
    assert (plan[dear["relation_id"]]["before"], plan[dear["relation_id"]]["after"]) == (
        "Dear",
        "Beste",
    )
    assert plan[bare["relation_id"]]["before"] is None
    assert plan[done["relation_id"]]["outcome"] == "unchanged"
    assert await field_of(relations_api, dear, "salutation") == "Dear"  # nothing changed

    run = await automation_api.post("/bulk-edits", json={**body, "dry_run": False})
    assert run.status_code == 201, run.text
    batch = run.json()
    assert (batch["changed"], batch["unchanged"], batch["failed"]) == (2, 1, 0)
    assert batch["actor_id"] == "anouk"
    for relation in (dear, bare, done):
        assert await field_of(relations_api, relation, "salutation") == "Beste"
    history = (await relations_api.get(f"/relations/{dear['relation_id']}/history")).json()
    assert history[0]["actor"]["id"] == "anouk"  # through the relations API, with its history

    # Someone changes one of them after the batch: undo leaves that one be.
    current = await relations_api.get(f"/relations/{bare['relation_id']}")
    later = await relations_api.patch(
        f"/relations/{bare['relation_id']}",
        json={"fields": {"first_name": "Bea"}},
        headers={"If-Match": current.headers["ETag"]},
    )
    assert later.status_code == 200

    undone = await automation_api.post(f"/bulk-edits/{batch['batch_id']}/undo")
    assert undone.status_code == 200, undone.text
    report = undone.json()
    assert report["restored"] == 1 and report["conflicts"] == [bare["relation_id"]]
    assert await field_of(relations_api, dear, "salutation") == "Dear"
    assert await field_of(relations_api, bare, "salutation") == "Beste"
    assert await field_of(relations_api, done, "salutation") == "Beste"
    items = (await automation_api.get(f"/bulk-edits/{batch['batch_id']}/items")).json()
    assert {i["relation_id"]: i["undo_outcome"] for i in items} == {
        dear["relation_id"]: "restored",
        bare["relation_id"]: "conflict",
        done["relation_id"]: None,
    }
    again = await automation_api.post(f"/bulk-edits/{batch['batch_id']}/undo")
    assert again.status_code == 409


async def test_add_function_in_bulk_and_undo(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
    automation_api: httpx.AsyncClient,
):
    await relations_api.post(
        "/roles",
        json={
            "code": "volunteer",
            "label": "Volunteer",
            "subject_types": ["person"],
            "object_types": ["organisation"],
        },
    )
    club = await create(relations_api, organisation("Club"))
    people = [await create(relations_api, person(name)) for name in ("Dd", "Ee")]
    selection = await selection_of(selections_api, people)
    run = await automation_api.post(
        "/bulk-edits",
        json={
            "source": {"kind": "selection", "id": selection},
            "change": {
                "kind": "add_function",
                "role": "volunteer",
                "object_id": club["relation_id"],
            },
            "dry_run": False,
        },
    )
    assert run.status_code == 201, run.text
    assert run.json()["changed"] == 2
    for relation in people:
        held = (await relations_api.get(f"/relations/{relation['relation_id']}")).json()
        assert [f["role"] for f in held["functions"]] == ["volunteer"]
    undone = (await automation_api.post(f"/bulk-edits/{run.json()['batch_id']}/undo")).json()
    assert undone["restored"] == 2
    for relation in people:
        held = (await relations_api.get(f"/relations/{relation['relation_id']}")).json()
        assert held["functions"] == []


async def test_archive_in_bulk_and_undo(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
    automation_api: httpx.AsyncClient,
):
    people = [await create(relations_api, person(name)) for name in ("Ff", "Gg")]
    selection = await selection_of(selections_api, people)
    body = {"source": {"kind": "selection", "id": selection}, "change": {"kind": "archive"}}

    async def statuses() -> list[str]:
        urls = [f"/relations/{p['relation_id']}" for p in people]
        return [(await relations_api.get(url)).json()["status"] for url in urls]

    dry = (await automation_api.post("/bulk-edits", json=body)).json()
    assert dry["changes"] == 2 and dry["planned"][0]["after"] == {"status": "archived"}
    assert await statuses() == ["active", "active"]
    run = await automation_api.post("/bulk-edits", json={**body, "dry_run": False})
    assert run.status_code == 201, run.text
    assert run.json()["changed"] == 2
    assert await statuses() == ["archived", "archived"]
    again = (await automation_api.post("/bulk-edits", json=body)).json()
    assert again["unchanged"] == 2  # archived already

    undone = (await automation_api.post(f"/bulk-edits/{run.json()['batch_id']}/undo")).json()
    assert undone["restored"] == 2
    assert await statuses() == ["active", "active"]
    wrong = await automation_api.post(
        "/bulk-edits", json={**body, "change": {"kind": "archive", "field": "last_name"}}
    )
    assert wrong.status_code == 422


async def test_bad_bulk_edits_name_the_field(automation_api: httpx.AsyncClient):
    response = await automation_api.post(
        "/bulk-edits",
        json={
            "source": {"kind": "selection", "id": "00000000-0000-0000-0000-000000000001"},
            "change": {"kind": "set_field", "field": "shoe_size", "value": 44},
        },
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][:2] == ["body", "change"] and "shoe_size" in error["msg"]
    missing = await automation_api.post(
        "/bulk-edits",
        json={
            "source": {"kind": "selection", "id": "00000000-0000-0000-0000-000000000001"},
            "change": {"kind": "clear_field", "field": "salutation"},
        },
    )
    assert missing.status_code == 404


def test_several_fields_make_one_patch_and_only_changed_fields_are_planned():
    state = {
        "relation_id": "00000000-0000-0000-0000-000000000009",
        "version": 3,
        "fields": {"salutation": "Dear", "custom": {"club": "Chess", "level": 2}},
    }
    change = Change(
        kind="set_fields",
        fields={"salutation": "Dear", "custom.club": "Go", "custom.level": None, "infix": None},
    )
    planned = plan(change, state)
    assert planned.outcome == "changes"
    assert planned.before == {"custom.club": "Chess", "custom.level": 2}
    assert planned.after == {"custom.club": "Go", "custom.level": None}
    assert fields_patch(planned.after) == {"custom": {"club": "Go", "level": None}}
    assert fields_patch({"salutation": "Hi", "custom.club": "Go"}) == {
        "salutation": "Hi",
        "custom": {"club": "Go"},
    }
    same = Change(kind="set_fields", fields={"salutation": "Dear", "infix": None})
    assert plan(same, state).outcome == "unchanged"
    with pytest.raises(ValueError, match="shoe_size"):
        Change(kind="set_fields", fields={"shoe_size": 44})


async def test_several_fields_in_the_background_show_progress_and_undo(
    relations_api: httpx.AsyncClient,
    selections_api: httpx.AsyncClient,  # noqa: F811
    automation_api: httpx.AsyncClient,
):
    defined = await relations_api.post(
        "/custom-fields", json={"key": "club", "label": "Club", "type": "text"}
    )
    assert defined.status_code == 201, defined.text
    people = [
        await create(relations_api, person("Hh", custom={"club": "Chess"})),
        await create(relations_api, person("Ii", salutation="Hi")),
    ]
    selection = await selection_of(selections_api, people)
    body = {
        "source": {"kind": "selection", "id": selection},
        "change": {"kind": "set_fields", "fields": {"salutation": "Hi", "custom.club": "Go"}},
        "dry_run": False,
        "background": True,
    }
    started = await automation_api.post("/bulk-edits", json=body)
    assert started.status_code == 202, started.text
    assert started.json()["total"] == 2
    location = started.headers["Location"]

    async def done() -> bool:
        batch = (await automation_api.get(location)).json()
        return batch["status"] == "done"

    await eventually(done)
    batch = (await automation_api.get(location)).json()
    assert (batch["changed"], batch["failed"], batch["finished_at"] is not None) == (2, 0, True)
    values = [await field_of(relations_api, p, "salutation") for p in people]
    clubs = [(await field_of(relations_api, p, "custom"))["club"] for p in people]
    assert (values, clubs) == (["Hi", "Hi"], ["Go", "Go"])

    undone = await automation_api.post(f"{location}/undo")
    assert undone.status_code == 200 and undone.json()["restored"] == 2
    assert [await field_of(relations_api, p, "salutation") for p in people] == [None, "Hi"]
    custom = [await field_of(relations_api, p, "custom") for p in people]
    assert [(c or {}).get("club") for c in custom] == ["Chess", None]

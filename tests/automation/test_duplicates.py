"""Duplicates against the real relations service: found when relations are created or change,
scored with reasons, reviewed (decisions remembered), merged by rule, and found in batch."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from tests.automation.conftest import pairs_with, queue, unique
from tests.helpers import CATCHING_UP, eventually
from tests.relations.fixtures import create


def birth_date() -> str:
    """A birth date of this test's own (tests share the broker, see ``unique``)."""
    return f"{random.randint(1900, 2000)}-{random.randint(1, 12):02}-{random.randint(1, 28):02}"


def jan(email: str, **fields: Any) -> dict[str, Any]:
    values = {
        "first_name": "Jan",
        "last_name": unique("Berg"),
        "birth_date": birth_date(),
        "emails": [{"address": email}],
    }
    return {"relation_type": "person", "fields": {**values, **fields}}


async def patch(relations: httpx.AsyncClient, relation: dict, fields: dict) -> dict:
    response = await relations.patch(
        f"/relations/{relation['relation_id']}",
        json={"fields": fields},
        headers={"If-Match": f'"{relation["version"]}"'},
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("automation_worker")
async def test_found_on_create_scored_with_reasons_and_rescored_on_change(
    relations_api: httpx.AsyncClient, automation_api: httpx.AsyncClient
):
    email = f"{unique('jan')}@example.org"
    first = await create(relations_api, jan(email))
    born = first["fields"]["birth_date"]
    twin = await create(
        relations_api,
        jan(email, last_name=first["fields"]["last_name"], first_name="J.", birth_date=born),
    )
    [pair] = await pairs_with(automation_api, twin["relation_id"])
    assert {pair["first_id"], pair["second_id"]} == {first["relation_id"], twin["relation_id"]}
    assert pair["stars"] >= 4
    assert pair["found_by"] == "relation.created"
    reasons = {r["reason"]: r["points"] for r in pair["reasons"]}
    assert reasons["same e-mail address"] > 0
    assert reasons["same birth date"] > 0
    assert any(p["pair_id"] == pair["pair_id"] for p in await queue(automation_api))

    # The twin's birth date is corrected by one digit: the pair is scored again, lower.
    typo = born[:-1] + ("1" if born[-1] != "1" else "2")
    twin = await patch(relations_api, twin, {"birth_date": typo})

    async def rescored() -> bool:
        now = (await automation_api.get(f"/duplicates/{pair['pair_id']}")).json()
        return now["points"] < pair["points"]

    await eventually(rescored, timeout=CATCHING_UP)
    now = (await automation_api.get(f"/duplicates/{pair['pair_id']}")).json()
    assert {
        "points": 1,
        "reason": "birth date one typing error apart",
        "fields": ["birth_date"],
    } in now["reasons"]

    # Then it turns out to be another birth date altogether: no longer a candidate.
    await patch(relations_api, twin, {"birth_date": "1988-11-23"})

    async def dropped() -> bool:
        return (await automation_api.get(f"/duplicates/{pair['pair_id']}")).status_code == 404

    await eventually(dropped, timeout=CATCHING_UP)


@pytest.mark.usefixtures("automation_worker")
async def test_not_a_duplicate_is_remembered(
    relations_api: httpx.AsyncClient, automation_api: httpx.AsyncClient
):
    email = f"{unique('twin')}@example.org"
    one = await create(relations_api, jan(email))
    two = await create(
        relations_api, jan(email, first_name="Joost", birth_date=one["fields"]["birth_date"])
    )
    [pair] = await pairs_with(automation_api, two["relation_id"])
    refused = await automation_api.post(
        f"/duplicates/{pair['pair_id']}/decision",
        json={"decision": "merge"},
    )
    assert refused.status_code == 422
    assert "survivor_id" in refused.text
    decided = await automation_api.post(
        f"/duplicates/{pair['pair_id']}/decision", json={"decision": "not_duplicate"}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "rejected"
    assert decided.json()["decided_by"] == "user:anouk"
    again = await automation_api.post(
        f"/duplicates/{pair['pair_id']}/decision", json={"decision": "not_duplicate"}
    )
    assert again.status_code == 409

    # A change to either relation, and a batch run, never bring the pair back.
    changed = await patch(relations_api, one, {"first_name": "Joost"})

    async def seen() -> bool:
        rows = await automation_api.get("/duplicates", params={"status": "rejected"})
        return any(p["pair_id"] == pair["pair_id"] for p in rows.json()["pairs"])

    await eventually(seen, timeout=CATCHING_UP)
    await _run_batch(automation_api)
    assert (await automation_api.get(f"/duplicates/{pair['pair_id']}")).json()[
        "status"
    ] == "rejected"
    left = await automation_api.get(f"/relations/{changed['relation_id']}/duplicates")
    assert left.json() == []


@pytest.mark.usefixtures("automation_worker")
async def test_review_merge_goes_through_the_relations_service(
    relations_api: httpx.AsyncClient, automation_api: httpx.AsyncClient
):
    email = f"{unique('merge')}@example.org"
    keep = await create(relations_api, jan(email, phones=[{"number": "0612345678"}]))
    dup = await create(
        relations_api,
        jan(
            email,
            last_name=keep["fields"]["last_name"],
            birth_date=keep["fields"]["birth_date"],
        ),
    )
    [pair] = await pairs_with(automation_api, dup["relation_id"])
    decided = await automation_api.post(
        f"/duplicates/{pair['pair_id']}/decision",
        json={"decision": "merge", "survivor_id": keep["relation_id"]},
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "merged" and body["merge_id"]
    gone = (await relations_api.get(f"/relations/{dup['relation_id']}")).json()
    assert gone["status"] == "merged" and gone["merged_into"] == keep["relation_id"]
    merge = (await relations_api.get(f"/merges/{body['merge_id']}")).json()
    assert merge["survivor_id"] == keep["relation_id"]


@pytest.mark.usefixtures("automation_worker")
async def test_a_merge_rule_merges_the_one_candidate_automatically(
    relations_api: httpx.AsyncClient, automation_api: httpx.AsyncClient
):
    bad = await automation_api.post(
        "/merge-rules",
        json={"name": "x", "match_fields": ["shoe_size"], "keep": {"emails": "sometimes"}},
    )
    assert bad.status_code == 422
    locs = [e["loc"] for e in bad.json()["detail"]]
    assert ["body", "match_fields", 0] in locs and ["body", "keep", "emails"] in locs

    # Two alike relations exist before the rule does.
    email2 = f"{unique('two')}@example.org"
    name, born = unique("Twee"), birth_date()
    a = await create(relations_api, jan(email2, last_name=name, birth_date=born))
    b = await create(relations_api, jan(email2, last_name=name, first_name="Jo", birth_date=born))
    await pairs_with(automation_api, b["relation_id"])

    rule = await automation_api.post(
        "/merge-rules",
        json={
            "name": "Same e-mail and birth date",
            "match_fields": ["email", "birth_date"],
            "keep": {"first_name": "new"},
            "min_stars": 3,
        },
    )
    assert rule.status_code == 201, rule.text
    email = f"{unique('rule')}@example.org"
    existing = await create(relations_api, jan(email))
    await pairs_with(automation_api, existing["relation_id"], count=0)
    new = await create(
        relations_api,
        jan(
            email,
            last_name=existing["fields"]["last_name"],
            first_name="Johannes",
            birth_date=existing["fields"]["birth_date"],
        ),
    )

    async def merged() -> bool:
        state = (await relations_api.get(f"/relations/{new['relation_id']}")).json()
        return state["status"] == "merged"

    await eventually(merged, timeout=CATCHING_UP)
    survivor = (await relations_api.get(f"/relations/{existing['relation_id']}")).json()
    assert survivor["fields"]["first_name"] == "Johannes"  # the rule keeps the new first name

    async def resolved() -> list[dict]:
        rows = await automation_api.get("/duplicates", params={"status": "merged"})
        return [p for p in rows.json()["pairs"] if p["survivor_id"] == existing["relation_id"]]

    await eventually(lambda: _truthy(resolved()), timeout=CATCHING_UP)
    [pair] = await resolved()
    assert pair["rule_id"] == rule.json()["rule_id"]

    # Two existing relations meet the rule: no automatic merge, both wait for review.
    c = await create(
        relations_api, jan(email2, last_name=name, first_name="Janneke", birth_date=born)
    )
    pairs = await pairs_with(automation_api, c["relation_id"], count=2)
    assert all("2 candidates" in (p["note"] or "") for p in pairs)
    for relation in (a, b, c):
        state = (await relations_api.get(f"/relations/{relation['relation_id']}")).json()
        assert state["status"] == "active"


async def _truthy(awaitable: Any) -> bool:
    return bool(await awaitable)


async def _run_batch(client: httpx.AsyncClient) -> dict:
    started = await client.post("/duplicates/batch")
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    done: dict = {}

    async def finished() -> bool:
        nonlocal done
        done = (await client.get(f"/duplicates/batch/{run_id}")).json()
        return done["finished_at"] is not None

    await eventually(finished, timeout=CATCHING_UP)
    return done


@pytest.mark.usefixtures("automation_worker")
async def test_batch_run_and_check_before_creating(
    relations_api: httpx.AsyncClient,
    automation_api: httpx.AsyncClient,
    automation_sessions: Any,
):
    name, born = unique("Batch"), birth_date()
    phone = "0687654321"
    made = [
        await create(
            relations_api,
            {
                "relation_type": "person",
                "fields": {
                    "first_name": first,
                    "last_name": name,
                    "birth_date": born,
                    "addresses": [{"postal_code": "1234 AB", "house_number": "5"}],
                    **({"phones": [{"number": phone}]} if first == "Kees" else {}),
                },
            },
        )
        for first in ("Kees", "Kees", "Karel")
    ]
    await pairs_with(automation_api, made[0]["relation_id"], count=2)
    # Forget the pairs found on creation: the batch must find them again by itself.
    from sqlalchemy import text

    async with automation_sessions() as session, session.begin():
        await session.execute(text("DELETE FROM duplicate_pairs"))
    done = await _run_batch(automation_api)
    assert done["candidates"] >= 3 and done["proposed"] >= 2
    ids = {r["relation_id"] for r in made}
    found = [p for p in await queue(automation_api, limit=500) if p["first_id"] in ids]
    assert len(found) >= 2 and all(p["found_by"] == "batch" for p in found)
    assert found[0]["stars"] >= found[-1]["stars"]

    check = await automation_api.post(
        "/duplicates/check",
        json={
            "relation_type": "person",
            "fields": {"first_name": "Kees", "last_name": name, "birth_date": born},
        },
    )
    assert check.status_code == 200, check.text
    assert {c["relation_id"] for c in check.json()} >= {made[0]["relation_id"]}
    assert check.json()[0]["stars"] >= 3


def itself(relation: dict) -> dict[str, str]:
    """Headers of a change the relation makes itself, through self-service (logged in)."""
    return {"X-Actor-Kind": "relation", "X-Actor-Id": relation["relation_id"]}


@pytest.mark.usefixtures("automation_worker")
async def test_two_relations_with_a_self_service_login_are_never_merged(
    relations_api: httpx.AsyncClient, automation_api: httpx.AsyncClient
):
    """Catches: a reviewer's merge or a merge rule taking one of two logins away (the guard
    removed from review.decide; or from both the rule's choice of pairs and the merge it
    queues, which each hold it)."""
    rule = await automation_api.post(
        "/merge-rules", json={"name": "Same e-mail", "match_fields": ["email"], "min_stars": 2}
    )
    assert rule.status_code == 201, rule.text
    email = f"{unique('login')}@example.org"
    mine = await create(relations_api, jan(email))
    changed = await relations_api.patch(
        f"/relations/{mine['relation_id']}",
        json={"fields": {"phones": [{"number": "0611111111"}]}},
        headers={"If-Match": f'"{mine["version"]}"', **itself(mine)},
    )
    assert changed.status_code == 200, changed.text
    # The second signs up through self-service: it holds a login from its creation on.
    signed_up = await relations_api.post(
        "/relations",
        json=jan(email, last_name=mine["fields"]["last_name"]),
        headers={"X-Actor-Kind": "relation"},
    )
    assert signed_up.status_code == 201, signed_up.text
    theirs = signed_up.json()
    [pair] = await pairs_with(automation_api, theirs["relation_id"])

    async def noted() -> bool:
        now = (await automation_api.get(f"/duplicates/{pair['pair_id']}")).json()
        return "self-service login" in (now["note"] or "")

    await eventually(noted, timeout=CATCHING_UP)
    refused = await automation_api.post(
        f"/duplicates/{pair['pair_id']}/decision",
        json={"decision": "merge", "survivor_id": mine["relation_id"]},
    )
    assert refused.status_code == 409, refused.text
    assert "self-service login" in refused.text
    for relation in (mine, theirs):
        state = (await relations_api.get(f"/relations/{relation['relation_id']}")).json()
        assert state["status"] == "active"

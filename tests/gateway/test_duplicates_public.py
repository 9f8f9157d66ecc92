"""The duplicate review queue through the gateway: per view (both relations in it), compared
with the form's fields only, decided by merging (a value chosen per field) or as "not a
duplicate". Staff lack duplicates.review by default."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.automation.conftest import (  # noqa: F401 - the automation service's fixtures
    automation_api,
    automation_database,
    automation_settings,
    automation_transports,
    automation_worker,
)
from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation
from tests.helpers import CATCHING_UP, eventually

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
HIDDEN = "fields this view does not show"


@pytest.fixture
def extra_services(automation_api: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:  # noqa: F811
    return {"automation": automation_api}


def in_city(city: str) -> dict[str, Any]:
    return {"all": [PERSONS, {"kind": "field", "field": "city", "op": "equals", "value": city}]}


ANN = {"last_name": "Jansen", "birth_date": "1979-06-14", "street": "Neude", "postal": "3512 AD"}
BOB = {"last_name": "Visser", "birth_date": "1990-01-02", "street": "Kade", "postal": "8011 AB"}


def alike(family: dict[str, str], city: str, email: str, first_name: str) -> dict[str, Any]:
    """A person of one family of look-alikes (the two families are nothing alike)."""
    return {
        "first_name": first_name,
        "last_name": family["last_name"],
        "birth_date": family["birth_date"],
        "emails": [{"address": email}],
        "addresses": [
            {
                "street": family["street"],
                "house_number": "3",
                "postal_code": family["postal"],
                "city": city,
            }
        ],
    }


async def _pairs(gateway: httpx.AsyncClient, headers: dict, view: dict, **params: Any) -> dict:
    page = await gateway.get(f"/views/{view['view_id']}/duplicates", params=params, headers=headers)
    assert page.status_code == 200, page.text
    return page.json()


@pytest.mark.usefixtures("automation_worker")
async def test_the_queue_of_a_view_and_deciding_its_pairs(gateway: httpx.AsyncClient, admin: Admin):
    """Catches: pairs with a relation outside the view listed or decidable through it (404),
    reasons or values of fields the form hides shown, a decision without duplicates.review."""
    suffix = uuid.uuid4().hex[:6]
    utrecht, zwolle = f"Utrecht {suffix}", f"Zwolle {suffix}"
    names = ["first_name", "last_name", "emails", "addresses"]
    local = await admin.view("Utrecht", in_city(utrecht), [{"name": "P", "fields": names}])
    everyone = await admin.view(
        "Everyone", PERSONS, [{"name": "P", "fields": [*names, "birth_date"]}]
    )
    staff = await admin.user("stijn")
    await admin.grant(staff, local, can_edit=True)

    ann_mail, bob_mail = f"ann-{suffix}@example.org", f"bob-{suffix}@example.org"
    ann = await create_relation(
        gateway, admin.headers, everyone, **alike(ANN, utrecht, ann_mail, "Anne")
    )
    anneke = await create_relation(
        gateway, admin.headers, everyone, **alike(ANN, utrecht, ann_mail, "Anneke")
    )
    await create_relation(gateway, admin.headers, everyone, **alike(BOB, utrecht, bob_mail, "Bob"))
    await create_relation(gateway, admin.headers, everyone, **alike(BOB, zwolle, bob_mail, "Bob"))

    async def both_pairs() -> bool:
        return len((await _pairs(gateway, admin.headers, everyone))["pairs"]) == 2

    async def one_pair_here() -> bool:
        return len((await _pairs(gateway, admin.headers, local))["pairs"]) == 1

    await eventually(both_pairs, timeout=CATCHING_UP)
    await eventually(one_pair_here, timeout=CATCHING_UP)
    page = await _pairs(gateway, admin.headers, local)
    [pair] = page["pairs"]  # Bob's pair has a relation in Zwolle: not this view's
    assert page["next_cursor"] is None
    assert {r["relation_id"] for r in pair["relations"]} == {
        ann["relation_id"],
        anneke["relation_id"],
    }
    assert all(set(r["fields"]) == set(names) for r in pair["relations"])
    reasons = {r["reason"]: r["points"] for r in pair["reasons"]}
    assert "same e-mail address" in reasons and "same birth date" not in reasons
    assert reasons[HIDDEN] == 3 and "1979" not in str(page)
    wide = (await _pairs(gateway, admin.headers, everyone))["pairs"]
    assert all("same birth date" in {r["reason"] for r in p["reasons"]} for p in wide)
    [bobs] = [p for p in wide if p["pair_id"] != pair["pair_id"]]

    # Paged: one at a time, the cursor leads to the other.
    first = await _pairs(gateway, admin.headers, everyone, limit=1)
    second = await _pairs(gateway, admin.headers, everyone, limit=1, cursor=first["next_cursor"])
    assert {p["pair_id"] for p in first["pairs"] + second["pairs"]} == {
        pair["pair_id"],
        bobs["pair_id"],
    }

    # Staff lack the right; outside the view a pair does not exist.
    base = f"/views/{local['view_id']}/duplicates"
    assert (await gateway.get(base, headers=staff)).status_code == 403
    reject = {"decision": "not_duplicate"}
    refused = await gateway.post(f"{base}/{pair['pair_id']}/decision", json=reject, headers=staff)
    assert refused.status_code == 403
    assert (
        await gateway.get(f"{base}/{bobs['pair_id']}", headers=admin.headers)
    ).status_code == 404
    outside = await gateway.post(
        f"{base}/{bobs['pair_id']}/decision", json=reject, headers=admin.headers
    )
    assert outside.status_code == 404

    # Not a duplicate: decided in the view that shows both, gone from the queue for good.
    wide_base = f"/views/{everyone['view_id']}/duplicates"
    rejected = await gateway.post(
        f"{wide_base}/{bobs['pair_id']}/decision", json=reject, headers=admin.headers
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    again = await gateway.post(
        f"{wide_base}/{bobs['pair_id']}/decision", json=reject, headers=admin.headers
    )
    assert again.status_code == 404
    assert [p["pair_id"] for p in (await _pairs(gateway, admin.headers, everyone))["pairs"]] == [
        pair["pair_id"]
    ]

    # Merge, choosing per field; only fields of the form, the survivor one of the two.
    url = f"{base}/{pair['pair_id']}/decision"
    merge = {"decision": "merge", "survivor_id": ann["relation_id"]}
    hidden = await gateway.post(
        url, json={**merge, "choices": {"birth_date": "merged"}}, headers=admin.headers
    )
    assert hidden.status_code == 422 and hidden.json()["detail"][0]["loc"] == ["body", "choices"]
    stranger = await gateway.post(
        url, json={**merge, "survivor_id": str(uuid.uuid4())}, headers=admin.headers
    )
    assert stranger.status_code == 422
    merged = await gateway.post(
        url, json={**merge, "choices": {"first_name": "merged"}}, headers=admin.headers
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == "merged" and merged.json()["merge_id"]
    card = f"/views/{local['view_id']}/relations"
    survivor = await gateway.get(f"{card}/{ann['relation_id']}", headers=admin.headers)
    assert survivor.json()["tabs"][0]["fields"]["first_name"] == "Anneke"
    assert (
        await gateway.get(f"{card}/{anneke['relation_id']}", headers=admin.headers)
    ).status_code == 404
    assert (await _pairs(gateway, admin.headers, local))["pairs"] == []

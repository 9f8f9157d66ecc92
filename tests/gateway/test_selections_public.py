"""Selections through the gateway alone: refreshed daily at a chosen time, refreshed just
before a mailing (by a user or a mailing module's API key) with the fresh members and who came
and went, renamed and deleted. Changing needs edit rights in the view (read-only: 403); a
selection of another view is not there (404)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation
from tests.helpers import CATCHING_UP, eventually
from tests.selections.conftest import (  # noqa: F401 - fixtures used through pytest
    selections_api,
    selections_database,
    selections_settings,
    selections_transports,
    town,
)

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
TABS = [{"name": "Person", "fields": ["first_name", "last_name", "addresses"]}]


@pytest.fixture
def extra_services(selections_api: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:  # noqa: F811
    return {"selections": selections_api}


def in_city(city: str) -> dict[str, Any]:
    return {"kind": "field", "field": "city", "op": "equals", "value": city}


async def test_daily_time_mailing_refresh_rename_and_delete(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a read-only user (or another view) changing, refreshing or deleting a
    selection; a daily time that is not kept; a mailing refresh that answers stale members."""
    view = await admin.view("Newsletter", PERSONS, TABS)
    other = await admin.view("Elsewhere", PERSONS, TABS)
    v = view["view_id"]
    anna = await admin.user("anna")
    bert = await admin.user("bert")
    await admin.grant(anna, view, can_edit=True)
    await admin.grant(bert, view)
    await admin.grant(anna, other, can_edit=True)
    city = town("Utrecht")
    saved = await gateway.post(
        f"/views/{v}/lists", json={"name": "Utrecht", "filter": in_city(city)}, headers=anna
    )
    assert saved.status_code == 201, saved.text
    utrecht = saved.json()["list_id"]
    ida = await create_relation(
        gateway, anna, view, first_name="Ida", last_name="Bakker", addresses=[{"city": city}]
    )

    async def ida_in() -> bool:
        page = await gateway.get(f"/views/{v}/lists/{utrecht}/members", headers=anna)
        return [r["relation_id"] for r in page.json()["relations"]] == [ida["relation_id"]]

    await eventually(ida_in, timeout=CATCHING_UP)
    made = await gateway.post(
        f"/views/{v}/selections", json={"name": "December", "list_id": utrecht}, headers=anna
    )
    assert made.status_code == 201, made.text
    s = f"/views/{v}/selections/{made.json()['selection_id']}"
    elsewhere = f"/views/{other['view_id']}/selections/{made.json()['selection_id']}"

    # Daily at half past six, and renamed; read-only and other views may not.
    assert (await gateway.patch(s, json={"daily_at": "06:30"}, headers=bert)).status_code == 403
    assert (
        await gateway.patch(elsewhere, json={"daily_at": "06:30"}, headers=anna)
    ).status_code == 404
    daily = await gateway.patch(s, json={"daily_at": "06:30", "name": "January"}, headers=anna)
    assert daily.status_code == 200, daily.text
    assert (daily.json()["daily_refresh"], daily.json()["daily_at"]) == (True, "06:30:00")
    detail = (await gateway.get(s, headers=bert)).json()
    assert (detail["name"], detail["daily_at"]) == ("January", "06:30:00")
    bad = await gateway.patch(s, json={"daily_at": "25:00"}, headers=anna)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "daily_at"]

    # Ida moves away, Jan moves in: the mailing refresh answers with who is in now.
    jan = await create_relation(
        gateway, anna, view, first_name="Jan", last_name="Smit", addresses=[{"city": city}]
    )
    moved = await gateway.patch(
        f"/views/{v}/relations/{ida['relation_id']}",
        json={"fields": {"addresses": [{"city": "Zeist"}]}},
        headers={**anna, "If-Match": ida["etag"]},
    )
    assert moved.status_code == 200, moved.text

    async def jan_only() -> bool:
        page = await gateway.get(f"/views/{v}/lists/{utrecht}/members", headers=anna)
        return [r["relation_id"] for r in page.json()["relations"]] == [jan["relation_id"]]

    await eventually(jan_only, timeout=CATCHING_UP)
    assert (await gateway.post(f"{s}/mailing-refresh", headers=bert)).status_code == 403
    assert (await gateway.post(f"{elsewhere}/mailing-refresh", headers=anna)).status_code == 404
    created = await gateway.post(
        f"/users/{anna['X-User-Id']}/api-keys", json={"name": "mailing"}, headers=admin.headers
    )
    module = {"X-API-Key": created.json()["key"]}
    fresh = await gateway.post(f"{s}/mailing-refresh", headers=module)
    assert fresh.status_code == 200, fresh.text
    answer = fresh.json()
    assert answer["member_count"] == 1
    assert answer["relations"] == [{"relation_id": jan["relation_id"], "display_name": "Jan Smit"}]
    assert answer["refresh"]["trigger"] == "mailing"
    assert answer["refresh"]["added"] == answer["relations"]
    assert answer["refresh"]["removed"] == [
        {"relation_id": ida["relation_id"], "display_name": "Ida Bakker"}
    ]

    # Deleted: gone from the view; read-only users and other views may not.
    assert (await gateway.delete(s, headers=bert)).status_code == 403
    assert (await gateway.delete(elsewhere, headers=anna)).status_code == 404
    assert (await gateway.delete(s, headers=anna)).status_code == 204
    assert (await gateway.get(s, headers=anna)).status_code == 404
    assert (await gateway.get(f"/views/{v}/selections", headers=anna)).json() == []

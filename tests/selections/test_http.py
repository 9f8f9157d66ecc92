"""HTTP conventions: ETag and If-Match, 404s, the internal service token."""

from __future__ import annotations

import uuid

import httpx

from tests.relations.fixtures import create, person
from tests.selections.conftest import create_selection


async def test_if_match_guards_changes(
    relations_api: httpx.AsyncClient, selections_api: httpx.AsyncClient
):
    jan = await create(relations_api, person("Jansen"))
    selection = await create_selection(selections_api, "Board", {"kind": "manual"})
    url = f"/selections/{selection['selection_id']}"
    read = await selections_api.get(url)
    assert read.headers["ETag"] == '"1"'

    without = await selections_api.patch(url, json={"name": "Board 2"})
    assert without.status_code == 428
    stale = await selections_api.patch(url, json={"name": "Board 2"}, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 1
    renamed = await selections_api.patch(url, json={"name": "Board 2"}, headers={"If-Match": '"1"'})
    assert renamed.status_code == 200
    assert renamed.headers["ETag"] == '"2"'
    assert renamed.json()["name"] == "Board 2"

    body = {"relation_ids": [jan["relation_id"]]}
    assert (await selections_api.post(f"{url}/members", json=body)).status_code == 428
    stale_add = await selections_api.post(f"{url}/members", json=body, headers={"If-Match": '"1"'})
    assert stale_add.status_code == 412
    assert (
        await selections_api.post(f"{url}/members/removal", json=body, headers={"If-Match": '"1"'})
    ).status_code == 412
    daily = await selections_api.patch(
        url, json={"daily_refresh": True}, headers={"If-Match": '"2"'}
    )
    assert daily.status_code == 409
    assert (await selections_api.delete(url)).status_code == 428
    assert (await selections_api.delete(url, headers={"If-Match": '"1"'})).status_code == 412
    assert (await selections_api.delete(url, headers={"If-Match": '"2"'})).status_code == 204
    assert (await selections_api.get(url)).status_code == 404


async def test_not_found(selections_api: httpx.AsyncClient):
    missing = f"/selections/{uuid.uuid4()}"
    assert (await selections_api.get(missing)).status_code == 404
    assert (await selections_api.get(f"{missing}/members")).status_code == 404
    assert (await selections_api.get(f"{missing}/exclusions")).status_code == 404
    assert (await selections_api.get(f"{missing}/refreshes")).status_code == 404
    assert (await selections_api.post(f"{missing}/refresh")).status_code == 404
    assert (await selections_api.post(f"{missing}/mailing")).status_code == 404
    assert (await selections_api.get(f"{missing}/export")).status_code == 404
    removal = await selections_api.post(
        f"{missing}/members/removal",
        json={"relation_ids": [str(uuid.uuid4())]},
        headers={"If-Match": '"1"'},
    )
    assert removal.status_code == 404
    selection = await create_selection(selections_api, "Empty", {"kind": "manual"})
    no_refresh = await selections_api.get(
        f"/selections/{selection['selection_id']}/refreshes/{uuid.uuid4()}/changes",
        params={"change": "added"},
    )
    assert no_refresh.status_code == 404
    bad_cursor = await selections_api.get(
        f"/selections/{selection['selection_id']}/members", params={"cursor": "nope"}
    )
    assert bad_cursor.status_code == 422


async def test_internal_token_is_required(selections_api: httpx.AsyncClient):
    missing = await selections_api.get("/selections", headers={"X-Internal-Token": ""})
    assert missing.status_code == 403
    del selections_api.headers["X-Internal-Token"]
    assert (await selections_api.get("/selections")).status_code == 401
    assert (await selections_api.post("/selections", json={})).status_code == 401
    assert (await selections_api.get("/health")).status_code == 200
    assert (await selections_api.get("/ready")).status_code == 200

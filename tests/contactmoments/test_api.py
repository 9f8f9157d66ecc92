"""Logging, editing, deleting and the history of contact moments, against real PostgreSQL."""

from __future__ import annotations

import uuid

import httpx

from tests.contactmoments.conftest import (
    Feed,
    log,
    moment,
    relation_changed,
    relation_erased,
    relation_merged,
)


async def test_log_a_moment_with_a_person_and_their_organisation(cm_api: httpx.AsyncClient):
    person, organisation = uuid.uuid4(), uuid.uuid4()
    response = await cm_api.post("/contact-moments", json=moment([person, organisation]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"/contact-moments/{body['contact_moment_id']}"
    assert body["relation_ids"] == [str(person), str(organisation)]
    assert body["user_id"] == "u1" and body["source"] == "manual" and not body["deleted"]
    assert body["occurred_at"] == "2025-03-04T09:00:00Z"
    fetched = await cm_api.get(f"/contact-moments/{body['contact_moment_id']}")
    assert fetched.status_code == 200 and fetched.json() == body
    assert fetched.headers["ETag"] == '"1"'


async def test_invalid_input_names_each_bad_field(cm_api: httpx.AsyncClient):
    response = await cm_api.post(
        "/contact-moments",
        json={
            "kind": "telepathy",
            "direction": "sideways",
            "subject": "",
            "occurred_at": "2025-03-04T10:00:00",
            "relation_ids": [],
            "colour": "red",
        },
    )
    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert {
        ("body", "kind"),
        ("body", "direction"),
        ("body", "subject"),
        ("body", "occurred_at"),
        ("body", "relation_ids"),
        ("body", "colour"),
    } <= locations
    twice = uuid.uuid4()
    response = await cm_api.post("/contact-moments", json=moment([twice, twice]))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "relation_ids"]


async def test_internal_token_is_required(cm_api: httpx.AsyncClient):
    routes = [
        ("POST", "/contact-moments"),
        ("POST", "/contact-moments/email"),
        ("GET", f"/contact-moments/{uuid.uuid4()}"),
        ("GET", f"/contact-moments/{uuid.uuid4()}/history"),
        ("GET", f"/relations/{uuid.uuid4()}/contact-moments"),
    ]
    for method, path in routes:
        missing = await cm_api.request(method, path, headers={"X-Internal-Token": ""})
        assert missing.status_code == 403, path
        forged = await cm_api.request(method, path, headers={"X-Internal-Token": "forged"})
        assert forged.status_code == 403, path
    async with httpx.AsyncClient(transport=cm_api._transport, base_url="http://cm") as bare:
        assert (await bare.get(f"/contact-moments/{uuid.uuid4()}")).status_code == 401


async def test_unknown_ids_are_404(cm_api: httpx.AsyncClient):
    unknown = uuid.uuid4()
    assert (await cm_api.get(f"/contact-moments/{unknown}")).status_code == 404
    assert (await cm_api.get(f"/contact-moments/{unknown}/history")).status_code == 404
    patch = await cm_api.patch(
        f"/contact-moments/{unknown}", json={"subject": "x"}, headers={"If-Match": '"1"'}
    )
    assert patch.status_code == 404
    assert (await cm_api.delete(f"/contact-moments/{unknown}")).status_code == 404
    assert (await cm_api.get("/contact-moments/not-a-uuid")).status_code == 422


async def test_edit_needs_the_current_etag(cm_api: httpx.AsyncClient):
    logged = await log(cm_api, moment([uuid.uuid4()]))
    url = f"/contact-moments/{logged['contact_moment_id']}"
    without = await cm_api.patch(url, json={"subject": "Called back"})
    assert without.status_code == 428
    changed = await cm_api.patch(
        url,
        json={"subject": "Called back", "kind": "meeting"},
        headers={"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert changed.json()["subject"] == "Called back" and changed.json()["kind"] == "meeting"
    stale = await cm_api.patch(url, json={"subject": "Lost update"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    nothing = await cm_api.patch(url, json={"subject": "Called back"}, headers={"If-Match": '"2"'})
    assert nothing.status_code == 200 and nothing.headers["ETag"] == '"2"'
    cleared = await cm_api.patch(url, json={"subject": None}, headers={"If-Match": '"2"'})
    assert cleared.status_code == 422
    assert cleared.json()["detail"][0]["loc"] == ["body", "subject"]
    assert (await cm_api.get(url)).json()["subject"] == "Called back"


async def test_delete_is_soft_and_keeps_the_history(cm_api: httpx.AsyncClient):
    relation = uuid.uuid4()
    logged = await log(cm_api, moment([relation]))
    url = f"/contact-moments/{logged['contact_moment_id']}"
    stale = await cm_api.delete(url, headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert (await cm_api.delete(url, headers={"If-Match": '"1"'})).status_code == 204
    assert (await cm_api.delete(url)).status_code == 204  # deleting twice changes nothing
    gone = await cm_api.get(url)
    assert gone.status_code == 410 and "deleted" in gone.json()["detail"]
    patch = await cm_api.patch(url, json={"subject": "x"}, headers={"If-Match": '"2"'})
    assert patch.status_code == 410
    timeline = await cm_api.get(f"/relations/{relation}/contact-moments")
    assert timeline.json()["items"] == []
    history = (await cm_api.get(f"{url}/history")).json()
    assert [entry["version"] for entry in history] == [2, 1]
    assert history[0]["kind"] == "contactmoment.deleted"
    assert history[0]["changes"] == [{"field": "deleted", "old": False, "new": True}]


async def test_history_says_who_changed_what_from_what_to_what(cm_api: httpx.AsyncClient):
    first, second = uuid.uuid4(), uuid.uuid4()
    logged = await log(cm_api, moment([first]))
    url = f"/contact-moments/{logged['contact_moment_id']}"
    response = await cm_api.patch(
        url,
        json={"notes": "Pays monthly after all.", "relation_ids": [str(first), str(second)]},
        headers={"If-Match": '"1"', "X-Actor-Id": "u2"},
    )
    assert response.status_code == 200, response.text
    history = (await cm_api.get(f"{url}/history")).json()
    assert [entry["version"] for entry in history] == [2, 1]
    latest = history[0]
    assert latest["actor"] == {"kind": "user", "id": "u2"}
    assert latest["kind"] == "contactmoment.changed" and latest["reason"] is None
    assert latest["changes"] == [
        {"field": "notes", "old": "Wants to pay yearly.", "new": "Pays monthly after all."},
        {"field": "relation_ids", "old": [str(first)], "new": [str(first), str(second)]},
    ]
    created = history[1]
    assert created["kind"] == "contactmoment.logged" and created["actor"]["id"] == "u1"
    assert {c["field"] for c in created["changes"]} >= {"kind", "subject", "occurred_at"}
    assert all(c["old"] is None for c in created["changes"])
    paged = (await cm_api.get(f"{url}/history", params={"before_version": 2})).json()
    assert [entry["version"] for entry in paged] == [1]


async def test_merged_and_erased_relations_cannot_get_new_moments(
    cm_api: httpx.AsyncClient, feed: Feed
):
    survivor, merged, erased, unknown = (uuid.uuid4() for _ in range(4))
    await feed(relation_changed(merged, 1))
    await feed(relation_merged(survivor, merged, 2))
    await feed(relation_changed(erased, 1))
    await feed(relation_erased(erased, 2))
    response = await cm_api.post("/contact-moments", json=moment([unknown, merged, erased]))
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert str(survivor) in errors[("body", "relation_ids", 1)]
    assert "erased" in errors[("body", "relation_ids", 2)]
    # A relation this service has not heard of yet is accepted: its event may be on its way.
    assert (await cm_api.post("/contact-moments", json=moment([unknown]))).status_code == 201

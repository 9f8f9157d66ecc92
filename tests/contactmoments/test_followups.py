"""Follow-ups of contact moments: made, changed, completed and reopened with If-Match, listed
per assignee (soonest due first, live moments only), and published on crm.contactmoments."""

from __future__ import annotations

import uuid

import httpx
import pytest

from relata_common.events import CONTACTMOMENTS_TOPIC, FollowUpPayload
from tests.contactmoments.conftest import log, moment
from tests.helpers import envelopes, read_topic


async def _follow_up(client: httpx.AsyncClient, moment_id: str, **body: str) -> httpx.Response:
    return await client.post(
        f"/contact-moments/{moment_id}/follow-ups",
        json={"assignee_id": "u2", "due_on": "2026-12-10", **body},
    )


async def test_follow_up_lifecycle_and_open_list(cm_api: httpx.AsyncClient):
    person = uuid.uuid4()
    first = await log(cm_api, moment([person]))
    second = await log(cm_api, moment([person], subject="Visit"))
    later = await _follow_up(cm_api, first["contact_moment_id"], note="Send the invoice")
    assert later.status_code == 201, later.text
    assert later.headers["ETag"] == '"1"' and later.json()["created_by"] == "u1"
    sooner = await _follow_up(cm_api, second["contact_moment_id"], due_on="2026-12-08")
    assert sooner.status_code == 201
    other = await _follow_up(cm_api, second["contact_moment_id"], assignee_id="someone-else")
    assert other.status_code == 201

    mine = (await cm_api.get("/follow-ups", params={"assignee_id": "u2"})).json()
    assert [f["follow_up_id"] for f in mine] == [
        sooner.json()["follow_up_id"],
        later.json()["follow_up_id"],
    ]
    assert mine[0]["subject"] == "Visit" and mine[0]["relation_ids"] == [str(person)]

    url = f"/follow-ups/{later.json()['follow_up_id']}"
    stale = await cm_api.patch(url, json={"done": True}, headers={"If-Match": '"0"'})
    assert stale.status_code == 412
    done = await cm_api.patch(url, json={"done": True}, headers={"If-Match": '"1"'})
    assert done.status_code == 200 and done.json()["done"] and done.json()["done_by"] == "u1"
    cleared = await cm_api.patch(url, json={"due_on": None}, headers={"If-Match": '"2"'})
    assert cleared.status_code == 422 and cleared.json()["detail"][0]["loc"] == ["body", "due_on"]
    mine = (await cm_api.get("/follow-ups", params={"assignee_id": "u2"})).json()
    assert [f["follow_up_id"] for f in mine] == [sooner.json()["follow_up_id"]]

    # A deleted moment leaves the open list; its follow-ups can no longer change.
    assert (await cm_api.delete(f"/contact-moments/{second['contact_moment_id']}")).status_code
    assert (await cm_api.get("/follow-ups", params={"assignee_id": "u2"})).json() == []
    gone = await cm_api.patch(
        f"/follow-ups/{sooner.json()['follow_up_id']}",
        json={"note": "too late"},
        headers={"If-Match": '"1"'},
    )
    assert gone.status_code == 410
    listed = await cm_api.get(f"/contact-moments/{second['contact_moment_id']}/follow-ups")
    assert len(listed.json()) == 2
    deleted = await cm_api.get(
        f"/contact-moments/{second['contact_moment_id']}", params={"include_deleted": "true"}
    )
    assert deleted.status_code == 200 and deleted.json()["deleted"]


@pytest.mark.usefixtures("cm_relay")
async def test_follow_up_events_are_published(cm_api: httpx.AsyncClient, kafka_bootstrap: str):
    person = uuid.uuid4()
    logged = await log(cm_api, moment([person]))
    created = await _follow_up(cm_api, logged["contact_moment_id"])
    follow_up_id = created.json()["follow_up_id"]
    url = f"/follow-ups/{follow_up_id}"
    await cm_api.patch(url, json={"due_on": "2026-12-11"}, headers={"If-Match": '"1"'})
    await cm_api.patch(url, json={"done": True}, headers={"If-Match": '"2"'})

    def mine(records: list) -> list:
        return [r for r in records if r.key.decode() == follow_up_id]

    records = await read_topic(
        kafka_bootstrap, CONTACTMOMENTS_TOPIC, until=lambda rs: len(mine(rs)) >= 3
    )
    events = envelopes(mine(records))
    assert [e.type for e in events] == [
        "followup.created",
        "followup.changed",
        "followup.completed",
    ]
    states = [FollowUpPayload.model_validate(e.payload).state for e in events]
    assert [s.version for s in states] == [1, 2, 3]
    assert states[0].relation_ids == [person] and states[2].done
    assert "note" not in events[0].payload["state"]

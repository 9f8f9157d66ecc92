"""Generated properties on the relation card: staff see "Donor in Utrecht" without the
donations behind it, and the card follows the relation into and out of the property's list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.automation.conftest import (  # noqa: F401 - the automation service's fixtures
    automation_api,
    automation_database,
    automation_settings,
    automation_worker,
)
from tests.gateway.conftest import Admin
from tests.helpers import CATCHING_UP, eventually
from tests.lists.conftest import Platform
from tests.lists.support import DONATIONS_TOPIC, donation
from tests.relations.fixtures import create, person

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
UTRECHT = {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}
YEAR = {"amount": 12, "unit": "months"}
DONORS = {"all": [UTRECHT, {"kind": "donations", "within_last": YEAR, "total_more_than": "100"}]}


@pytest.fixture
def automation_transports(
    relations_api: httpx.AsyncClient, lists_api: httpx.AsyncClient
) -> dict[str, Any]:
    return {"relations": relations_api._transport, "lists": lists_api._transport}


@pytest.fixture
def extra_services(automation_api: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:  # noqa: F811
    return {"automation": automation_api}


@pytest.mark.usefixtures("automation_worker")
async def test_card_shows_generated_properties_not_the_data_behind_them(
    gateway: httpx.AsyncClient,
    admin: Admin,
    relations_api: httpx.AsyncClient,
    lists_api: httpx.AsyncClient,
    automation_api: httpx.AsyncClient,  # noqa: F811
    platform: Platform,
):
    view = await admin.view(
        "Persons", PERSONS, [{"name": "P", "fields": ["last_name", "properties"]}]
    )
    bare = await admin.view("Persons, names", PERSONS, [{"name": "P", "fields": ["last_name"]}])
    staff = await admin.user("petra")
    await admin.grant(staff, view)
    await admin.grant(staff, bare)
    donors = await lists_api.post("/lists", json={"name": "Donors in Utrecht", "filter": DONORS})
    assert donors.status_code == 201, donors.text
    defined = await automation_api.post(
        "/properties",
        json={"key": "donor", "label": "Donor in Utrecht", "list_id": donors.json()["list_id"]},
    )
    assert defined.status_code == 201, defined.text
    jan = await create(relations_api, person("Berg", addresses=[{"city": "Utrecht"}]))
    await platform.publish(
        DONATIONS_TOPIC, donation(jan["relation_id"], "150.00", datetime.now(UTC).date())
    )
    card_url = f"/views/{view['view_id']}/relations/{jan['relation_id']}"

    async def labels() -> list[str] | None:
        response = await gateway.get(card_url, headers=staff)
        if response.status_code != 200:
            return None
        return [p["label"] for p in response.json()["properties"]]

    async def holds_it() -> bool:
        return await labels() == ["Donor in Utrecht"]

    await eventually(holds_it, timeout=CATCHING_UP)
    card = (await gateway.get(card_url, headers=staff)).json()
    assert "150" not in str(card) and card["unavailable"] == []
    without = await gateway.get(
        f"/views/{bare['view_id']}/relations/{jan['relation_id']}", headers=staff
    )
    assert without.json()["properties"] is None  # that form leaves properties out

    # She moves away: the property goes, and with it the cached card part.
    current = await relations_api.get(f"/relations/{jan['relation_id']}")
    moved = await relations_api.patch(
        f"/relations/{jan['relation_id']}",
        json={"fields": {"addresses": [{"city": "Zwolle"}]}},
        headers={"If-Match": current.headers["ETag"]},
    )
    assert moved.status_code == 200, moved.text

    async def lost_it() -> bool:
        return await labels() == []

    await eventually(lost_it, timeout=CATCHING_UP)

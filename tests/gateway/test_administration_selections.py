"""Deleting a view in which selections were made, through the gateway on the real selections
service: refused while they exist (they are frozen sets made for a purpose)."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conftest import Admin
from tests.gateway.public import create_relation
from tests.selections.conftest import (  # noqa: F401 - fixtures used through pytest
    selections_api,
    selections_database,
    selections_settings,
    selections_transports,
)

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
TABS = [{"name": "Person", "fields": ["first_name", "last_name", "lists"]}]


@pytest.fixture
def extra_services(selections_api: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:  # noqa: F811
    return {"selections": selections_api}


async def test_a_view_with_selections_is_not_deleted(gateway: httpx.AsyncClient, admin: Admin):
    """Catches: a view deleted with the selections made in it (they would be left without
    a view to show them)."""
    view = await admin.view("Mailings", PERSONS, TABS)
    v = view["view_id"]
    await create_relation(gateway, admin.headers, view, first_name="Mila", last_name="Kok")
    everyone = view["lists"][0]["list_id"]
    made = await gateway.post(
        f"/views/{v}/selections",
        json={"name": "Christmas card", "list_id": everyone},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text

    refused = await gateway.delete(f"/admin/views/{v}", headers=admin.headers)
    assert refused.status_code == 409, refused.text
    assert "selection" in refused.json()["detail"]
    assert (await gateway.get(f"/admin/views/{v}", headers=admin.headers)).status_code == 200
    assert (await gateway.get(f"/views/{v}/selections", headers=admin.headers)).json()

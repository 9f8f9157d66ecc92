"""Helpers for tests that use the gateway alone, as a user or another module would: no
internal token, no service called directly."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import eventually


async def create_relation(
    gateway: httpx.AsyncClient,
    headers: dict[str, str],
    view: dict[str, Any],
    relation_type: str = "person",
    **fields: Any,
) -> dict[str, Any]:
    """Create a relation through a view and wait until the view shows its card; the card."""
    response = await gateway.post(
        f"/views/{view['view_id']}/relations",
        json={"relation_type": relation_type, "fields": fields},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["in_view"] is not False, created
    url = f"/views/{view['view_id']}/relations/{created['relation_id']}"

    async def shown() -> bool:
        return (await gateway.get(url, headers=headers)).status_code == 200

    await eventually(shown)
    card = await gateway.get(url, headers=headers)
    return card.json() | {"etag": card.headers["ETag"]}

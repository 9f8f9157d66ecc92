"""Every capability that needs a right refuses a role without it (403 naming the right) and
lets a role with only that right through, whatever else it then checks. The operations are
read from the gateway's own routes, so a route added with a right is covered at once."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from relata_gateway.app import create_api
from relata_gateway.openapi import access_table
from tests.automation.conftest import (  # noqa: F401 - the automation service's fixtures
    automation_api,
    automation_database,
    automation_settings,
)
from tests.gateway.conftest import Admin
from tests.selections.conftest import (  # noqa: F401 - fixtures used through pytest
    selections_api,
    selections_database,
    selections_settings,
    selections_transports,
    town,
)

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
FORM = [
    {"name": "Person", "fields": ["first_name", "last_name", "salutation"]},
    {"name": "More", "fields": ["functions", "contact_moments", "lists", "donations"]},
]
EXPECTED = {
    ("GET", "/automation/merge-rules"): "automation.manage",
    ("POST", "/automation/merge-rules"): "automation.manage",
    ("DELETE", "/automation/merge-rules/{rule_id}"): "automation.manage",
    ("PUT", "/automation/merge-rules/{rule_id}"): "automation.manage",
    ("GET", "/automation/properties"): "automation.manage",
    ("POST", "/automation/properties"): "automation.manage",
    ("DELETE", "/automation/properties/{property_id}"): "automation.manage",
    ("GET", "/automation/rules"): "automation.manage",
    ("POST", "/automation/rules"): "automation.manage",
    ("DELETE", "/automation/rules/{rule_id}"): "automation.manage",
    ("GET", "/automation/rules/{rule_id}"): "automation.manage",
    ("PUT", "/automation/rules/{rule_id}"): "automation.manage",
    ("GET", "/automation/rules/{rule_id}/runs"): "automation.manage",
    ("GET", "/automation/runs"): "automation.manage",
    ("POST", "/views/{view_id}/bulk-edits"): "bulk.edit",
    ("GET", "/views/{view_id}/bulk-edits/{batch_id}"): "bulk.edit",
    ("GET", "/views/{view_id}/bulk-edits/{batch_id}/items"): "bulk.edit",
    ("POST", "/views/{view_id}/bulk-edits/{batch_id}/undo"): "bulk.edit",
    ("GET", "/views/{view_id}/duplicates"): "duplicates.review",
    ("GET", "/views/{view_id}/duplicates/{pair_id}"): "duplicates.review",
    ("POST", "/views/{view_id}/duplicates/{pair_id}/decision"): "duplicates.review",
    ("POST", "/views/{view_id}/lists"): "lists.manage",
    ("DELETE", "/views/{view_id}/lists/{list_id}"): "lists.manage",
    ("PATCH", "/views/{view_id}/lists/{list_id}"): "lists.manage",
    ("POST", "/views/{view_id}/lists/{list_id}/copy"): "lists.manage",
    ("POST", "/views/{view_id}/merges"): "relations.merge",
    ("GET", "/views/{view_id}/merges/preview"): "relations.merge",
    ("GET", "/views/{view_id}/merges/{merge_id}"): "relations.merge",
    ("POST", "/views/{view_id}/merges/{merge_id}/undo"): "relations.merge",
    ("POST", "/views/{view_id}/relations"): "relations.create",
    ("POST", "/views/{view_id}/relations/{relation_id}/archive"): "relations.archive",
    ("POST", "/views/{view_id}/relations/{relation_id}/buttons/{rule_id}"): "buttons.run",
    ("POST", "/views/{view_id}/relations/{relation_id}/erasure"): "relations.erase",
    ("POST", "/views/{view_id}/relations/{relation_id}/unarchive"): "relations.archive",
    ("POST", "/views/{view_id}/selections"): "selections.manage",
    ("DELETE", "/views/{view_id}/selections/{selection_id}"): "selections.manage",
    ("PATCH", "/views/{view_id}/selections/{selection_id}"): "selections.manage",
    ("POST", "/views/{view_id}/selections/{selection_id}/mailing-refresh"): "selections.manage",
    ("POST", "/views/{view_id}/selections/{selection_id}/refresh"): "selections.manage",
}
"""Which right each capability needs, as the README promises: written out here so that a
route losing its check fails this test instead of leaving the table with it."""
ADMINISTRATION = ("/admin", "/users")
"""Administration routes: covered with their own rules in test_administration."""


@pytest.fixture
def automation_transports(
    relations_api: httpx.AsyncClient, lists_api: httpx.AsyncClient
) -> dict[str, Any]:
    return {"relations": relations_api._transport, "lists": lists_api._transport}


@pytest.fixture
def extra_services(
    automation_api: httpx.AsyncClient,  # noqa: F811
    selections_api: httpx.AsyncClient,  # noqa: F811
) -> dict[str, httpx.AsyncClient]:
    return {"automation": automation_api, "selections": selections_api}


def guarded() -> list[tuple[str, str, str]]:
    """(method, path, right) of every operation outside administration that needs a right."""
    return [
        (row.method, row.path, right)
        for row in access_table(create_api())
        if not row.path.startswith(ADMINISTRATION)
        for right in row.rights
    ]


def filled(path: str, view_id: str) -> str:
    """The path with the view's id and random ids for everything else."""
    path = path.replace("{view_id}", view_id)
    return re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), path)


async def role_user(admin: Admin, name: str, rights: list[str], view: dict) -> dict[str, str]:
    saved = await admin.client.put(
        f"/admin/roles/{name}",
        json={"labels": {"nl": name, "en": name}, "rights": rights},
        headers=admin.headers,
    )
    assert saved.status_code == 201, saved.text
    user = await admin.user(f"user-{name}", role=name)
    await admin.grant(user, view, can_edit=True)
    return user


async def test_a_role_without_a_right_is_refused_and_with_it_let_through(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Catches: a route that forgets its ``needs(...)`` check or checks another right than
    the one it documents (broken once by taking ``needs`` off archiving: the route then
    vanished from the routes' rights and the comparison with EXPECTED failed)."""
    operations = guarded()
    assert {(method, path): right for method, path, right in operations} == EXPECTED
    view = await admin.view("Members", PERSONS, FORM)
    volunteer = await role_user(admin, "volunteer", [], view)
    for method, path, right in operations:
        url = filled(path, view["view_id"])
        refused = await gateway.request(method, url, json={}, headers=volunteer)
        assert refused.status_code == 403, (method, path, refused.text)
        assert right in refused.text, (method, path, refused.text)

    for right in sorted({right for _, _, right in operations}):
        holder = await role_user(admin, right.replace(".", "-"), [right], view)
        for method, path, needed in operations:
            if needed != right:
                continue
            url = filled(path, view["view_id"])
            answer = await gateway.request(method, url, json={}, headers=holder)
            assert "lacks the right" not in answer.text, (method, path, answer.text)
            assert answer.status_code < 500, (method, path, answer.text)

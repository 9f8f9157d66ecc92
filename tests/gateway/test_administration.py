"""Functional administration through the gateway alone: users, roles and rights, views with
their forms and grants, custom fields, API keys with scopes. Nothing here calls a service
directly or sends the internal token."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.gateway.conftest import Admin, log_in
from tests.gateway.public import create_relation
from tests.helpers import CATCHING_UP, eventually

PERSONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}
ORGANISATIONS = {"kind": "field", "field": "relation_type", "op": "equals", "value": "organisation"}
TABS = [{"name": "Person", "fields": ["first_name", "last_name", "emails"]}]


def _filled(path: str) -> str:
    """A path with every parameter filled (ids that exist nowhere)."""
    parts = [str(uuid.uuid4()) if p.startswith("{") else p for p in path.split("/")]
    return "/".join(parts)


def _fields(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


async def _user_id(gateway: httpx.AsyncClient, admin: Admin, username: str) -> str:
    listed = await gateway.get("/admin/users", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    return next(u["user_id"] for u in listed.json() if u["username"] == username)


async def _key(
    gateway: httpx.AsyncClient, admin: Admin, user_id: str, scopes: list[str] | None = None
) -> dict[str, str]:
    body: dict[str, Any] = {"name": f"key {scopes}"}
    if scopes is not None:
        body["scopes"] = scopes
    created = await gateway.post(
        f"/admin/users/{user_id}/api-keys", json=body, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


# --- who may administer -------------------------------------------------------------------------


async def test_every_administration_route_needs_the_right_and_the_admin_scope(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Staff (no administration right) get 403 on every administration route, and every such
    route asks an API key for the admin scope. Catches: an administration route left without
    ``needs(Right.ADMINISTRATION)`` or without ``scope(Scope.ADMIN)``."""
    staff = await admin.user("sam")
    spec = (await gateway.get("/openapi.json")).json()
    routes = [
        (method.upper(), path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if path.startswith("/admin/") or path.startswith("/users")
    ]
    assert len(routes) >= 30
    for method, path, operation in routes:
        assert operation.get("x-api-key-scope") == "admin", (method, path)
        answer = await gateway.request(method, _filled(path), json={}, headers=staff)
        assert answer.status_code == 403, (method, path, answer.text)


async def test_a_role_with_the_administration_right_administers_but_cannot_become_admin(
    gateway: httpx.AsyncClient, admin: Admin
):
    """A role holding the administration right may administer, but not give the admin role,
    nor change an administrator's account. Catches: an administrator role as a way up to
    ``admin`` (a check on ``is_admin`` dropped from accounts)."""
    saved = await gateway.put(
        "/admin/roles/office",
        json={"labels": {"nl": "Kantoor", "en": "Office"}, "rights": ["administration"]},
        headers=admin.headers,
    )
    assert saved.status_code == 201, saved.text
    office = await admin.user("olga", role="office")
    assert (await gateway.get("/admin/users", headers=office)).status_code == 200
    wanted = {
        "username": "mallory",
        "display_name": "Mallory",
        "password": "mallory-password-1",
        "role": "admin",
    }
    assert (await gateway.post("/admin/users", json=wanted, headers=office)).status_code == 403
    assert (
        await gateway.patch(
            f"/admin/users/{office['X-User-Id']}", json={"role": "admin"}, headers=office
        )
    ).status_code == 403
    admin_id = await _user_id(gateway, admin, "admin")
    for method, path, body in (
        ("PATCH", f"/admin/users/{admin_id}", {"display_name": "Not you"}),
        ("PUT", f"/admin/users/{admin_id}/password", {"password": "taken-over-now"}),
        ("POST", f"/admin/users/{admin_id}/api-keys", {"name": "back door"}),
    ):
        answer = await gateway.request(method, path, json=body, headers=office)
        assert answer.status_code == 403, (method, path, answer.text)
    # A user of their own level they may change.
    staff = await admin.user("stan")
    changed = await gateway.patch(
        f"/admin/users/{staff['X-User-Id']}", json={"display_name": "Stan S."}, headers=office
    )
    assert changed.status_code == 200, changed.text


# --- users --------------------------------------------------------------------------------------


async def test_users_listed_changed_deactivated_and_given_a_new_password(
    gateway: httpx.AsyncClient, admin: Admin
):
    """A user is listed and read, renamed, given another role (an existing one only),
    deactivated (login, token refresh and API keys stop) and given a new password. Catches:
    a refresh or an API key that does not check whether the user is still active."""
    daan = await admin.user("daan")
    daan_id = daan["X-User-Id"]
    read = await gateway.get(f"/admin/users/{daan_id}", headers=admin.headers)
    assert read.status_code == 200, read.text
    assert read.json() | {"created_at": None} == {
        "user_id": daan_id,
        "username": "daan",
        "display_name": "Daan",
        "role": "staff",
        "active": True,
        "created_at": None,
    }
    assert "daan" in {
        u["username"] for u in (await gateway.get("/admin/users", headers=admin.headers)).json()
    }
    assert (
        await gateway.get(f"/admin/users/{uuid.uuid4()}", headers=admin.headers)
    ).status_code == 404

    unknown = {
        "username": "eve",
        "display_name": "Eve",
        "password": "eve-password-12",
        "role": "nobody",
    }
    assert _fields(await gateway.post("/admin/users", json=unknown, headers=admin.headers)) == [
        ["body", "role"]
    ]
    taken = unknown | {"username": "daan", "role": "staff"}
    assert _fields(await gateway.post("/admin/users", json=taken, headers=admin.headers)) == [
        ["body", "username"]
    ]
    assert _fields(
        await gateway.patch(
            f"/admin/users/{daan_id}", json={"role": "nobody"}, headers=admin.headers
        )
    ) == [["body", "role"]]
    changed = await gateway.patch(
        f"/admin/users/{daan_id}",
        json={"display_name": "Daan de Vries", "role": "admin"},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["display_name"], changed.json()["role"]) == ("Daan de Vries", "admin")
    # The new role is in the next token: refreshing gives it.
    refreshed = await gateway.post("/auth/refresh", headers=daan)
    assert refreshed.status_code == 200, refreshed.text
    as_admin = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await gateway.get("/admin/users", headers=as_admin)).status_code == 200

    key = await _key(gateway, admin, daan_id)
    assert (await gateway.get("/views", headers=key)).status_code == 200
    deactivated = await gateway.delete(f"/admin/users/{daan_id}", headers=admin.headers)
    assert deactivated.status_code == 204, deactivated.text
    assert (await gateway.get(f"/admin/users/{daan_id}", headers=admin.headers)).json()[
        "active"
    ] is False
    assert (await gateway.post("/auth/refresh", headers=daan)).status_code == 401
    assert (await gateway.get("/views", headers=key)).status_code == 401
    logged_in = await gateway.post(
        "/auth/token", json={"username": "daan", "password": "daan-password-1"}
    )
    assert logged_in.status_code == 401

    reactivated = await gateway.patch(
        f"/admin/users/{daan_id}", json={"active": True}, headers=admin.headers
    )
    assert reactivated.status_code == 200, reactivated.text
    assert _fields(
        await gateway.put(
            f"/admin/users/{daan_id}/password", json={"password": "short"}, headers=admin.headers
        )
    ) == [["body", "password"]]
    reset = await gateway.put(
        f"/admin/users/{daan_id}/password",
        json={"password": "a-new-long-password"},
        headers=admin.headers,
    )
    assert reset.status_code == 204, reset.text
    await log_in(gateway, "daan", "a-new-long-password")
    old = await gateway.post(
        "/auth/token", json={"username": "daan", "password": "daan-password-1"}
    )
    assert old.status_code == 401


async def test_the_door_stays_open(gateway: httpx.AsyncClient, admin: Admin):
    """Nobody deactivates themselves and the last active administrator stays one. Catches:
    an administration that can lock every administrator out."""
    admin_id = await _user_id(gateway, admin, "admin")
    assert (
        await gateway.delete(f"/admin/users/{admin_id}", headers=admin.headers)
    ).status_code == 409
    other = await admin.user("olaf", role="admin")
    demoted = await gateway.patch(f"/admin/users/{admin_id}", json={"role": "staff"}, headers=other)
    assert demoted.status_code == 200, demoted.text
    last = await gateway.patch(
        f"/admin/users/{other['X-User-Id']}", json={"role": "staff"}, headers=other
    )
    assert last.status_code == 409, last.text
    assert (await gateway.post("/auth/refresh", headers=admin.headers)).json()["access_token"]


# --- roles and rights ---------------------------------------------------------------------------


async def test_roles_with_rights_and_labels(gateway: httpx.AsyncClient, admin: Admin):
    """Rights are listed with labels; roles are created and changed with known rights only,
    admin keeps every right, built-in roles and roles in use stay. Catches: a role saved with
    a right the gateway does not know, or the admin role losing one."""
    rights = (await gateway.get("/admin/rights", headers=admin.headers)).json()
    assert {"right": "administration", "labels": {"nl": "Beheer", "en": "Administration"}} in rights
    every = {r["right"] for r in rights}

    listed = {
        r["name"]: r for r in (await gateway.get("/admin/roles", headers=admin.headers)).json()
    }
    assert set(listed["admin"]["rights"]) == every and listed["admin"]["built_in"]
    assert "administration" not in listed["staff"]["rights"]

    labels = {"nl": "Ledenadministratie", "en": "Membership office"}
    bad = await gateway.put(
        "/admin/roles/office",
        json={"labels": labels, "rights": ["relations.merge", "rule.the.world"]},
        headers=admin.headers,
    )
    assert _fields(bad) == [["body", "rights"]]
    assert "rule.the.world" in bad.json()["detail"][0]["msg"]
    assert _fields(
        await gateway.put("/admin/roles/office", json={"rights": []}, headers=admin.headers)
    ) == [["body", "labels"]]
    assert (
        await gateway.put(
            "/admin/roles/Not A Name", json={"labels": labels, "rights": []}, headers=admin.headers
        )
    ).status_code == 422

    created = await gateway.put(
        "/admin/roles/office",
        json={"labels": labels, "rights": ["relations.merge", "lists.manage"]},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    changed = await gateway.put(
        "/admin/roles/office",
        json={"labels": labels, "rights": ["relations.merge"]},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {
        "name": "office",
        "labels": labels,
        "rights": ["relations.merge"],
        "built_in": False,
        "users": 0,
    }
    reduced = await gateway.put(
        "/admin/roles/admin",
        json={"labels": labels, "rights": ["relations.merge"]},
        headers=admin.headers,
    )
    assert _fields(reduced) == [["body", "rights"]]

    for built_in in ("admin", "staff"):
        assert (
            await gateway.delete(f"/admin/roles/{built_in}", headers=admin.headers)
        ).status_code == 409
    await admin.user("otto", role="office")
    assert (await gateway.delete("/admin/roles/office", headers=admin.headers)).status_code == 409
    spare = await gateway.put(
        "/admin/roles/spare", json={"labels": labels, "rights": []}, headers=admin.headers
    )
    assert spare.status_code == 201
    assert (await gateway.delete("/admin/roles/spare", headers=admin.headers)).status_code == 204
    assert (await gateway.get("/admin/roles/spare", headers=admin.headers)).status_code == 404


async def test_a_role_s_rights_change_what_its_users_may_do_at_once(
    gateway: httpx.AsyncClient, admin: Admin
):
    """Giving a role the administration right lets its users administer on their next
    request, and taking it away stops them. Catches: role changes that do not reach the
    processes' snapshot (no generation bump)."""
    labels = {"nl": "Kantoor", "en": "Office"}
    await gateway.put(
        "/admin/roles/desk", json={"labels": labels, "rights": []}, headers=admin.headers
    )
    desk = await admin.user("dina", role="desk")
    assert (await gateway.get("/admin/rights", headers=desk)).status_code == 403
    await gateway.put(
        "/admin/roles/desk",
        json={"labels": labels, "rights": ["administration"]},
        headers=admin.headers,
    )
    assert (await gateway.get("/admin/rights", headers=desk)).status_code == 200
    await gateway.put(
        "/admin/roles/desk", json={"labels": labels, "rights": []}, headers=admin.headers
    )
    assert (await gateway.get("/admin/rights", headers=desk)).status_code == 403


# --- views, forms and grants --------------------------------------------------------------------


async def test_grants_to_users_and_roles(gateway: httpx.AsyncClient, admin: Admin):
    """A view granted to a role is every holder's; a user's own grant adds up with it; both
    are listed and revoked by path. Catches: role grants not reaching a user's views."""
    view = await admin.view("Volunteers", PERSONS, TABS)
    v = view["view_id"]
    await gateway.put(
        "/admin/roles/volunteers",
        json={"labels": {"nl": "Vrijwilligers", "en": "Volunteers"}, "rights": []},
        headers=admin.headers,
    )
    vera = await admin.user("vera", role="volunteers")
    walt = await admin.user("walt")

    async def views_of(headers: dict[str, str]) -> dict[str, bool]:
        return {
            x["view_id"]: x["can_edit"]
            for x in (await gateway.get("/views", headers=headers)).json()
        }

    assert v not in await views_of(vera)
    granted = await gateway.put(
        f"/admin/views/{v}/grants/roles/volunteers", json={"can_edit": False}, headers=admin.headers
    )
    assert granted.status_code == 204, granted.text
    assert (await views_of(vera))[v] is False
    assert (await gateway.get(f"/views/{v}/lists", headers=vera)).status_code == 200
    own = await gateway.put(
        f"/admin/views/{v}/grants/users/{vera['X-User-Id']}",
        json={"can_edit": True},
        headers=admin.headers,
    )
    assert own.status_code == 204, own.text
    assert (await views_of(vera))[v] is True
    await admin.grant(walt, view)  # the grant by body still works
    listed = (await gateway.get(f"/admin/views/{v}/grants", headers=admin.headers)).json()
    assert listed == {
        "users": [
            {"user_id": vera["X-User-Id"], "username": "vera", "can_edit": True},
            {"user_id": walt["X-User-Id"], "username": "walt", "can_edit": False},
        ],
        "roles": [{"role": "volunteers", "can_edit": False}],
    }
    for missing in (
        f"/admin/views/{v}/grants/roles/nobody",
        f"/admin/views/{v}/grants/users/{uuid.uuid4()}",
        f"/admin/views/{uuid.uuid4()}/grants/roles/volunteers",
    ):
        answer = await gateway.put(missing, json={"can_edit": True}, headers=admin.headers)
        assert answer.status_code == 404, (missing, answer.text)

    revoked = await gateway.delete(
        f"/admin/views/{v}/grants/users/{vera['X-User-Id']}", headers=admin.headers
    )
    assert revoked.status_code == 204
    assert (await views_of(vera))[v] is False  # the role's grant stays
    revoked = await gateway.delete(
        f"/admin/views/{v}/grants/roles/volunteers", headers=admin.headers
    )
    assert revoked.status_code == 204
    assert v not in await views_of(vera)
    assert (await gateway.get(f"/views/{v}/lists", headers=vera)).status_code == 404


async def test_views_listed_read_changed_and_deleted(gateway: httpx.AsyncClient, admin: Admin):
    """An administrator lists and reads views with their base filter and form, changes them
    with If-Match (a new base filter re-evaluates the view's relations), and deletes one.
    Catches: a base filter saved in the gateway but not in the view's 'All relations' list."""
    view = await admin.view("Everyone", PERSONS, TABS)
    v = view["view_id"]
    await admin.view("Taken", PERSONS, TABS)
    anna = await create_relation(
        gateway, admin.headers, view, first_name="Anna", last_name="Visser"
    )
    card_url = f"/views/{v}/relations/{anna['relation_id']}"

    listed = (await gateway.get("/admin/views", headers=admin.headers)).json()
    mine = next(x for x in listed if x["view_id"] == v)
    assert mine["base_filter"] == PERSONS
    assert mine["form"]["tabs"][0]["fields"] == TABS[0]["fields"]
    read = await gateway.get(f"/admin/views/{v}", headers=admin.headers)
    assert read.status_code == 200 and read.headers["ETag"] == '"1"', read.headers
    assert (
        await gateway.get(f"/admin/views/{uuid.uuid4()}", headers=admin.headers)
    ).status_code == 404

    body = {"name": "Organisations", "base_filter": ORGANISATIONS, "form": {"tabs": TABS}}
    url = f"/admin/views/{v}"
    assert (await gateway.put(url, json=body, headers=admin.headers)).status_code == 428
    stale = await gateway.put(url, json=body, headers=admin.headers | {"If-Match": '"7"'})
    assert stale.status_code == 412
    taken = await gateway.put(
        url, json=body | {"name": "Taken"}, headers=admin.headers | {"If-Match": '"1"'}
    )
    assert taken.status_code == 409
    bad = await gateway.put(
        url,
        json=body | {"form": {"tabs": [{"name": "x", "fields": ["shoe_size"]}]}},
        headers=admin.headers | {"If-Match": '"1"'},
    )
    assert _fields(bad)[0][:3] == ["body", "form", "tabs"]
    changed = await gateway.put(url, json=body, headers=admin.headers | {"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] == '"2"'
    assert (changed.json()["name"], changed.json()["base_filter"]) == (
        "Organisations",
        ORGANISATIONS,
    )

    async def anna_left() -> bool:
        return (await gateway.get(card_url, headers=admin.headers)).status_code == 404

    await eventually(anna_left, timeout=CATCHING_UP)

    deleted = await gateway.delete(url, headers=admin.headers)
    assert deleted.status_code == 204, deleted.text
    assert (await gateway.get(url, headers=admin.headers)).status_code == 404
    assert v not in {
        x["view_id"] for x in (await gateway.get("/views", headers=admin.headers)).json()
    }
    assert (await gateway.delete(url, headers=admin.headers)).status_code == 404


async def test_a_changed_form_shows_on_the_next_card(gateway: httpx.AsyncClient, admin: Admin):
    """A card opened, its view's form changed, the next GET of the card shows the new form
    with its labels. Catches: a card (or its form) cached past a change of the form."""
    view = await admin.view(
        "Members", PERSONS, [{"name": "Person", "fields": ["first_name", "initials", "last_name"]}]
    )
    v = view["view_id"]
    bert = await create_relation(
        gateway, admin.headers, view, first_name="Bert", last_name="Smit", initials="B."
    )
    url = f"/views/{v}/relations/{bert['relation_id']}"
    first = (await gateway.get(url, headers=admin.headers)).json()
    assert first["tabs"][0]["labels"] == {"nl": "Person", "en": "Person"}
    assert first["labels"]["last_name"] == {"nl": "Achternaam", "en": "Last name"}
    assert first["tabs"][0]["fields"]["first_name"] == "Bert"

    form = {
        "tabs": [
            {
                "name": "Naam",
                "labels": {"nl": "Naam", "en": "Name"},
                "fields": ["initials", "last_name"],
            }
        ],
        "field_labels": {"last_name": {"nl": "Familienaam", "en": "Surname"}},
    }
    unshown = {**form, "field_labels": {"emails": {"nl": "E-mail", "en": "E-mail"}}}
    refused = await gateway.put(
        f"/admin/views/{v}",
        json={"name": "Members", "base_filter": PERSONS, "form": unshown},
        headers=admin.headers | {"If-Match": '"1"'},
    )
    assert _fields(refused) == [["body", "form"]]
    assert "emails" in refused.json()["detail"][0]["msg"]
    changed = await gateway.put(
        f"/admin/views/{v}",
        json={"name": "Members", "base_filter": PERSONS, "form": form},
        headers=admin.headers | {"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["form"]["field_labels"] == form["field_labels"]

    card = (await gateway.get(url, headers=admin.headers)).json()
    assert card["tabs"] == [
        {
            "name": "Naam",
            "labels": {"nl": "Naam", "en": "Name"},
            "fields": {"initials": "B.", "last_name": "Smit"},
        }
    ]
    assert card["labels"] == {
        "initials": {"nl": "Voorletters", "en": "Initials"},
        "last_name": {"nl": "Familienaam", "en": "Surname"},
    }
    mine = next(
        x for x in (await gateway.get("/views", headers=admin.headers)).json() if x["view_id"] == v
    )
    assert mine["form"] == changed.json()["form"]
    assert mine["labels"] == card["labels"]


async def test_custom_fields_defined_changed_and_labelled(gateway: httpx.AsyncClient, admin: Admin):
    """A custom field is defined, listed and relabelled through the gateway; the catalogue and
    a card opened before the change show the new label. Catches: custom field definitions
    cached past their change."""
    key = f"cf_{uuid.uuid4().hex[:8]}"
    definition = {"key": key, "label": "Member since", "type": "date"}
    created = await gateway.post("/admin/custom-fields", json=definition, headers=admin.headers)
    assert created.status_code == 201, created.text
    again = await gateway.post("/admin/custom-fields", json=definition, headers=admin.headers)
    assert again.status_code == 409
    wrong = await gateway.post(
        "/admin/custom-fields", json={**definition, "type": "colour"}, headers=admin.headers
    )
    assert _fields(wrong) == [["body", "type"]]
    listed = (await gateway.get("/admin/custom-fields", headers=admin.headers)).json()
    assert key in {d["key"] for d in listed}

    catalogue = (await gateway.get("/admin/forms/catalogue", headers=admin.headers)).json()["items"]
    by_name = {item["name"]: item for item in catalogue}
    assert by_name[f"custom.{key}"]["labels"] == {"nl": "Member since", "en": "Member since"}
    assert by_name["functions"]["kind"] == "section"
    assert by_name["last_name"]["labels"] == {"nl": "Achternaam", "en": "Last name"}

    tabs = [{"name": "Person", "fields": ["last_name", f"custom.{key}"]}]
    view = await admin.view("Membership", PERSONS, tabs)
    cees = await create_relation(
        gateway, admin.headers, view, last_name="Cees", custom={key: "2020-01-02"}
    )
    url = f"/views/{view['view_id']}/relations/{cees['relation_id']}"
    card = (await gateway.get(url, headers=admin.headers)).json()
    assert card["labels"][f"custom.{key}"] == {"nl": "Member since", "en": "Member since"}

    relabelled = await gateway.put(
        f"/admin/custom-fields/{key}",
        json={**definition, "label": "Lid sinds"},
        headers=admin.headers,
    )
    assert relabelled.status_code == 200, relabelled.text
    card = (await gateway.get(url, headers=admin.headers)).json()
    assert card["labels"][f"custom.{key}"] == {"nl": "Lid sinds", "en": "Lid sinds"}
    mine = next(
        x
        for x in (await gateway.get("/views", headers=admin.headers)).json()
        if x["view_id"] == view["view_id"]
    )
    assert mine["labels"] == card["labels"]
    catalogue = (await gateway.get("/admin/forms/catalogue", headers=admin.headers)).json()["items"]
    assert {
        "name": f"custom.{key}",
        "kind": "custom",
        "labels": {"nl": "Lid sinds", "en": "Lid sinds"},
        "type": "date",
    } in catalogue
    retyped = await gateway.put(
        f"/admin/custom-fields/{key}", json={**definition, "type": "text"}, headers=admin.headers
    )
    assert _fields(retyped) == [["body", "type"]]
    missing = await gateway.put(
        "/admin/custom-fields/cf_nothing",
        json={**definition, "key": "cf_nothing"},
        headers=admin.headers,
    )
    assert missing.status_code == 404


# --- API keys and their scopes ------------------------------------------------------------------


async def test_api_keys_act_within_their_scopes(gateway: httpx.AsyncClient, admin: Admin):
    """A key is refused (403) outside its scopes: a read key cannot change a card, a key
    without read cannot open one, administration needs the admin scope even for an
    administrator's key. Keys are listed without the key and stop when revoked. Catches:
    the scope check in ``current_user`` skipped or reading the wrong scope."""
    view = await admin.view("Keys", PERSONS, TABS)
    kim = await create_relation(gateway, admin.headers, view, first_name="Kim", last_name="Bos")
    card = f"/views/{view['view_id']}/relations/{kim['relation_id']}"
    admin_id = await _user_id(gateway, admin, "admin")

    read = await _key(gateway, admin, admin_id, ["read"])
    write = await _key(gateway, admin, admin_id, ["write"])
    both = await _key(gateway, admin, admin_id)
    mail = await _key(gateway, admin, admin_id, ["mail.ingest"])
    administer = await _key(gateway, admin, admin_id, ["admin"])
    patch = {"fields": {"first_name": "Kimberley"}}

    opened = await gateway.get(card, headers=read)
    assert opened.status_code == 200, opened.text
    etag = {"If-Match": opened.headers["ETag"]}
    assert (await gateway.patch(card, json=patch, headers=read | etag)).status_code == 403
    assert (await gateway.get(card, headers=write)).status_code == 403
    assert (await gateway.get(card, headers=mail)).status_code == 403
    assert (await gateway.get(card, headers=administer)).status_code == 403
    changed = await gateway.patch(card, json=patch, headers=both | etag)
    assert changed.status_code == 200, changed.text
    for key in (read, write, both, mail):
        assert (await gateway.get("/admin/users", headers=key)).status_code == 403
    assert (await gateway.get("/admin/users", headers=administer)).status_code == 200
    # The admin scope does not lift a role's limits.
    staff = await admin.user("stef")
    staff_admin_key = await _key(gateway, admin, staff["X-User-Id"], ["admin"])
    assert (await gateway.get("/admin/users", headers=staff_admin_key)).status_code == 403

    assert _fields(
        await gateway.post(
            f"/admin/users/{admin_id}/api-keys",
            json={"name": "x", "scopes": ["everything"]},
            headers=admin.headers,
        )
    ) == [["body", "scopes", 0]]
    keys = (await gateway.get(f"/admin/users/{admin_id}/api-keys", headers=admin.headers)).json()
    assert len(keys) == 5
    assert all("key" not in k and k["prefix"].startswith("rk_") for k in keys)
    assert sorted(k["scopes"] for k in keys) == sorted(
        [["read"], ["write"], ["read", "write"], ["mail.ingest"], ["admin"]]
    )
    revoked_id = next(k["api_key_id"] for k in keys if k["scopes"] == ["read"])
    url = f"/admin/users/{admin_id}/api-keys/{revoked_id}"
    assert (await gateway.delete(url, headers=admin.headers)).status_code == 204
    assert (await gateway.get(card, headers=read)).status_code == 401
    assert (await gateway.delete(url, headers=admin.headers)).status_code == 204
    keys = (await gateway.get(f"/admin/users/{admin_id}/api-keys", headers=admin.headers)).json()
    assert next(k for k in keys if k["api_key_id"] == revoked_id)["revoked_at"]
    other = f"/admin/users/{staff['X-User-Id']}/api-keys/{revoked_id}"
    assert (await gateway.delete(other, headers=admin.headers)).status_code == 404


async def test_a_token_is_refreshed_while_the_user_stays(gateway: httpx.AsyncClient, admin: Admin):
    """A refreshed token works; an API key has none to refresh."""
    refreshed = await gateway.post("/auth/refresh", headers=admin.headers)
    assert refreshed.status_code == 200, refreshed.text
    token = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await gateway.get("/views", headers=token)).status_code == 200
    assert (await gateway.post("/auth/refresh")).status_code == 401
    admin_id = await _user_id(gateway, admin, "admin")
    key = await _key(gateway, admin, admin_id)
    assert (await gateway.post("/auth/refresh", headers=key)).status_code == 401

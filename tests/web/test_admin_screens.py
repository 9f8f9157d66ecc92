"""The administration screens in a real browser, on the real platform.

The demo administrator defines a custom field, creates a view and places the field on its
relation card with a Dutch and an English label, orders the card's tabs with the keyboard and
by dragging, creates a role and a user with it, grants the user the view, and creates and
revokes an API key (the API refuses the revoked key). The new user then logs in and sees the
card as configured: the English labels in English, the Dutch ones in Dutch. Every screen is
checked with axe-core; screenshots: admin-views, admin-form, admin-users, admin-api-keys.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.platform.test_up import EVENTUAL_TIMEOUT, Platform
from tests.web.conftest import api_headers, assert_accessible, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PASSWORD = "adm-walk-password-1"


def _admin_section(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Parts of administration").get_by_role(
        "link", name=name, exact=True
    ).click()
    expect(page.get_by_role("heading", level=1, name=name, exact=True)).to_be_visible()


def _define_field(page: Page, key: str, label: str) -> None:
    _admin_section(page, "Custom fields")
    page.get_by_label("Key (fixed, lower case)", exact=True).fill(key)
    page.get_by_label("Label", exact=True).fill(label)
    page.get_by_label("Type", exact=True).select_option("text")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator(f'form[data-field="{key}"]')).to_be_visible()
    assert_accessible(page, "custom fields")


def _create_view(page: Page, name: str) -> str:
    _admin_section(page, "Views")
    assert_accessible(page, "views")
    page.get_by_role("link", name="New view").click()
    page.get_by_label("Name of the view").fill(name)
    page.get_by_label("Example").select_option(label="All persons")
    assert_accessible(page, "new view")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", level=1, name=f"Relation card of {name}")).to_be_visible()
    return page.url.split("/admin/views/")[1].split("/")[0]


def _tab_names(page: Page) -> list[str]:
    return page.locator("#adm-tabs > li").evaluate_all("items => items.map(i => i.dataset.tab)")


def _configure_form(page: Page, key: str, label: str) -> None:
    """A second tab with the custom field and the donations section, labelled per language;
    the tab goes up with the keyboard and back down by dragging."""
    page.get_by_role("button", name="Add a tab").click()
    expect(page.locator("#adm-tab-1-name")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("Extra")
    page.get_by_label("Title of Extra (Dutch)").fill("Extra NL")
    page.get_by_label("Title of Extra (English)").fill("Extra EN")
    page.get_by_label("Add a field or section to Extra").select_option(f"custom.{key}")
    page.locator("#adm-add-1").click()
    page.get_by_label("Add a field or section to Extra").select_option("donations")
    page.locator("#adm-add-1").click()
    page.get_by_label(f"Label of {label} (Dutch)").fill("Testveld NL")
    page.get_by_label(f"Label of {label} (English)").fill("Test field EN")
    expect(page.locator('.adm-field[data-field="donations"]')).to_be_visible()

    # Keyboard: the move-up button of "Extra", pressed with Enter; the focus stays on the tab's
    # move buttons (up is disabled once it is first, so its twin takes the focus).
    page.get_by_role("button", name="Move Extra up").focus()
    page.keyboard.press("Enter")
    assert _tab_names(page) == ["Extra", "Algemeen"]
    expect(page.locator("#adm-tab-0-down")).to_be_focused()
    expect(page.get_by_role("status")).to_contain_text("Extra is now in place 1.")

    # Drag: the handle of "Extra" dropped on the tab "Algemeen".
    page.locator("#adm-tabs > li").nth(0).locator("legend .adm-handle").drag_to(
        page.locator('#adm-tabs > li[data-tab="Algemeen"] legend')
    )
    assert _tab_names(page) == ["Algemeen", "Extra"]
    # And a field by keyboard: "Last name" one place up on the first tab.
    fields = page.locator('#adm-tabs > li[data-tab="Algemeen"] .adm-field')
    before = fields.evaluate_all("items => items.map(i => i.dataset.field)")
    page.get_by_role("button", name="Move Last name up").click()
    after = fields.evaluate_all("items => items.map(i => i.dataset.field)")
    at = before.index("last_name")
    assert after[at - 1] == "last_name" and after[at] == before[at - 1]

    assert_accessible(page, "relation card editor")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("The relation card was saved.")
    page.get_by_role("heading", level=1).scroll_into_view_if_needed()
    screenshot(page, "admin-form")


def _check_saved_form(
    client: httpx.Client, headers: dict[str, str], view_id: str, key: str
) -> None:
    form = client.get(f"/admin/views/{view_id}", headers=headers).json()["form"]
    assert [tab["name"] for tab in form["tabs"]] == ["Algemeen", "Extra"]
    assert form["tabs"][1]["fields"] == [f"custom.{key}", "donations"]
    assert form["tabs"][1]["labels"] == {"nl": "Extra NL", "en": "Extra EN"}
    assert form["field_labels"][f"custom.{key}"] == {"nl": "Testveld NL", "en": "Test field EN"}


def _create_role(page: Page, role: str) -> None:
    _admin_section(page, "Roles")
    form = page.locator("#adm-role-form")
    form.get_by_label("Code of the role (lower case)").fill(role)
    form.get_by_label("Label (Dutch)").fill(f"Medewerker {role}")
    form.get_by_label("Label (English)").fill(f"Clerk {role}")
    form.get_by_label("Create relations", exact=True).check()
    form.get_by_role("button", name="Create").click()
    saved = page.locator(f'form[data-role="{role}"]')
    expect(saved).to_be_visible()
    expect(saved.get_by_label(f"Create relations for {role}")).to_be_checked()
    expect(saved.get_by_label(f"Merge relations for {role}")).not_to_be_checked()
    assert_accessible(page, "roles")


def _create_user(page: Page, username: str, role: str) -> None:
    _admin_section(page, "Users")
    form = page.locator("#adm-user-form")
    form.get_by_label("Username").fill(username)
    form.get_by_label("Name", exact=True).fill(f"Walker {username}")
    form.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    form.get_by_label("Role").select_option(role)
    form.get_by_role("button", name="Create").click()
    row = page.locator(f'#adm-users tr[data-user="{username}"]')
    expect(row).to_be_visible()
    expect(row.get_by_label(f"Role of {username}")).to_have_value(role)
    assert_accessible(page, "users")
    screenshot(page, "admin-users")


def _grant(page: Page, view_name: str, username: str) -> None:
    _admin_section(page, "Views")
    page.locator("#adm-views").get_by_role("link", name=view_name, exact=True).click()
    page.get_by_label("User / Role").select_option(label=f"Walker {username} ({username})")
    page.get_by_label("May edit").check()
    page.get_by_role("button", name="Grant access").click()
    expect(page.get_by_label(f"{username} may edit")).to_be_checked()
    assert_accessible(page, "view and access")


def _api_key(page: Page, client: httpx.Client, username: str) -> None:
    _admin_section(page, "Users")
    page.get_by_role("link", name=f"API keys: {username}").click()
    page.get_by_label("Name of the key").fill("adm walk key")
    expect(page.get_by_label("read", exact=True)).to_be_checked()
    page.get_by_role("button", name="Create").click()
    secret = page.get_by_label("The key", exact=True)
    expect(secret).to_be_visible()
    key = secret.input_value()
    assert key.startswith("rk_")
    assert client.get("/me", headers={"X-API-Key": key}).status_code == 200
    row = page.locator('#adm-keys tr[data-key="adm walk key"]')
    expect(row).to_contain_text(key[:6])
    assert_accessible(page, "API keys")
    screenshot(page, "admin-api-keys")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke key adm walk key").click()
    expect(row).to_contain_text("Revoked")
    expect(page.get_by_label("The key", exact=True)).to_have_count(
        0
    )  # the secret is not shown again
    refused = client.get("/me", headers={"X-API-Key": key})
    assert refused.status_code == 401, refused.text


def _a_person(
    platform: Platform, client: httpx.Client, headers: dict[str, str], view_id: str
) -> dict[str, Any]:
    person = {"kind": "field", "field": "relation_type", "op": "equals", "value": "person"}

    def found() -> dict[str, Any] | None:
        answer = client.post(
            f"/views/{view_id}/evaluate",
            headers=headers,
            json={"filter": person},
            params={"limit": 1},
        )
        assert answer.status_code == 200, answer.text
        rows = answer.json()["relations"]
        return rows[0] if rows else None

    return platform.eventually("a person in the new view", found, EVENTUAL_TIMEOUT)


def _open_when_granted(page: Page, url: str) -> None:
    """Open the card, again until it shows: the gateway takes in a new grant from its
    events, a moment after the administrator made it."""
    deadline = time.monotonic() + EVENTUAL_TIMEOUT
    while True:
        page.goto(url)
        page.reload()
        try:
            expect(page.locator("#card-title")).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def _see_card(page: Page, gateway: str, username: str, path: str) -> None:
    page.goto(f"{gateway}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#search")).to_be_visible()
    expect(page.get_by_role("link", name="Administration")).to_have_count(0)
    _open_when_granted(page, f"{gateway}/#{path}")
    tabs = page.get_by_role("tablist")
    # Donations, a section with a tab of its own, follows the form's tabs.
    expect(tabs.get_by_role("tab")).to_have_text(["General", "Extra EN", "Donations"])
    tabs.get_by_role("tab", name="Extra EN").click()
    expect(page.locator("dl.fields dt")).to_have_text(["Test field EN"])
    assert_accessible(page, "the configured card (English)")
    page.get_by_label("Language").select_option("nl")
    tabs = page.get_by_role("tablist")
    expect(tabs.get_by_role("tab")).to_have_text(["Algemeen", "Extra NL", "Donaties"])
    tabs.get_by_role("tab", name="Extra NL").click()
    expect(page.locator("dl.fields dt")).to_have_text(["Testveld NL"])


def test_an_administrator_configures_a_view_for_a_new_user(
    web_platform: Platform, open_page: Callable[[str], Page]
) -> None:
    gateway = web_platform.gateway_url
    suffix = uuid.uuid4().hex[:6]
    key, label = f"adm_{suffix}", f"Adm field {suffix}"
    view_name, role, username = f"Adm view {suffix}", f"adm_clerk_{suffix}", f"adm_{suffix}"
    admin = open_page("en-GB")
    log_in(admin, gateway, "admin")
    admin.get_by_role("link", name="Administration").click()
    expect(admin.get_by_role("heading", level=1, name="Views")).to_be_visible()
    assert_accessible(admin, "administration")
    screenshot(admin, "admin-views")

    _define_field(admin, key, label)
    view_id = _create_view(admin, view_name)
    _configure_form(admin, key, label)
    with httpx.Client(base_url=gateway, timeout=30) as client:
        headers = api_headers(client, "admin")
        _check_saved_form(client, headers, view_id, key)
        _create_role(admin, role)
        _create_user(admin, username, role)
        _grant(admin, view_name, username)
        _api_key(admin, client, username)
        person = _a_person(web_platform, client, headers, view_id)

    user = open_page("en-GB")
    _see_card(user, gateway, username, f"/views/{view_id}/relations/{person['relation_id']}")


def test_staff_see_no_administration(
    web_platform: Platform, open_page: Callable[[str], Page]
) -> None:
    """Staff have no Administration entry and the screens refuse them. Breakage caught: the
    menu entry shown to everyone, or the route drawing for a user without the right."""
    page = open_page("en-GB")
    log_in(page, web_platform.gateway_url, "anouk")
    expect(page.get_by_role("link", name="Administration")).to_have_count(0)
    page.goto(f"{web_platform.gateway_url}/#/admin/users")
    expect(page.get_by_role("heading", level=1)).to_have_text("That did not work")
    expect(page.locator("#adm-users")).to_have_count(0)

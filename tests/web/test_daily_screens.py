"""The daily-work screens in a real browser, on the real platform with the demo association.

Anouk works in a view of her own village (made for this test: persons and organisations,
functions and contact moments on the form). She creates a person and is warned while typing
that a namesake exists; the new card's header shows the essentials at a glance. She gives the
person a function at an organisation (seen from both cards), ends it and removes it, archives
and unarchives the person, logs, edits and deletes contact moments and asks herself to follow
one up, which her dashboard then lists. Daan, read-only, gets no archive button (and the
gateway refuses him), and Carla reads a donor's donations in the Donors view. Every screen is
checked with axe-core; screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from relata_cli.seed import DONORS, MEMBERSHIP
from tests.platform.test_up import EVENTUAL_TIMEOUT, Platform
from tests.web.conftest import (
    LIVE_TIMEOUT_MS,
    api_headers,
    assert_accessible,
    log_in,
    screenshot,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ACCENT = "rgb(31, 95, 168)"  # the highlighted search result's background (app.css --accent)


def _letters() -> str:
    """A unique word of letters (a digit would make the search read it as a number)."""
    return "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:6])


def _village_view(client: httpx.Client, admin: dict[str, str], town: str) -> str:
    """A view of the relations living in ``town``, with functions and contact moments."""
    created = client.post(
        "/admin/views",
        headers=admin,
        json={
            "name": f"Village {town}",
            "base_filter": {"kind": "field", "field": "city", "op": "equals", "value": town},
            "form": {
                "tabs": [
                    {
                        "name": "Relation",
                        "fields": [
                            "relation_number",
                            "first_name",
                            "infix",
                            "last_name",
                            "organisation_name",
                        ],
                    },
                    {"name": "Contact details", "fields": ["addresses", "phones", "emails"]},
                    {"name": "Network", "fields": ["functions", "contact_moments", "history"]},
                ]
            },
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["view_id"])


def _relation(
    client: httpx.Client, headers: dict[str, str], view_id: str, kind: str, fields: dict[str, Any]
) -> str:
    created = client.post(
        f"/views/{view_id}/relations",
        headers=headers,
        json={"relation_type": kind, "fields": fields},
    )
    assert created.status_code == 201, created.text
    assert created.json()["in_view"] is True, created.text
    return str(created.json()["relation_id"])


def _all_relations(view: dict[str, Any]) -> str:
    return str(next(ref["list_id"] for ref in view["lists"] if ref["name"] == "All relations"))


def _found(platform: Platform, client: httpx.Client, headers: dict[str, str], path: str) -> None:
    """Wait until the view's search finds ``q`` (the search index follows within seconds)."""

    def hit() -> bool | None:
        hits = client.get(path, headers=headers)
        assert hits.status_code == 200, hits.text
        return bool(hits.json()) or None

    platform.eventually(f"search {path}", hit, EVENTUAL_TIMEOUT)


def test_daily_screens(web_platform: Platform, open_page: Callable[[str], Page]) -> None:
    platform = web_platform
    gateway = platform.gateway_url
    client = httpx.Client(base_url=gateway, timeout=30)
    admin = api_headers(client, "admin")
    anouk_api = api_headers(client, "anouk")
    word = _letters()
    town, last_name, organisation = f"Dorp{word}", f"Zwaan{word}", f"Bakkerij Zwaan{word}"
    view_id = _village_view(client, admin, town)
    anouk_id = client.get("/me", headers=anouk_api).json()["user_id"]
    granted = client.put(
        f"/admin/views/{view_id}/grants/users/{anouk_id}", headers=admin, json={"can_edit": True}
    )
    assert granted.status_code == 204, granted.text
    platform.eventually(
        "Anouk has the village view",
        lambda: (
            any(v["view_id"] == view_id for v in client.get("/views", headers=anouk_api).json())
            or None
        ),
        EVENTUAL_TIMEOUT,
    )
    base = f"/views/{view_id}"
    namesake = {
        "first_name": "Lotte",
        "last_name": last_name,
        "addresses": [{"type": "home", "street": "Kerkstraat", "house_number": "3", "city": town}],
        "emails": [{"type": "private", "address": f"lotte.{word}@old.example"}],
    }
    _relation(client, anouk_api, view_id, "person", namesake)
    address = [{"type": "work", "street": "Molenweg", "house_number": "1", "city": town}]
    _relation(
        client,
        anouk_api,
        view_id,
        "organisation",
        {"organisation_name": organisation, "addresses": address},
    )
    _found(platform, client, anouk_api, f"{base}/search?q={last_name}")
    _found(platform, client, anouk_api, f"{base}/search?q=Bakkerij%20Zwaan{word}")

    # "Log out" is not offered on the login screen; the dashboard puts focus in the search bar.
    anouk = open_page("en-GB")
    anouk.on("dialog", lambda dialog: dialog.accept())
    anouk.goto(f"{gateway}/")
    expect(anouk.get_by_label("Username")).to_be_visible()
    expect(anouk.locator("#logout")).to_be_hidden()
    log_in(anouk, gateway, "anouk")
    expect(anouk.locator("#logout")).to_be_visible()
    expect(anouk.locator("#search")).to_be_focused()
    expect(anouk.locator("#my-follow-ups")).to_be_visible()
    assert_accessible(anouk, "dashboard")

    # 1. She creates a person; while she types the name, the namesake is named.
    anouk.locator(f"#menu a[href='#{base}/new']").click()
    expect(anouk.get_by_role("heading", name="New relation")).to_be_visible()
    anouk.get_by_label("First name").fill("Lotte")
    anouk.get_by_label("Last name").fill(last_name)
    warning = anouk.locator("#duplicate-warning")
    expect(warning).to_contain_text("This relation may exist already")
    expect(warning).to_contain_text(f"Lotte {last_name}")
    expect(warning).to_contain_text(f"lotte.{word}@old.example")
    anouk.locator("input[name='addresses.0.street']").fill("Dorpsstraat")
    anouk.locator("input[name='addresses.0.house_number']").fill("12")
    anouk.locator("input[name='addresses.0.postal_code']").fill("1234 AB")
    anouk.locator("input[name='addresses.0.city']").fill(town)
    anouk.locator("input[name='phones.0.number']").fill("+31 6 1234 5678")
    anouk.locator("input[name='emails.0.address']").fill(f"lotte.{word}@new.example")
    assert_accessible(anouk, "create a relation, with the duplicate warning")
    screenshot(anouk, "create-relation")
    anouk.get_by_role("button", name="Create relation").click()
    result = anouk.locator("#create-result")
    expect(result).to_contain_text("falls in this view", timeout=LIVE_TIMEOUT_MS)

    # 2. The card's header: relation number, main address, e-mail and phone at a glance.
    anouk.get_by_role("link", name="Open the relation card").click()
    expect(anouk.locator("#card-title")).to_have_text(f"Lotte {last_name}")
    header = anouk.locator("#card-summary")
    expect(header.locator("[data-summary='relation_number'] dd")).to_have_text(re.compile(r"\d+"))
    expect(header).to_contain_text(f"Dorpsstraat 12, 1234 AB {town}")
    expect(header).to_contain_text(f"lotte.{word}@new.example")
    expect(header).to_contain_text("+31612345678")  # as the relations service stores it
    assert_accessible(anouk, "card, Relation tab")
    screenshot(anouk, "card-header")
    person_card = anouk.url
    anouk.get_by_role("tab", name="Contact details").click()
    assert_accessible(anouk, "card, Contact details tab")

    # 3. A function from the role catalogue at the organisation: shown on both cards, ended,
    # then removed.
    anouk.get_by_role("tab", name="Network").click()
    expect(anouk.locator("[data-section='functions']")).to_contain_text("No functions.")
    anouk.get_by_text("Add a function").first.click()
    form = anouk.locator("#function-form")
    form.get_by_label("Role").select_option("holds:employee")
    form.get_by_label("Search a relation in this view").first.fill(organisation)
    form.get_by_role("radio", name=re.compile(organisation)).check()
    form.get_by_role("button", name="Add a function").click()
    functions = anouk.locator("[data-section='functions']")
    expect(functions).to_contain_text(f"Employee at {organisation}")
    expect(functions.locator(".badge")).to_have_text("active")
    assert_accessible(anouk, "card, Network tab with a function")
    functions.get_by_role("button", name="End Employee").click()
    expect(functions.locator(".badge")).to_have_text("ended")
    functions.get_by_role("link", name=organisation).click()
    expect(anouk.locator("#card-title")).to_have_text(organisation)
    anouk.get_by_role("tab", name="Network").click()
    at_organisation = anouk.locator("[data-section='functions']")
    expect(at_organisation).to_contain_text(f"Lotte {last_name}: Employee")
    at_organisation.get_by_role("button", name="Remove Employee").click()
    expect(at_organisation).to_contain_text("No functions.")

    # 4. Archive and unarchive from the card (each confirmed).
    anouk.goto(person_card)
    expect(anouk.locator("#card-title")).to_have_text(f"Lotte {last_name}")
    anouk.get_by_role("button", name="Archive", exact=True).click()
    expect(anouk.locator("#archived-notice")).to_contain_text("is archived")
    assert_accessible(anouk, "archived relation")
    anouk.get_by_role("button", name="Unarchive", exact=True).click()
    expect(anouk.locator("#card-summary")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(anouk.get_by_role("button", name="Archive", exact=True)).to_be_visible()

    # 5. Contact moments in their own tab: log one, follow it up, edit it; delete another.
    anouk.get_by_role("tab", name="Contact moments").click()
    anouk.get_by_text("Log a contact moment").first.click()
    anouk.get_by_label("Subject").fill("Asked about volunteering")
    anouk.get_by_label("Notes").fill("Wants to help at the open day.")
    anouk.locator("#moment-form").get_by_role("button", name="Log a contact moment").click()
    timeline = anouk.locator("#timeline")
    expect(timeline).to_contain_text("Asked about volunteering")
    timeline.locator("details.day-add summary").first.click()
    follow_up = timeline.locator(".follow-up-form").first
    expect(follow_up.get_by_label("Who follows up")).to_contain_text("Anouk de Vries")
    follow_up.get_by_label("Note").fill("Call back about the open day")
    follow_up.get_by_role("button", name="Add a follow-up").click()
    expect(timeline.locator(".day-follow-ups")).to_contain_text("Call back about the open day")
    expect(timeline.locator(".day-follow-ups")).to_contain_text("Anouk de Vries")
    assert_accessible(anouk, "card, Contact moments tab with a follow-up")
    screenshot(anouk, "follow-ups")
    timeline.get_by_role("button", name="Edit Asked about volunteering").click()
    edit = anouk.locator("#moment-edit-form")
    edit.get_by_label("Subject").fill("Asked about volunteering again")
    edit.get_by_role("button", name="Save").click()
    expect(timeline).to_contain_text("Asked about volunteering again")
    anouk.get_by_text("Log a contact moment").first.click()
    anouk.locator("#moment-form").get_by_label("Subject").fill("Wrong number")
    anouk.locator("#moment-form").get_by_role("button", name="Log a contact moment").click()
    expect(timeline).to_contain_text("Wrong number")
    timeline.get_by_role("button", name="Delete Wrong number").click()
    expect(timeline).not_to_contain_text("Wrong number")
    expect(timeline).to_contain_text("Asked about volunteering again")

    # The history tells what happened in sentences, with names.
    anouk.get_by_role("tab", name="Network").click()
    expect(anouk.locator("#history")).to_contain_text("Anouk de Vries created this relation.")

    # 6. Her dashboard lists the open follow-up; marking it done there takes it off.
    anouk.locator("#menu").get_by_role("link", name="Dashboard").click()
    expect(anouk.locator("#search")).to_be_focused()
    mine = anouk.locator("#my-follow-ups")
    item = mine.locator("li", has_text="Call back about the open day")
    expect(item).to_contain_text(f"Lotte {last_name}")
    item.get_by_role("button", name=re.compile("Mark done")).click()
    expect(mine).not_to_contain_text("Call back about the open day")

    # 7. Namesakes in the search results are told apart; the first is clearly highlighted.
    anouk.locator("#search").fill(last_name)
    hits = anouk.locator("#search-results li[role='option']").filter(has_text=f"Lotte {last_name}")
    expect(hits).to_have_count(2)
    expect(hits.nth(0).locator(".hit-detail")).to_contain_text(town)
    details = {hits.nth(i).locator(".hit-detail").inner_text() for i in range(2)}
    assert any("@old.example" in d for d in details) and any("@new.example" in d for d in details)
    first = anouk.locator("#search-results li[role='option']").first
    expect(first).to_have_attribute("aria-selected", "true")
    background = first.evaluate("node => getComputedStyle(node).backgroundColor")
    assert background == ACCENT, background
    assert_accessible(anouk, "dashboard, search results open")

    # 8. Daan (read-only in the membership view) gets no Archive button nor a "New relation"
    # link; the gateway refuses him as well. (A card offering Archive on the strength of the
    # role's right alone, without the view's edit right, fails here.)
    daan_api = api_headers(client, "daan")
    membership = next(
        v for v in client.get("/views", headers=daan_api).json() if v["name"] == MEMBERSHIP
    )
    member = client.get(
        f"/views/{membership['view_id']}/lists/{_all_relations(membership)}/members",
        headers=daan_api,
        params={"limit": 1},
    ).json()["relations"][0]
    member_path = f"/views/{membership['view_id']}/relations/{member['relation_id']}"
    daan = open_page("en-GB")
    log_in(daan, gateway, "daan")
    expect(daan.locator("#menu").get_by_role("link", name="+ New relation")).to_have_count(0)
    daan.goto(f"{gateway}/app/#{member_path}")
    expect(daan.locator("#card-title")).to_have_text(member["display_name"])
    expect(daan.get_by_role("button", name="Archive", exact=True)).to_have_count(0)
    etag = client.get(member_path, headers=daan_api).headers["ETag"]
    refused = client.post(f"{member_path}/archive", headers={**daan_api, "If-Match": etag})
    assert refused.status_code == 403, refused.text

    # 9. Carla opens a donor in the Donors view: totals, the last gift and a list of gifts,
    # money and dates as English writes them.
    carla_api = api_headers(client, "carla")
    donors = next(v for v in client.get("/views", headers=carla_api).json() if v["name"] == DONORS)
    donor = client.get(
        f"/views/{donors['view_id']}/lists/{_all_relations(donors)}/members",
        headers=carla_api,
        params={"limit": 1},
    ).json()["relations"][0]
    carla = open_page("en-GB")
    log_in(carla, gateway, "carla")
    carla.goto(f"{gateway}/app/#/views/{donors['view_id']}/relations/{donor['relation_id']}")
    expect(carla.locator("#card-title")).to_have_text(donor["display_name"])
    carla.get_by_role("tab", name="Donations").click()
    expect(carla.locator("#donation-summary")).to_contain_text("€")
    expect(carla.locator("#last-gift")).to_contain_text(re.compile(r"€\d"))
    expect(carla.locator("#donations tbody tr").first).to_contain_text(
        re.compile(r"\d{1,2} [A-Z][a-z]{2,3} \d{4}")
    )
    assert_accessible(carla, "card, Donations tab")
    screenshot(carla, "donations")
    client.close()

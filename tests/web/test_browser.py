"""The staff web application in a real browser, on the real platform.

``crm up`` starts the platform with the demo association (as in tests/platform/test_up.py);
headless Chromium, driven by Playwright, then walks the daily work through the application
the gateway serves: Anouk logs in, searches a member, opens the card and moves the member to
Utrecht while her colleague Daan watches the card ("Anouk is editing"), his dashboard and the
list "Members in Utrecht" update by themselves. A stale edit is refused with a clear message,
a filter is built and saved as a list, a contact moment is logged (in the card's contact
moments tab), and a selection is made, refreshed and exported. Screenshots of the dashboard,
a list, the filter builder and a card are saved in docs/screenshots/.

The browser is Debian's ``chromium`` package (``scripts/ensure-browser.sh`` installs it;
``CRM_CHROMIUM`` names another executable). Without it this test fails: it never skips.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from relata_cli.seed import MEMBERSHIP, UTRECHT_LIST
from tests.platform.test_up import EVENTUAL_TIMEOUT, Platform
from tests.web.conftest import (
    LIVE_TIMEOUT_MS,
    api_headers,
    assert_accessible,
    log_in,
    screenshot,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _members_outside_utrecht(
    platform: Platform,
    client: httpx.Client,
    headers: dict[str, str],
    base: str,
) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]] | None:
        outside = {"not": {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}}
        page = client.post(
            f"{base}/evaluate", headers=headers, json={"filter": outside}, params={"limit": 20}
        )
        assert page.status_code == 200, page.text
        rows = page.json()["relations"]
        return rows if len(rows) >= 2 else None

    return platform.eventually("members outside Utrecht", found, EVENTUAL_TIMEOUT)


def _searchable(
    platform: Platform,
    client: httpx.Client,
    headers: dict[str, str],
    base: str,
    member: dict[str, Any],
) -> None:
    def hit() -> bool | None:
        hits = client.get(
            f"{base}/search", headers=headers, params={"q": member["display_name"], "limit": 50}
        )
        assert hits.status_code == 200, hits.text
        return any(h["relation_id"] == member["relation_id"] for h in hits.json()) or None

    platform.eventually(f"search finds {member['display_name']!r}", hit, EVENTUAL_TIMEOUT)


def _search_in(page: Page, view_name: str) -> None:
    """Search in this view: other browser tests may have granted the user more views, and
    the dashboard then searches the view chosen in its picker."""
    picker = page.locator("#view-picker")
    if picker.count():
        picker.select_option(label=view_name)
        expect(page.locator("#view-picker")).to_have_value(
            picker.locator("option", has_text=view_name).first.get_attribute("value") or ""
        )
    expect(page.locator("#search")).to_be_visible()


def _find_in_list(page: Page, list_name: str, name: str) -> None:
    """Page through the open list until a row names ``name`` (the list is sorted by name);
    from the first page again while the relation has not entered it yet."""
    deadline = time.monotonic() + LIVE_TIMEOUT_MS / 1000
    while True:
        table = page.locator("#list-table")
        expect(table).to_be_visible()
        if table.get_by_role("link", name=name, exact=True).count():
            return
        following = page.get_by_role("button", name="Volgende →")
        if following.is_enabled():
            following.click()
            page.wait_for_timeout(300)
            continue
        if time.monotonic() > deadline:
            pytest.fail(f"{name!r} is not in the list", pytrace=False)
        page.wait_for_timeout(1000)
        page.locator("#menu").get_by_role("link", name=list_name, exact=True).click()
        page.wait_for_timeout(300)


def test_daily_walkthrough_in_the_browser(
    web_platform: Platform, open_page: Callable[[str], Page]
) -> None:
    started = time.monotonic()
    platform = web_platform
    gateway = platform.gateway_url
    client = httpx.Client(base_url=gateway, timeout=30)
    anouk_api = api_headers(client, "anouk")
    view = next(
        v for v in client.get("/views", headers=anouk_api).json() if v["name"] == MEMBERSHIP
    )
    base = f"/views/{view['view_id']}"
    lists = {ref["name"]: ref["list_id"] for ref in view["lists"]}
    member, other = _members_outside_utrecht(platform, client, anouk_api, base)[:2]
    name = member["display_name"]
    card_path = f"{base}/relations/{member['relation_id']}"
    _searchable(platform, client, anouk_api, base, member)

    # The root of the gateway is the application.
    assert client.get("/", follow_redirects=False).headers["location"] == "/app/"

    # Daan (read-only, in Dutch) keeps his dashboard and the member's card open.
    daan_dashboard = open_page("nl-NL")
    log_in(daan_dashboard, gateway, "daan", dutch=True)
    expect(
        daan_dashboard.get_by_role("heading", name="Recent gewijzigd door anderen")
    ).to_be_visible()
    daan_list = open_page("nl-NL")
    log_in(daan_list, gateway, "daan", dutch=True)
    daan_list.locator("#menu").get_by_role("link", name=UTRECHT_LIST, exact=True).click()
    expect(daan_list.locator("#list-table")).to_be_visible()
    count_before = daan_list.locator("#list-count").inner_text()
    daan_card = open_page("nl-NL")
    log_in(daan_card, gateway, "daan", dutch=True)
    daan_card.goto(f"{gateway}/app/#{card_path}")
    expect(daan_card.locator("#card-title")).to_have_text(name)
    expect(daan_card.get_by_role("button", name="Wijzigen")).to_have_count(0)  # read-only

    # 1. Anouk logs in (in English) and finds the member with the search bar, by keyboard.
    anouk = open_page("en-GB")
    log_in(anouk, gateway, "anouk")
    _search_in(anouk, MEMBERSHIP)
    anouk.locator("#search").fill(name)
    expect(anouk.locator("#search-results").get_by_text(name, exact=True).first).to_be_visible()
    # By keyboard: down the results to the member (the first hits may be namesakes), Enter.
    for _ in range(10):
        chosen = anouk.locator("#search-results li[aria-selected='true']")
        if chosen.get_attribute("data-relation") == member["relation_id"]:
            break
        anouk.locator("#search").press("ArrowDown")
    anouk.locator("#search").press("Enter")
    expect(anouk.locator("#card-title")).to_have_text(name)

    # 2. She edits the address; Daan's card says she is editing.
    anouk.get_by_role("tab", name="Contact details").click()
    anouk.get_by_role("button", name="Edit").click()
    expect(daan_card.locator("#colleague-editing")).to_contain_text(
        "Anouk de Vries", timeout=LIVE_TIMEOUT_MS
    )
    anouk.locator("input[name='addresses.0.street']").fill("Oudegracht")
    anouk.locator("input[name='addresses.0.house_number']").fill("158")
    anouk.locator("input[name='addresses.0.postal_code']").fill("3511 AZ")
    anouk.locator("input[name='addresses.0.city']").fill("Utrecht")
    anouk.get_by_role("button", name="Save").click()
    expect(anouk.locator("[data-field='addresses']")).to_contain_text("Oudegracht 158")
    expect(anouk.locator("[data-field='addresses']")).to_contain_text("Utrecht")
    screenshot(anouk, "card")

    # 3. Daan's card and dashboard update by themselves (server-sent events).
    expect(daan_card.locator("#colleague-editing")).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    daan_card.get_by_role("tab", name="Contact details").click()
    expect(daan_card.locator("[data-field='addresses']")).to_contain_text(
        "Oudegracht 158", timeout=LIVE_TIMEOUT_MS
    )
    edited = daan_dashboard.locator("#recently-edited")
    expect(edited.get_by_role("link", name=name, exact=True).first).to_be_visible(
        timeout=LIVE_TIMEOUT_MS
    )
    expect(edited).to_contain_text("Anouk de Vries")
    screenshot(daan_dashboard, "dashboard")

    # 4. The member enters "Members in Utrecht": Daan's open list counts one more by itself,
    # and shows the member.
    expect(daan_list.locator("#list-count")).not_to_have_text(count_before, timeout=LIVE_TIMEOUT_MS)
    screenshot(daan_list, "list")
    _find_in_list(daan_list, UTRECHT_LIST, name)

    # 5. An edit based on an old version is refused with a clear message, nothing is lost.
    stale = open_page("en-GB")
    log_in(stale, gateway, "anouk")
    stale.goto(f"{gateway}/app/#{card_path}")
    expect(stale.locator("#card-title")).to_have_text(name)
    stale.get_by_role("button", name="Edit").click()
    current = client.get(card_path, headers=anouk_api)
    changed = client.patch(
        card_path,
        headers={**anouk_api, "If-Match": current.headers["ETag"]},
        json={"fields": {"birth_date": "1970-01-02"}},
    )
    assert changed.status_code == 200, changed.text
    stale.locator("input[name='birth_date']").fill("1980-05-06")
    stale.get_by_role("button", name="Save").click()
    expect(stale.locator("#card-message")).to_contain_text("a colleague changed this relation")
    stale.get_by_role("button", name="Load the latest version").click()
    expect(stale.locator("[data-field='birth_date']")).to_have_text("1970-01-02")
    stale.close()

    # 6. She logs a contact moment in the card's own tab for them; the history tells her
    # change as a sentence, with her name.
    anouk.get_by_role("tab", name="Contact moments").click()
    anouk.get_by_text("Log a contact moment").first.click()
    anouk.get_by_label("Subject").fill("Moved to Utrecht")
    anouk.get_by_label("Notes").fill("New address confirmed by phone.")
    anouk.locator("#moment-form").get_by_role("button", name="Log a contact moment").click()
    expect(anouk.locator("#timeline")).to_contain_text("Moved to Utrecht")
    assert_accessible(anouk, "card, contact moments tab")
    anouk.get_by_role("tab", name="Network").click()
    expect(anouk.locator("#history")).to_contain_text(
        re.compile("Anouk de Vries (changed|set) Addresses")
    )
    expect(anouk.locator("#history")).to_contain_text("Oudegracht 158, 3511 AZ Utrecht")

    # 7. A filter from the field catalogue: city is Utrecht and (membership regular or
    # student); its count is live, and it is saved as a list.
    # The view's own "+ New filter" (other browser tests may have given her more views).
    anouk.locator("#menu").locator(f"a[href='#{base}/filter']").click()
    expect(anouk.locator("#filter-tree")).to_be_visible()
    anouk.locator("#filter-tree input.value").first.fill("Utrecht")
    expect(anouk.locator("#filter-count")).to_contain_text("relations")
    anouk.get_by_role("button", name="Add a group").click()
    group = anouk.locator("#filter-tree fieldset.group fieldset.group")
    for choice in ("regular", "student"):
        group.locator(".add-criterion").select_option("field")
        row = group.locator(".criterion").last
        row.get_by_label("Field").select_option("custom.membership_type")
        row.get_by_label("Value").select_option(choice)
    expect(anouk.locator("#filter-count")).not_to_have_text("…")
    anouk.wait_for_timeout(800)  # the debounced count settles
    screenshot(anouk, "filter-builder")
    counted = anouk.locator("#filter-count").inner_text()
    anouk.get_by_label("Name of the list").fill("Utrecht, regular or student")
    anouk.get_by_role("button", name="Save as list").click()
    expect(anouk.locator("h1")).to_contain_text("Utrecht, regular or student")
    expect(anouk.locator("#list-count")).to_have_text(counted)
    expect(anouk.locator("#menu")).to_contain_text("Utrecht, regular or student")

    # 8. A selection from "Members in Utrecht": refreshed after another member moves in, it
    # names who was added; then the CSV export.
    anouk.locator("#menu").get_by_role("link", name=UTRECHT_LIST, exact=True).click()
    anouk.get_by_label("Name of the selection").fill("Utrecht mailing")
    anouk.get_by_role("button", name="Make a selection").click()
    expect(anouk.locator("h1")).to_contain_text("Utrecht mailing")
    other_card = client.get(f"{base}/relations/{other['relation_id']}", headers=anouk_api)
    moved = client.patch(
        f"{base}/relations/{other['relation_id']}",
        headers={**anouk_api, "If-Match": other_card.headers["ETag"]},
        json={"fields": {"addresses": [{"type": "home", "street": "Neude", "city": "Utrecht"}]}},
    )
    assert moved.status_code == 200, moved.text

    def entered() -> bool | None:
        card = client.get(f"{base}/relations/{other['relation_id']}", headers=anouk_api).json()
        return lists[UTRECHT_LIST] in {ref["list_id"] for ref in card["lists"]} or None

    platform.eventually("the other member enters the list", entered, EVENTUAL_TIMEOUT)
    anouk.get_by_role("button", name="Refresh").click()
    changes = anouk.locator("#refresh-changes")
    expect(changes).to_contain_text("1 added")
    expect(changes.get_by_role("link", name=other["display_name"])).to_be_visible()
    with anouk.expect_download() as download:
        anouk.get_by_role("button", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    # Headers in the user's language; sensitive columns (birth date) start unticked.
    assert rows[0][:2] == ["Relation id", "Relation type"] and "City" in rows[0]
    assert "Birth date" not in rows[0]
    assert other["relation_id"] in {row[0] for row in rows[1:]}

    client.close()
    print(f"walkthrough in the browser done after {time.monotonic() - started:.0f} s")

"""The lists and selections screens in a real browser, on the real platform with the demo
association: the administrator builds a list, opens it for editing (its filter drawn back into
the filter builder), renames it, changes the filter, chooses its columns, sorts and searches
it, ticks rows and bulk-edits them (dry run, run with progress, undo), asks why a relation is
in it and who was in it on a date, makes a selection that refreshes every day and before a
mailing, exports it with headers in the user's language (sensitive columns unticked), and
deletes the list: refused while the selection uses it (named), accepted after. The donation
condition of the filter builder means money and finds donors by default.

Screenshots: list-editing, bulk-edit, selection-schedule (docs/screenshots/).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from relata_cli.seed import DONORS, MEMBERSHIP
from tests.platform.test_up import EVENTUAL_TIMEOUT, Platform
from tests.web.conftest import LIVE_TIMEOUT_MS, api_headers, assert_accessible, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _view(client: httpx.Client, headers: dict[str, str], name: str) -> dict[str, Any]:
    return next(v for v in client.get("/views", headers=headers).json() if v["name"] == name)


def _birth_date(client: httpx.Client, headers: dict[str, str], base: str, rid: str) -> Any:
    card = client.get(f"{base}/relations/{rid}", headers=headers)
    assert card.status_code == 200, card.text
    fields = {k: v for tab in card.json()["tabs"] for k, v in (tab.get("fields") or {}).items()}
    return fields.get("birth_date")


def _utrecht_members(platform: Platform, client: httpx.Client, headers: dict, base: str) -> int:
    in_utrecht = {"kind": "field", "field": "city", "op": "equals", "value": "Utrecht"}

    def counted() -> int | None:
        answer = client.post(f"{base}/evaluate", headers=headers, json={"filter": in_utrecht})
        assert answer.status_code == 200, answer.text
        return answer.json()["count"] if answer.json()["count"] >= 3 else None

    return platform.eventually("three members in Utrecht", counted, EVENTUAL_TIMEOUT)


def _row_names(page: Page) -> list[str]:
    return page.locator("#list-table tbody tr td:nth-child(2) a").all_inner_texts()


def test_lists_and_selections_screens(
    web_platform: Platform, open_page: Callable[[str], Page]
) -> None:
    platform = web_platform
    gateway = platform.gateway_url
    client = httpx.Client(base_url=gateway, timeout=30)
    admin = api_headers(client, "admin")
    view = _view(client, admin, MEMBERSHIP)
    assert view["can_edit"]
    base = f"/views/{view['view_id']}"
    _utrecht_members(platform, client, admin, base)
    suffix = uuid.uuid4().hex[:6]
    name = f"Utrecht walk {suffix}"
    renamed = f"Utrecht renamed {suffix}"
    page = open_page("en-GB")
    log_in(page, gateway, "admin")

    # The menu: a view folds shut and open again; its lists screen is one click away.
    fold = page.locator("#menu details", has=page.locator("summary", has_text=MEMBERSHIP))
    lists_link = fold.get_by_role("link", name="All lists")
    fold.locator("summary").click()
    expect(lists_link).to_be_hidden()
    fold.locator("summary").click()
    expect(lists_link).to_be_visible()

    # Save a list from the filter builder.
    page.goto(f"{gateway}/app/#{base}/filter")
    page.locator("#filter-tree input.value").first.fill("Utrecht")
    expect(page.locator("#filter-count")).to_contain_text("relations")
    page.get_by_label("Name of the list").fill(name)
    page.get_by_role("button", name="Save as list").click()
    expect(page.locator("h1")).to_contain_text(name)
    list_id = page.url.rsplit("/", 1)[-1]
    assert_accessible(page, "list screen")

    # Open it for editing: its filter is back in the builder; change it.
    page.get_by_role("link", name="Change the filter").click()
    expect(page.locator("h1")).to_contain_text(f"Edit the list “{name}”")
    value = page.locator("#filter-tree input.value").first
    expect(value).to_have_value("Utrecht")
    page.locator("#filter-tree .criterion").first.get_by_label("Comparison").select_option(
        "starts_with"
    )
    page.locator("#filter-tree input.value").first.fill("Utrech")
    expect(page.locator("#filter-count")).to_contain_text("relations")
    assert_accessible(page, "list editing")
    screenshot(page, "list-editing")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("h1")).not_to_contain_text("Edit the list")
    expect(page.locator("#list-table")).to_be_visible()
    saved = client.get(f"{base}/lists/{list_id}", headers=admin).json()["filter"]
    criterion = saved["all"][0] if "all" in saved else saved
    assert criterion["op"] == "starts_with" and criterion["value"] == "Utrech"

    # Rename it.
    page.locator("#lst-manage").get_by_label("Name of the list").fill(renamed)
    page.get_by_role("button", name="Rename").click()
    expect(page.locator("h1")).to_contain_text(renamed)
    expect(page.locator("#menu")).to_contain_text(renamed)

    # Choose columns from the form's fields: remembered for this list.
    page.get_by_role("button", name="Choose columns").click()
    page.locator("#lst-columns").get_by_label("Birth date", exact=True).check()
    page.locator("#lst-columns").get_by_label("Addresses", exact=True).check()
    page.get_by_role("button", name="Show columns").click()
    table = page.locator("#list-table")
    expect(table.locator("thead")).to_contain_text("Birth date")
    expect(table.locator("tbody td[data-column='addresses']").first).not_to_have_text("")
    page.reload()
    expect(page.locator("#list-table thead")).to_contain_text("Birth date")

    # Sort: by name, the other way round.
    ascending = _row_names(page)
    page.locator("#list-table thead").get_by_role("button", name="Name", exact=True).click()
    expect(page.locator("#list-table th[aria-sort='descending']")).to_have_count(1)
    descending = _row_names(page)
    assert descending[0] != ascending[0]

    # Search within the list.
    wanted = descending[0]
    page.get_by_label("Search in this list").fill(wanted.split()[-1])
    expect(page.locator("#lst-found")).to_be_visible()
    expect(page.locator("#list-table").get_by_role("link", name=wanted, exact=True)).to_be_visible()
    page.get_by_label("Search in this list").fill("")
    expect(page.locator("#lst-found")).to_have_count(0)

    # Tick two rows (and "all on this page" ticks and unticks the page) and bulk-edit them.
    page.get_by_label("Select all on this page").check()
    expect(page.locator("#lst-picked-count")).not_to_have_text("0 selected")
    page.get_by_label("Select all on this page").uncheck()
    expect(page.locator("#lst-picked-count")).to_have_text("0 selected")
    first, second = _row_names(page)[:2]
    page.get_by_label(f"Select {first}", exact=True).check()
    page.get_by_label(f"Select {second}", exact=True).check()
    expect(page.locator("#lst-picked-count")).to_have_text("2 selected")
    links = page.locator("#list-table tbody tr td:nth-child(2) a")
    ids = {
        links.nth(i).inner_text(): str(links.nth(i).get_attribute("href")).rsplit("/", 1)[-1]
        for i in range(2)
    }
    before = {n: _birth_date(client, admin, base, ids[n]) for n in (first, second)}
    new_date = "1999-09-09"
    assert new_date not in before.values()
    page.get_by_role("button", name="Bulk edit the 2 selected…").click()
    bulk = page.locator("#lst-bulk")
    bulk.locator("select.lst-bulk-field").select_option("birth_date")
    bulk.locator(".lst-bulk-value input").fill(new_date)
    bulk.get_by_role("button", name="Dry run (nothing changes)").click()
    expect(page.locator("#lst-bulk-summary")).to_contain_text("2 relations: 2 change")
    expect(page.locator("#lst-bulk-planned")).to_contain_text(first)
    assert _birth_date(client, admin, base, ids[first]) == before[first]  # a dry run
    assert_accessible(page, "bulk edit")
    screenshot(page, "bulk-edit")
    bulk.get_by_role("button", name="Run the bulk edit").click()
    expect(page.locator("#lst-bulk-status")).to_contain_text("Done.", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("#lst-bulk-progress")).to_be_visible()

    def dates_are(wanted: dict[str, Any]) -> bool | None:
        return {n: _birth_date(client, admin, base, ids[n]) for n in wanted} == wanted or None

    platform.eventually(
        "the cards show the bulk edit",
        lambda: dates_are({first: new_date, second: new_date}),
        EVENTUAL_TIMEOUT,
    )
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#lst-bulk-undone")).to_contain_text("2 relations restored")
    platform.eventually("the cards show the undo", lambda: dates_are(before), EVENTUAL_TIMEOUT)

    # Why is this relation here?
    page.get_by_role("button", name=f"Why is {first} in this list?").click()
    why = page.locator("#lst-why")
    expect(why).to_contain_text("In the list now.")
    expect(why).to_contain_text("Entered")
    assert_accessible(page, "why is this relation here")
    why.get_by_role("button", name="Close").click()
    expect(why).to_have_count(0)

    # Members on a date.
    page.locator("#lst-on-date").fill(date.today().isoformat())
    page.get_by_role("button", name="Show members").click()
    expect(page.locator("#lst-on-result")).to_contain_text("relations")

    # A selection of the list, refreshed every day at a time and before a mailing.
    page.get_by_label("Name of the selection").fill(f"Walk mailing {suffix}")
    page.get_by_role("button", name="Make a selection").click()
    expect(page.locator("h1")).to_contain_text(f"Walk mailing {suffix}")
    page.get_by_label("Refresh every day").check()
    page.get_by_label("From (time)").fill("07:15")
    page.get_by_role("button", name="Save the schedule").click()
    expect(page.locator("#schedule-now")).to_have_text("Every day at 07:15")
    page.get_by_role("button", name="Update for the mailing").click()
    expect(page.locator("#refresh-changes")).to_contain_text("added")
    assert_accessible(page, "selection with schedule")
    screenshot(page, "selection-schedule")

    # Export in Dutch: the form's columns, sensitive ones unticked, headers as labels.
    page.locator("#language").select_option("nl")
    columns = page.locator("#export-columns")
    expect(columns.get_by_label("Geboortedatum")).not_to_be_checked()
    expect(columns.get_by_label("Voornaam")).to_be_checked()
    columns.get_by_label("Telefoonnummer").uncheck()
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV downloaden").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert rows[0][:2] == ["Relatie-id", "Soort relatie"], rows[0]
    assert "Voornaam" in rows[0] and "Achternaam" in rows[0] and "Plaats" in rows[0]
    assert "Geboortedatum" not in rows[0] and "first_name" not in rows[0]
    assert len(rows) > 1
    page.locator("#language").select_option("en")
    page.goto(f"{gateway}/app/#{base}/selections")
    expect(page.locator("#selections")).to_contain_text("Every day at 07:15")
    assert_accessible(page, "selections")

    # Delete: refused while the selection uses the list (named), accepted after.
    page.goto(f"{gateway}/app/#{base}/lists/{list_id}")
    page.get_by_role("button", name="Delete this list").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.locator("#lst-used-by")).to_contain_text(f"Selection: Walk mailing {suffix}")
    for made in client.get(f"{base}/selections", headers=admin).json():
        if made["list_id"] == list_id:
            gone = client.delete(f"{base}/selections/{made['selection_id']}", headers=admin)
            assert gone.status_code == 204, gone.text
    page.get_by_role("button", name="Delete this list").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.locator("h1")).to_contain_text("Lists")
    expect(page.locator("#lst-overview")).not_to_contain_text(renamed)
    expect(page.locator("#lst-overview")).to_contain_text("All relations")
    assert_accessible(page, "lists overview")

    # The donation condition: an amount of money, over a period that defaults to "ever".
    donors = _view(client, admin, DONORS)
    page.goto(f"{gateway}/app/#/views/{donors['view_id']}/filter")
    page.locator("#filter-tree .add-criterion").first.select_option("donations")
    condition = page.locator("#filter-tree .criterion", has_text="Donations").last
    expect(condition.get_by_label("Period")).to_have_value("ever")
    condition.get_by_label("Amount: in total at least (€)").fill("1")
    all_donors = client.post(
        f"/views/{donors['view_id']}/evaluate",
        headers=admin,
        json={"filter": {"kind": "donations", "total_at_least": "1"}},
    ).json()["count"]
    assert all_donors > 0
    expect(page.locator("#filter-count")).to_have_text(f"{all_donors} relations")
    assert_accessible(page, "filter builder with a donation condition")
    client.close()

"""The automation screens in a real browser: the functional administrator reviews the duplicate
queue (one pair is "not a duplicate", the other is merged with a value chosen per field, then
the merge is undone), makes an adjustment rule and sees its run log, makes an action button and
places it on a card, which a staff member then presses, defines a generated property and sees
it on a card, and adds and deletes a merge rule. Staff see no automation menu but do see the
button on the card.

The test makes a view of its own (persons with a family name of its own) so that what it
changes touches nothing another test reads.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.platform.test_up import EVENTUAL_TIMEOUT, Platform
from tests.web.conftest import LIVE_TIMEOUT_MS, api_headers, assert_accessible, log_in, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

PERSON_TAB = ["first_name", "initials", "last_name", "birth_date", "emails", "phones"]
EXTRA_TAB = ["properties", "lists", "history"]


class Scene:
    """The test's own view and relations, prepared through the API."""

    def __init__(self, platform: Platform, client: httpx.Client) -> None:
        self.platform = platform
        self.client = client
        self.admin = api_headers(client, "admin")
        self.family = f"Zwaluw{uuid.uuid4().hex[:6]}"
        self.view_name = f"Automation {self.family}"
        self.view = self._view()
        self.base = f"/views/{self.view['view_id']}"

    def _view(self) -> dict[str, Any]:
        body = {
            "name": self.view_name,
            "base_filter": {
                "kind": "field",
                "field": "last_name",
                "op": "equals",
                "value": self.family,
            },
            "form": {
                "tabs": [
                    {"name": "Person", "fields": PERSON_TAB},
                    {"name": "Extra", "fields": EXTRA_TAB},
                ]
            },
        }
        made = self.client.post("/admin/views", headers=self.admin, json=body)
        assert made.status_code == 201, made.text
        return made.json()

    def grant(self, username: str) -> None:
        me = self.client.get("/me", headers=api_headers(self.client, username)).json()
        granted = self.client.put(
            f"/admin/views/{self.view['view_id']}/grants/users/{me['user_id']}",
            headers=self.admin,
            json={"can_edit": True},
        )
        assert granted.status_code == 204, granted.text

    def person(self, first: str, email: str, phone: str, birth: str) -> str:
        fields = {
            "first_name": first,
            "last_name": self.family,
            "birth_date": birth,
            "emails": [{"address": email}],
            "phones": [{"number": phone}],
        }
        made = self.client.post(
            f"{self.base}/relations",
            headers=self.admin,
            json={"relation_type": "person", "fields": fields},
        )
        assert made.status_code == 201, made.text
        return str(made.json()["relation_id"])

    def card(self, relation_id: str) -> httpx.Response:
        return self.client.get(f"{self.base}/relations/{relation_id}", headers=self.admin)

    def visible(self, relation_id: str) -> None:
        self.platform.eventually(
            "the view takes the relation in",
            lambda: self.card(relation_id).status_code == 200 or None,
            EVENTUAL_TIMEOUT,
        )

    def pairs(self) -> list[dict[str, Any]]:
        page = self.client.get(f"{self.base}/duplicates", headers=self.admin)
        assert page.status_code == 200, page.text
        return list(page.json()["pairs"])


@pytest.fixture
def scene(web_platform: Platform) -> Any:
    with httpx.Client(base_url=web_platform.gateway_url, timeout=30) as client:
        yield Scene(web_platform, client)


def _menu(page: Page, name: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()


def _people(scene: Scene) -> dict[str, str]:
    """Two pairs of look-alikes: Sanne/Sanna (to merge) and Pieter/Piet (not duplicates)."""
    people = {
        "sanne": scene.person("Sanne", f"sanne@{scene.family}.example", "0301111111", "1985-03-04"),
        "sanna": scene.person("Sanna", f"sanne@{scene.family}.example", "0302222222", "1985-03-04"),
        "pieter": scene.person(
            "Pieter", f"piet@{scene.family}.example", "0303333333", "1970-01-01"
        ),
        "piet": scene.person("Piet", f"piet@{scene.family}.example", "0304444444", "1970-01-01"),
    }
    for relation_id in people.values():
        scene.visible(relation_id)
    scene.platform.eventually(
        "two duplicate pairs in the view", lambda: len(scene.pairs()) == 2 or None, EVENTUAL_TIMEOUT
    )
    return people


def test_duplicates_merge_and_undo(web_platform: Platform, scene: Scene, open_page: Any) -> None:
    """Catches: a queue without the pair's reasons or fields side by side, a "not a duplicate"
    that leaves the pair, a merge ignoring the value chosen per field (checked: a merge screen
    that sends no choices fails here), an undo that does not bring the merged relation back."""
    people = _people(scene)
    page = open_page("en-GB")
    log_in(page, web_platform.gateway_url, "admin")
    _menu(page, "Duplicate relations")
    page.locator("#duplicates-view").select_option(label=scene.view_name)
    expect(
        page.get_by_role("heading", name=f"Duplicate relations in {scene.view_name}")
    ).to_be_visible()
    pieter = page.locator("section.auto-pair", has_text="Pieter")
    expect(pieter.get_by_text("same e-mail address")).to_be_visible()
    expect(pieter.get_by_role("cell", name="Piet", exact=True)).to_be_visible()
    assert_accessible(page, "duplicate queue")
    screenshot(page, "duplicates")

    pieter.get_by_role("button", name="Not a duplicate").click()
    expect(page.locator("section.auto-pair", has_text="Pieter")).to_have_count(0)
    assert len(scene.pairs()) == 1

    page.locator("section.auto-pair", has_text="Sanne").get_by_role(
        "link", name="Compare and merge"
    ).click()
    page.get_by_role("radio", name=f"Sanne {scene.family} stays").check()
    first_name = page.get_by_role("group", name="First name")
    expect(
        first_name.get_by_role("radio", name=f"Sanne — value of Sanne {scene.family}")
    ).to_be_checked()
    first_name.get_by_role("radio", name=f"Sanna — value of Sanna {scene.family}").check()
    page.get_by_role("group", name="Phone numbers").get_by_role("radio", name="keep both").check()
    preview = page.locator("#merge-preview")
    expect(preview.locator('dd[data-field="first_name"]')).to_have_text("Sanna")
    expect(preview.locator('dd[data-field="phones"]')).to_contain_text("+31302222222")
    assert_accessible(page, "merge side by side")
    screenshot(page, "merge")

    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page.get_by_role("heading", name="Merge", exact=True)).to_be_visible()
    expect(page.locator("#merge-decisions")).to_contain_text("First name: merged relation")
    assert_accessible(page, "merge result")
    survivor = scene.card(people["sanne"]).json()
    assert survivor["tabs"][0]["fields"]["first_name"] == "Sanna"
    assert len(survivor["tabs"][0]["fields"]["phones"]) == 2

    page.get_by_role("button", name="Undo merge").click()
    expect(page.locator(".ok")).to_contain_text("The merge has been undone.")
    assert scene.card(people["sanne"]).json()["tabs"][0]["fields"]["first_name"] == "Sanne"
    scene.visible(people["sanna"])

    # Merging from a card: find the other relation, then the same side-by-side screen.
    page.goto(f"{web_platform.gateway_url}/#{scene.base}/relations/{people['sanne']}")
    page.get_by_text("Merge with another relation").click()
    page.get_by_label("Find a relation").fill("Piet")
    other = page.get_by_role("link", name=f"Merge with Piet {scene.family}")

    def found() -> bool | None:
        page.locator("#merge-with-search").press("Enter")
        page.wait_for_timeout(500)
        return other.count() > 0 or None

    web_platform.eventually("the card finds the other relation", found, EVENTUAL_TIMEOUT)
    assert_accessible(page, "card with merge search")
    other.click()
    expect(
        page.get_by_role("heading", name=f"Merge: Sanne {scene.family} + Piet {scene.family}")
    ).to_be_visible()
    expect(page.get_by_role("group", name="First name")).to_be_visible()
    assert_accessible(page, "merge from a card")


def test_rules_buttons_properties(web_platform: Platform, scene: Scene, open_page: Any) -> None:
    """Catches: a rule the editor saves wrongly or whose run log stays empty after it ran, a
    button not placed on the card's tab or that does not run for a staff member, a generated
    property missing from the card, a staff member shown automation screens (checked: a menu
    that ignores rights fails here)."""
    sanne = scene.person("Sanne", f"sanne@{scene.family}.example", "0301111111", "1985-03-04")
    scene.visible(sanne)
    scene.grant("anouk")
    page = open_page("en-GB")
    log_in(page, web_platform.gateway_url, "admin")

    # An adjustment rule: when the first name changes, fill in the initials.
    _menu(page, "Rules")
    page.get_by_role("link", name="New rule").click()
    page.get_by_label("Name", exact=True).fill(f"Initials {scene.family}")
    page.locator("#rule-trigger").select_option(label="a field changes")
    page.locator("#rule-form fieldset").first.get_by_label("Field", exact=True).fill("first_name")
    condition = page.locator("#rule-condition")
    condition.get_by_role("button", name="Add a field condition").click()
    condition.get_by_label("Field", exact=True).fill("last_name")
    condition.get_by_label("Value", exact=True).fill(scene.family)
    actions = page.locator("#rule-actions")
    actions.get_by_label("Field", exact=True).fill("initials")
    actions.get_by_label("Value").fill("R.R.")
    assert_accessible(page, "rule editor")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name=f"Edit rule: Initials {scene.family}")).to_be_visible()
    rule_id = page.url.rsplit("/", 1)[-1]
    rule = scene.client.get(f"/automation/rules/{rule_id}", headers=scene.admin).json()
    assert rule["condition"] == {
        "kind": "field",
        "field": "last_name",
        "op": "equals",
        "value": scene.family,
    }
    expect(page.get_by_text("This rule has not run yet.")).to_be_visible()

    read = scene.card(sanne)
    changed = scene.client.patch(
        f"{scene.base}/relations/{sanne}",
        headers={**scene.admin, "If-Match": read.headers["ETag"]},
        json={"fields": {"first_name": "Susanne"}},
    )
    assert changed.status_code == 200, changed.text

    def ran() -> bool | None:
        page.get_by_role("button", name="Refresh").click()
        return page.locator("#run-log td", has_text="done").count() > 0 or None

    web_platform.eventually("the rule's run shows in its log", ran, EVENTUAL_TIMEOUT)
    expect(page.locator("#run-log")).to_contain_text("R.R.")
    assert_accessible(page, "rule and run log")

    _menu(page, "Rules")
    row = page.locator("#rules-table tr", has_text=f"Initials {scene.family}")
    row.get_by_role("button", name=f"Disable: Initials {scene.family}").click()
    expect(
        page.locator("#rules-table tr", has_text=f"Initials {scene.family}").get_by_role(
            "cell", name="Off"
        )
    ).to_be_visible()
    assert_accessible(page, "rules")
    screenshot(page, "rules")

    # An action button, placed on the Person tab of the test's view.
    label = f"Called {scene.family}"
    _menu(page, "Buttons")
    page.get_by_role("link", name="New button").click()
    page.get_by_label("Name", exact=True).fill(label)
    page.get_by_label("Text on the button").fill(label)
    actions = page.locator("#rule-actions")
    actions.get_by_label("Action").select_option(label="log a contact moment")
    actions.get_by_label("Subject").fill("Called back")
    actions.get_by_role("button", name="Add an action").click()
    actions.locator('[data-action="1"]').get_by_label("Field", exact=True).fill("initials")
    actions.locator('[data-action="1"]').get_by_label("Value").fill("B.B.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name=f"Edit rule: {label}")).to_be_visible()
    _menu(page, "Buttons")
    placing = page.locator(
        "section", has=page.get_by_role("heading", name=f"Place on the relation card: {label}")
    )
    placing.get_by_label(f"Person in {scene.view_name}").check()
    placing.get_by_role("button", name="Save placement").click()
    expect(page.get_by_text("Placement saved.")).to_be_visible()
    assert_accessible(page, "buttons")
    screenshot(page, "buttons")

    # A generated property held while in the view's "All relations".
    prop = f"Zwaluw {scene.family[-6:]}"
    _menu(page, "Properties")
    page.get_by_label("Name on the card").fill(prop)
    page.get_by_label("Key (e.g. active_member)").fill(f"auto_{scene.family.lower()}")
    page.get_by_label("While in list").select_option(label=f"All relations ({scene.view_name})")
    page.get_by_role("button", name="Define").click()
    expect(page.locator("#properties")).to_contain_text(prop)
    assert_accessible(page, "properties")
    page.goto(f"{web_platform.gateway_url}/#{scene.base}/relations/{sanne}")
    page.get_by_role("tab", name="Extra").click()
    expect(page.locator("#card-properties")).to_contain_text(prop, timeout=LIVE_TIMEOUT_MS)

    # A merge rule, narrowed to a source nothing uses, added and deleted again.
    _menu(page, "Merge rules")
    page.locator("#merge-rule-name").fill(f"Merge {scene.family}")
    page.get_by_label("e-mail address").check()
    page.locator("#merge-rule-sources").fill(f"module:{scene.family.lower()}")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#merge-rules")).to_contain_text(f"Merge {scene.family}")
    assert_accessible(page, "merge rules")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Delete: Merge {scene.family}").click()
    expect(page.locator("#merge-rules", has_text=f"Merge {scene.family}")).to_have_count(0)

    # Anouk (staff) has no automation menu, but presses the button on the card.
    staff = open_page("en-GB")
    log_in(staff, web_platform.gateway_url, "anouk")
    expect(staff.get_by_role("heading", name="Automation")).to_have_count(0)
    staff.goto(f"{web_platform.gateway_url}/#{scene.base}/relations/{sanne}")
    staff.get_by_role("button", name=label).click()
    expect(staff.locator(".auto-button-outcome")).to_contain_text(f"{label}: done.")
    expect(staff.locator('dd[data-field="initials"]')).to_have_text("B.B.")
    assert_accessible(staff, "card with a button")

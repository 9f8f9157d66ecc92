"""The browser tests' shared parts: one ``crm up`` with the demo association for every screen
family (started once, the first time a browser test asks for it), headless Chromium, logging in
through the form, an axe-core check and screenshots.

Each screen family (daily work, lists and selections, automation, administration) has a module
of its own; they share the platform, so a test makes the data it changes or reads counts
relative to what it finds.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from tests.conftest import Infrastructure
from tests.platform.test_up import (
    PASSWORDS,
    READY_TIMEOUT,
    SEED_TIMEOUT,
    Platform,
    running_platform,
)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
UI_TIMEOUT_MS = 20_000
LIVE_TIMEOUT_MS = 30_000
VIEWPORT: ViewportSize = {"width": 1366, "height": 800}  # a laptop screen
BLOCKING_IMPACTS = ("serious", "critical")
# Every expect() waits as long as an action may: on a busy two-core machine a screen that
# loads from three services can take longer than Playwright's default of five seconds.
expect.set_options(timeout=UI_TIMEOUT_MS)
# axe-core as the axe-playwright-python package ships it (read once, injected per check).
AXE_SCRIPT = (files("axe_playwright_python") / "axe.min.js").read_text("utf-8")


def chromium_path() -> str:
    """Debian's chromium (or CRM_CHROMIUM); a missing browser fails the test, in CI and out."""
    candidates = [os.environ.get("CRM_CHROMIUM"), "chromium", "chromium-browser"]
    for candidate in candidates:
        found = candidate and shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "no Chromium to run the browser tests: run scripts/ensure-browser.sh "
        "(apt-get install chromium) or set CRM_CHROMIUM",
        pytrace=False,
    )
    raise AssertionError  # unreachable: fail raises


@pytest.fixture(scope="session")
def web_platform(
    tmp_path_factory: pytest.TempPathFactory, infrastructure: Infrastructure
) -> Iterator[Platform]:
    """``crm up`` with the demo association, ready and seeded, shared by every browser test."""
    with running_platform(tmp_path_factory.mktemp("web"), infrastructure) as platform:
        with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
            platform.eventually(
                "the gateway answers /ready",
                lambda: client.get("/ready").status_code == 200 or None,
                READY_TIMEOUT,
            )
        platform.eventually(
            "the demo logins are printed",
            lambda: "Demo logins" in platform.tail(200) or None,
            SEED_TIMEOUT,
        )
        yield platform


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"],
            timeout=60_000,
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[[str], Page]]:
    """``open_page("en-GB")``: a fresh browser context and page in that locale, closed after
    the test, whose script errors are checked at the end (a screen that throws fails)."""
    pages: list[Page] = []

    def opened(locale: str) -> Page:
        context = browser.new_context(viewport=VIEWPORT, locale=locale)
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors  # type: ignore[attr-defined]  # our own attribute on the page
        pages.append(page)
        return page

    yield opened
    failures = {p.url: p.errors for p in pages if p.errors}  # type: ignore[attr-defined]
    for page in pages:
        page.context.close()
    assert not failures, f"script errors in the page: {failures}"


def log_in(page: Page, gateway: str, username: str, *, dutch: bool = False) -> None:
    """Log in through the login form, as a person would (labels in the page's language)."""
    page.goto(f"{gateway}/")
    page.get_by_label("Gebruikersnaam" if dutch else "Username").fill(username)
    page.get_by_label("Wachtwoord" if dutch else "Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Inloggen" if dutch else "Log in").click()
    expect(page.locator("#search")).to_be_visible()


def api_headers(client: httpx.Client, username: str) -> dict[str, str]:
    """A demo user's bearer token, for preparing or checking data beside the browser."""
    response = client.post(
        "/auth/token", json={"username": username, "password": PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.evaluate(AXE_SCRIPT)
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def assert_accessible(page: Page, screen: str) -> None:
    """No serious or critical axe-core violation on this screen; the failure names each rule
    and the elements it found."""
    found = axe_violations(page)
    described = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in found
    ]
    assert not found, f"axe-core on {screen}:\n" + "\n".join(described)


def screenshot(page: Page, name: str) -> None:
    """Save the screen as docs/screenshots/<name>.png (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")

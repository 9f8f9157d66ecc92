"""The web app as staff meet it, measured in the browser: the dashboard's time to interactive
after logging in, and the search bar's answer to each keystroke.

Starts every process of the platform on free loopback ports (fresh databases, a broker of its
own), imports relations through the bulk import, waits until every consumer group caught up,
then drives headless Chromium (Debian's chromium, through Playwright) with a cold browser cache
per login:

- *interactive*: from the click on "Log in" until the dashboard shows its lists and the search
  bar has the focus (what a person can type into);
- *keystroke*: from each key's ``keydown`` in the search bar until the results list shows the
  answer for the text typed so far, timed inside the page (``performance.now()``), for names
  typed one letter at a time. A keystroke that gets no answer within the timeout is counted as
  failed and left out of the latencies.

Writes ``bench/results/browser-<time>.json``.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: the shared harness

import harness
from system.mixed_load import caught_up

from relata_testing.private import PrivatePlatform
from relata_testing.workload import STAFF, World, build_world, wait_until_in_view

ANSWER_TIMEOUT_MS = 5_000
RECORDER = """() => {
  const input = document.getElementById("search");
  const results = document.getElementById("search-results");
  window.__typed = [];
  input.addEventListener("keydown", () => window.__typed.push({ at: performance.now() }));
  new MutationObserver(() => {
    const last = window.__typed[window.__typed.length - 1];
    if (last && last.answered === undefined) last.answered = performance.now() - last.at;
  }).observe(results, { childList: true, subtree: true, characterData: true });
}"""


@dataclass
class Options:
    relations: int = 100_000
    logins: int = 10
    names: int = 20
    chromium: str = "chromium"


OPTION_HELP = (
    ("relations", int, "relations loaded through the bulk import"),
    ("logins", int, "logins measured, each in a fresh browser context (cold cache)"),
    ("names", int, "names typed into the search bar, one letter at a time"),
    ("chromium", str, "the Chromium executable"),
)
QUICK = {"relations": 2_000, "logins": 3, "names": 5}


def _log_in(page: Page, gateway: str) -> float:
    """Seconds from the click on "Log in" to a usable dashboard (search bar focused)."""
    page.goto(f"{gateway}/app/")
    page.get_by_label("Username").fill(STAFF[0])
    page.get_by_label("Password").fill(STAFF[1])
    clicked = time.perf_counter()
    page.get_by_role("button", name="Log in").click()
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.id === 'search'"
        " && document.querySelector('#menu a[aria-current]')",
        timeout=30_000,
        polling="raf",
    )
    return time.perf_counter() - clicked


def _type_name(page: Page, name: str) -> tuple[list[float], int]:
    """Per keystroke of ``name``: the in-page latency (s) to its answer; and how many keys
    got no answer in time."""
    page.fill("#search", "")
    page.evaluate("() => { window.__typed = []; }")
    latencies: list[float] = []
    failed = 0
    for n, letter in enumerate(name, start=1):
        page.keyboard.type(letter)
        try:
            page.wait_for_function(
                f"() => window.__typed.length === {n}"
                f" && window.__typed[{n - 1}].answered !== undefined",
                timeout=ANSWER_TIMEOUT_MS,
                polling="raf",
            )
        except Exception:
            failed += 1
            continue
        latencies.append(page.evaluate(f"() => window.__typed[{n - 1}].answered") / 1000)
    return latencies, failed


def _names(world: World, count: int) -> list[str]:
    """Display names of imported relations, picked at random (the same on every run)."""
    rng = random.Random(7)
    chosen = rng.sample(world.relation_ids, min(count, len(world.relation_ids)))
    with httpx.Client(base_url=world.gateway, headers=world.staff, timeout=30) as client:
        cards = [client.get(f"/views/{world.view_id}/relations/{i}").json() for i in chosen]
    return [card["display_name"] for card in cards if "display_name" in card]


def measure(world: World, options: Options) -> dict[str, Any]:
    interactive: list[float] = []
    keystrokes: list[float] = []
    failed = 0
    names = _names(world, options.names)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which(options.chromium) or options.chromium,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking"],
        )
        for n in range(options.logins):
            context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="en-GB")
            page = context.new_page()
            interactive.append(_log_in(page, world.gateway))
            page.evaluate(RECORDER)
            for name in names[n :: options.logins]:
                typed, lost = _type_name(page, name)
                keystrokes += typed
                failed += lost
            context.close()
        browser.close()
    return {
        "interactive": harness.percentiles(interactive),
        "keystroke": harness.percentiles(keystrokes),
        "keystrokes_without_answer": failed,
        "targets": {
            "interactive_max_s": harness.verdict(round(max(interactive), 3), 1.0, at_most=True),
            "keystroke_max_ms": harness.verdict(
                round(max(keystrokes) * 1000, 1) if keystrokes else float("inf"),
                150.0,
                at_most=True,
            ),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = harness.option_parser(__doc__, Options(), OPTION_HELP, QUICK, "a small, short run")
    chosen = harness.chosen_options(parser, argv, Options(), QUICK)
    options = Options(**{k: v for k, v in chosen.items() if k in Options.__dataclass_fields__})
    facts = harness.machine_facts("browser_bench.py")
    run_dir = Path(tempfile.mkdtemp(prefix="relata-browser-"))
    with PrivatePlatform(run_dir) as platform:
        harness.say(f"{len(platform.processes)} processes ready; importing {options.relations}")
        world = build_world(platform, relations=options.relations)
        wait_until_in_view(world, timeout=3600)
        waited, behind = asyncio.run(caught_up(platform, timeout=1800))
        harness.say(
            f"consumers caught up after {waited:.0f} s" + (f", behind: {behind}" if behind else "")
        )
        results = measure(world, options)
    results |= {"machine": facts, "options": options.__dict__, "consumers_behind": behind}
    for name in ("interactive", "keystroke"):
        harness.say(f"{name}: {results[name]}")
    harness.say(f"targets: {results['targets']}")
    path = harness.write_json(results, harness.RESULTS_DIR, "browser")
    harness.say(f"results in {path}")
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

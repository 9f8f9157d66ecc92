"""Mixed load through the gateway: searches, cards, edits, list browsing, contact moments and
donations arriving from the platform topic, with consumer lag and outbox backlog over time.

Starts every process of the platform on free loopback ports with a Tansu broker of its own and
fresh databases (dropped at the end), loads relations through the bulk import, then runs a
closed-loop load from a few concurrent clients for a bounded time while sampling, every few
seconds, each consumer group's lag and each service's outbox backlog. Writes the numbers to
``bench/results/system-<time>.json`` and a plot of lag and backlog over time to
``bench/system-load.png`` (with matplotlib, when installed).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the shared harness

import harness

from relata_cli import status
from relata_testing.private import PrivatePlatform
from relata_testing.workload import (
    Outcomes,
    World,
    WriteLoad,
    build_world,
    wait_until_in_view,
)

PLOT = harness.BENCH_DIR / "system-load.png"


@dataclass
class Options:
    relations: int = 100_000
    seconds: float = 120.0
    clients: int = 8
    sample_seconds: float = 5.0


OPTION_HELP = (
    ("relations", int, "relations loaded through the bulk import"),
    ("seconds", float, "seconds of mixed load"),
    ("clients", int, "concurrent reading clients (writes run beside them)"),
    ("sample_seconds", float, "seconds between samples of lag and backlog"),
)
QUICK = {"relations": 2_000, "seconds": 30.0, "clients": 4}


@dataclass
class Samples:
    at: list[float] = field(default_factory=list)
    lag: list[dict[str, int | None]] = field(default_factory=list)
    backlog: list[dict[str, int | None]] = field(default_factory=list)


async def sample(
    platform: PrivatePlatform, samples: Samples, started: float, until: float, every: float
) -> None:
    """Each consumer group's lag and each service's outbox backlog, every ``every`` s."""
    env = platform.environment()
    while time.monotonic() < until:
        lags, backlogs = await asyncio.gather(
            status.consumer_lags(env), status.outbox_backlogs(env)
        )
        samples.at.append(round(time.monotonic() - started, 1))
        samples.lag.append({lag.group: lag.lag for lag in lags})
        samples.backlog.append({b.database.removeprefix(platform.prefix): b.rows for b in backlogs})
        await asyncio.sleep(every)


async def reader(world: World, outcomes: Outcomes, until: float, rng: random.Random) -> None:
    """Searches, cards and list pages, as staff at work would open them."""
    base = f"/views/{world.view_id}"
    async with httpx.AsyncClient(base_url=world.gateway, timeout=30, headers=world.staff) as c:
        while time.monotonic() < until:
            choice = rng.random()
            started = time.perf_counter()
            if choice < 0.4:
                op = "search"
                response = await c.get(
                    f"{base}/search", params={"q": f"Person{rng.randrange(999)}"}
                )
            elif choice < 0.8:
                op = "card"
                response = await c.get(f"{base}/relations/{rng.choice(world.relation_ids)}")
            else:
                op = "list page"
                list_id = rng.choice(world.list_ids)
                response = await c.get(f"{base}/lists/{list_id}/members", params={"limit": 50})
            if response.status_code == 200:
                outcomes.took(op, time.perf_counter() - started)
            else:
                outcomes.failed(f"{op} {response.status_code}")


async def run(world: World, options: Options) -> tuple[Outcomes, Samples, float]:
    outcomes = Outcomes()
    samples = Samples()
    started = time.monotonic()
    until = started + options.seconds
    rngs = [random.Random(i) for i in range(options.clients)]
    writes = WriteLoad(world, outcomes, seed=uuid.uuid4().int % 1000)
    await asyncio.gather(
        # Sampling goes on 20 s past the load: how fast the backlog drains.
        sample(world.platform, samples, started, until + 20, options.sample_seconds),
        writes.run(options.seconds, workers=2, pause=0.02),
        *(reader(world, outcomes, until, rng) for rng in rngs),
    )
    return outcomes, samples, time.monotonic() - started


async def caught_up(
    platform: PrivatePlatform, timeout: float, slack: int = 50
) -> tuple[float, dict[str, int | None]]:
    """Seconds until every consumer group is within ``slack`` events of the end (the import's
    events absorbed everywhere: search index, lists, gateway, automation), at most ``timeout``,
    and the groups still behind then (none when all caught up)."""
    env = platform.environment()
    started = time.monotonic()
    behind: dict[str, int | None] = {}
    while time.monotonic() - started < timeout:
        lags = await status.consumer_lags(env)
        behind = {lag.group: lag.lag for lag in lags if lag.lag is None or lag.lag > slack}
        if lags and not behind:
            break
        harness.say(f"waiting for consumers to catch up: {behind}")
        await asyncio.sleep(10)
    return time.monotonic() - started, behind


def plot(samples: Samples, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        harness.say("matplotlib is not installed: no plot")
        return None
    figure, (lag_axes, backlog_axes) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for group in sorted({g for s in samples.lag for g in s}):
        lag_axes.plot(samples.at, [s.get(group) or 0 for s in samples.lag], label=group)
    lag_axes.set_ylabel("consumer lag (events)")
    lag_axes.legend(fontsize=6, ncol=2)
    for database in sorted({d for s in samples.backlog for d in s}):
        values = [s.get(database) or 0 for s in samples.backlog]
        backlog_axes.plot(samples.at, values, label=database)
    backlog_axes.set_ylabel("outbox backlog (rows)")
    backlog_axes.set_xlabel("seconds")
    backlog_axes.legend(fontsize=6, ncol=2)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=110)
    return PLOT


def main(argv: list[str] | None = None) -> int:
    parser = harness.option_parser(__doc__, Options(), OPTION_HELP, QUICK, "a small, short run")
    chosen = harness.chosen_options(parser, argv, Options(), QUICK)
    options = Options(**{k: v for k, v in chosen.items() if k in Options.__dataclass_fields__})
    facts = harness.machine_facts("system/mixed_load.py")
    run_dir = Path(tempfile.mkdtemp(prefix="relata-load-"))
    with PrivatePlatform(run_dir) as platform:
        harness.say(f"{len(platform.processes)} processes ready; importing {options.relations}")
        imported = time.monotonic()
        world = build_world(platform, relations=options.relations)
        wait_until_in_view(world, timeout=3600)
        in_view = time.monotonic() - imported
        harness.say(f"imported and in the view after {in_view:.0f} s")
        # Measure the steady state, not the import's tail: every consumer caught up first.
        catch_up, behind = asyncio.run(caught_up(platform, timeout=900))
        if behind:
            harness.say(f"after {catch_up:.0f} s still behind, loading anyway: {behind}")
        else:
            harness.say(f"every consumer group caught up {catch_up:.0f} s later")
        outcomes, samples, elapsed = asyncio.run(run(world, options))
    results: dict[str, Any] = {
        "machine": facts,
        "options": options.__dict__,
        "operations": {
            op: harness.latency_summary(seconds, options.seconds)
            for op, seconds in sorted(outcomes.latencies.items())
        },
        "errors": outcomes.errors,
        "writes": outcomes.summary(),
        "samples": samples.__dict__,
        "elapsed_s": round(elapsed, 1),
        "import_in_view_s": round(in_view, 1),
        "consumers_caught_up_s": round(catch_up, 1),
        "consumers_behind_at_load_start": behind,
    }
    for op, summary in results["operations"].items():
        harness.say(f"{op}: {summary}")
    path = harness.write_json(results, harness.RESULTS_DIR, "system")
    drawn = plot(samples, f"{options.relations} relations, {options.clients} readers + writes")
    harness.say(f"results in {path}" + (f", plot in {drawn}" if drawn else ""))
    shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

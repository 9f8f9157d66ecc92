"""Fault suite: faults under a write load, each followed by reconciliation.

Starts every process of the platform on free loopback ports with a Tansu broker of its own and
fresh databases (dropped at the end), loads relations through the bulk import, then in turn:

1. ``kill -9`` each process during a write load, and starts it again;
2. freezes the broker for 30 s (SIGSTOP, then SIGCONT);
3. cuts every PostgreSQL connection of the platform's databases (pg_terminate_backend);
4. replays every topic from the beginning (fresh consumer groups, search index rebuilt);
5. injects malformed and unknown-version events.

After each fault it reconciles: relation versions agree in the relations service, the lists
read model and the search documents; each list's membership equals a full evaluation; no
contact moment or donation is lost or doubled; poison events sit in the dead-letter topics
with their reason. Bounded: every step has a time limit and the run stops by itself.

Why a frozen broker and cut connections rather than real restarts: Tansu keeps its topics in
memory, so stopping it would lose every topic, which no Kafka cluster does; a frozen broker is
what clients see of a broker that is down, while its log survives. The PostgreSQL server is
shared with other work on the machine, so it is not restarted: terminating every backend of
the platform's own databases is what the services see of a restart (every connection dies at
once, new ones succeed).
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the shared harness

import harness

from relata_testing.private import INTERNAL_TOKEN, PrivatePlatform
from relata_testing.reconcile import Reconciliation, reconcile
from relata_testing.workload import (
    Outcomes,
    Poison,
    World,
    WriteLoad,
    build_world,
    inject_poison,
    wait_until_in_view,
)

FAULTS = ("kill", "broker", "postgres", "replay", "poison")
WORKER_GROUPS = {
    # process → the settings that name its consumer groups (a new name: a new group)
    "lists-worker": "CRM_CONSUMER_GROUP_SUFFIX",
    "gateway-worker": "CRM_CONSUMER_GROUP_SUFFIX",
    "contactmoments-worker": "CRM_CONSUMER_GROUP",
    "selections-worker": "CRM_CONSUMER_GROUP",
}
GROUP_NAMES = {"contactmoments-worker": "contactmoments", "selections-worker": "selections"}


@dataclass
class Options:
    relations: int = 2_000
    load_seconds: float = 12.0
    pause_seconds: float = 30.0
    reconcile_timeout: float = 180.0
    faults: str = ",".join(FAULTS)
    processes: str = ""


OPTION_HELP = (
    ("relations", int, "relations loaded through the bulk import"),
    ("load_seconds", float, "seconds of write load around each fault"),
    ("pause_seconds", float, "seconds the broker stays frozen"),
    ("reconcile_timeout", float, "seconds reconciliation may wait for agreement"),
    ("faults", str, f"which faults, comma-separated, of {','.join(FAULTS)}"),
    ("processes", str, "processes to kill -9, comma-separated (default: every one)"),
)
QUICK = {"relations": 300, "load_seconds": 6.0, "pause_seconds": 10.0}


@dataclass
class Step:
    fault: str
    what: str
    load: dict[str, Any]
    reconciliation: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Suite:
    world: World
    options: Options
    outcomes: Outcomes = field(default_factory=Outcomes)
    poison: list[Poison] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    @property
    def platform(self) -> PrivatePlatform:
        return self.world.platform

    async def under_load(
        self, fault: str, what: str, act: Callable[[], Awaitable[dict[str, Any]]]
    ) -> Step:
        """Run the write load, do ``act`` a third of the way in, let the load finish, then
        reconcile. The load's own outcomes (answers, errors) are kept with the step."""
        before = self.outcomes.summary()
        load = asyncio.create_task(
            WriteLoad(self.world, self.outcomes).run(self.options.load_seconds)
        )
        await asyncio.sleep(self.options.load_seconds / 3)
        try:
            extra = await act()
        finally:
            await load
        result = await reconcile(
            self.platform,
            self.outcomes,
            self.poison,
            timeout=self.options.reconcile_timeout,
            progress=lambda line: harness.say(f"  {line}"),
        )
        step = Step(fault, what, _delta(before, self.outcomes.summary()), result.as_dict(), extra)
        self.steps.append(step)
        _report(step, result)
        return step


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the load did during one step (the outcomes accumulate over the run)."""
    delta: dict[str, Any] = {}
    for key, value in after.items():
        if isinstance(value, dict):
            old = before.get(key, {})
            delta[key] = {k: v - old.get(k, 0) for k, v in value.items() if v - old.get(k, 0)}
        else:
            delta[key] = value - before.get(key, 0)
    return delta


def _report(step: Step, result: Reconciliation) -> None:
    verdict = "reconciled" if result.ok else "NOT reconciled"
    harness.say(f"{step.fault}: {step.what}: {verdict} after {result.seconds:.1f} s")
    harness.say(f"  load: {step.load}")
    for line in result.lines():
        harness.say(f"  {line}")


# --- the faults -------------------------------------------------------------------------------


async def kill_each(suite: Suite, names: list[str]) -> None:
    for name in names:

        async def act(name: str = name) -> dict[str, Any]:
            pid = suite.platform.kill(name)
            harness.say(f"kill -9 {name} (pid {pid})")
            started = time.monotonic()
            await asyncio.to_thread(suite.platform.restart, name)
            return {"pid": pid, "ready_again_s": round(time.monotonic() - started, 1)}

        await suite.under_load("kill -9", name, act)


async def pause_broker(suite: Suite) -> None:
    async def act() -> dict[str, Any]:
        harness.say(f"broker frozen (SIGSTOP) for {suite.options.pause_seconds:.0f} s")
        with suite.platform.broker_paused():
            await asyncio.sleep(suite.options.pause_seconds)
        harness.say("broker thawed (SIGCONT)")
        return {"frozen_s": suite.options.pause_seconds}

    # The load must outlast the pause, to see writes during and after it.
    saved = suite.options.load_seconds
    suite.options.load_seconds = suite.options.pause_seconds + 2 * saved
    try:
        await suite.under_load("broker", f"frozen {suite.options.pause_seconds:.0f} s", act)
    finally:
        suite.options.load_seconds = saved


async def cut_postgres(suite: Suite) -> None:
    async def act() -> dict[str, Any]:
        cut = await suite.platform.terminate_connections()
        harness.say(f"pg_terminate_backend: {cut} connections cut")
        await asyncio.sleep(1)
        again = await suite.platform.terminate_connections()  # the reconnects die once more
        harness.say(f"pg_terminate_backend again: {again} connections cut")
        return {"connections_cut": [cut, again]}

    await suite.under_load("postgres", "every connection of the platform terminated", act)


async def replay(suite: Suite) -> None:
    async def act() -> dict[str, Any]:
        suffix = f"-replay{int(time.time())}"
        for name, setting in WORKER_GROUPS.items():
            if name not in suite.platform.processes:
                continue
            value = GROUP_NAMES.get(name, "") + suffix
            suite.platform.extra_env[setting] = value
            suite.platform.kill(name)
            await asyncio.to_thread(suite.platform.restart, name)
            suite.platform.extra_env.pop(setting)
            harness.say(f"{name} restarted reading from the beginning as group …{value}")
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{suite.platform.url('search')}/admin/rebuild",
                headers={"X-Internal-Token": INTERNAL_TOKEN},
            )
            response.raise_for_status()
        generation = response.json()["generation"]
        harness.say(f"search index rebuild from the topics, generation {generation}")
        return {"group_suffix": suffix, "search_generation": generation}

    await suite.under_load("replay", "every topic from the beginning", act)


async def poison(suite: Suite) -> None:
    async def act() -> dict[str, Any]:
        injected = await inject_poison(suite.platform, suite.world.relation_ids[0])
        suite.poison.extend(injected)
        harness.say(f"injected {len(injected)} poison events: {[p.what for p in injected]}")
        return {"injected": [p.__dict__ for p in injected]}

    await suite.under_load("poison", "malformed and unknown-version events", act)


# --- the run ----------------------------------------------------------------------------------


async def run_faults(suite: Suite, faults: list[str], names: list[str]) -> None:
    baseline = await reconcile(
        suite.platform,
        suite.outcomes,
        timeout=suite.options.reconcile_timeout,
        progress=lambda line: harness.say(f"  {line}"),
    )
    harness.say(f"baseline: {'reconciled' if baseline.ok else 'NOT reconciled'}")
    for line in baseline.lines():
        harness.say(f"  {line}")
    if "kill" in faults:
        await kill_each(suite, names)
    if "broker" in faults:
        await pause_broker(suite)
    if "postgres" in faults:
        await cut_postgres(suite)
    if "replay" in faults:
        await replay(suite)
    if "poison" in faults:
        await poison(suite)


SECTION_HEADING = "## System"
WHY = """\
Faults are real where the machine allows it. `kill -9` is SIGKILL to each process (no clean
shutdown), which is then started again. The broker is *frozen* rather than stopped: Tansu
keeps its topics in memory, so a stopped Tansu comes back empty, which no Kafka cluster does;
SIGSTOP makes the broker answer nothing (connections hang, requests time out, as with a
broker that is down) while its log survives, and SIGCONT brings it back. PostgreSQL is shared
with other work on this machine, so it is not restarted; instead every backend connection of
the platform's own databases is terminated (`pg_terminate_backend`, twice, a second apart):
what the services see of a restart is exactly that, every open connection dying at once.
Replay restarts every worker under a new consumer group (reading every topic from offset 0)
and rebuilds the search index from the topics. Poison is five events no consumer can apply
(not JSON, JSON without an envelope, `schema_version` 99, binary bytes, an invalid donation
payload) on `crm.relations` and `platform.donations`.

The write load runs through the gateway as a staff user (4 loops: card read then edit with
If-Match, or a contact moment with a unique subject) while a fifth publishes donations on
`platform.donations` as the donations module would; it keeps every outcome, so a write that
was never acknowledged is not counted as lost. `tests/system/test_faults_smoke.py` is the
same check in small for CI (kill -9 of the relations relay and a lists worker during writes,
plus poison).

Reading the table: while a service's only API process is down, the gateway answers 503 for
what needs it (edits while `relations-api` restarts, contact moments while
`contactmoments-api` does); while the gateway itself is down, requests are refused at connect
("unanswered"). Neither is data loss: a refused write was never acknowledged, and
reconciliation shows that none of the unanswered contact moments was stored twice. Relays,
workers and the broker can die or freeze without a client noticing: the outbox holds the
events until the relay is back, and consumers resume from their committed offsets, with the
inbox dropping what they see twice (the replay re-reads everything; contact moments and
selections re-apply it under their new consumer names, harmlessly).

The mixed load with latencies, consumer lag and outbox backlog is in "System load" below.
"""


def section(results: dict[str, Any]) -> str:
    """The ``## System`` section of bench/RESULTS.md from a run's results."""
    machine = results["machine"]
    lines = [
        "",  # a blank line after the section before
        SECTION_HEADING,
        "",
        f"{machine['date']} · {machine['nproc']} CPUs ({machine['cpu_model']}) · "
        f"{machine['memory']} · Python {machine['python']} · load average at start "
        f"{tuple(round(x, 2) for x in machine['loadavg_at_start'])}",
        "",
        f"Command: `{machine['command'].strip()}` (the fault suite, `bench/system/faults.py`;"
        " `--help` lists its options)",
        "",
        WHY,
        "| fault | what it did | load during it | reconciled |",
        "|---|---|---|---|",
    ]
    for step in results["steps"]:
        load = step["load"]
        answers = ", ".join(f"{k}: {v}" for k, v in load["edits"].items())
        did = _what_it_did(step)
        verdict = (
            f"yes, after {step['reconciliation']['seconds']} s"
            if step["reconciliation"]["ok"]
            else "**no**"
        )
        lines.append(
            f"| {step['fault']} | {did} | edits ({answers}), "
            f"{load['contact_moments_acknowledged']} contact moments acknowledged "
            f"({load['contact_moments_unanswered']} unanswered), "
            f"{load['donations_acknowledged']} donations | {verdict} |"
        )
    last = results["steps"][-1]["reconciliation"]["findings"] if results["steps"] else []
    lines += ["", "Reconciliation after the last fault:", ""]
    lines += [
        f"- {'ok' if f['ok'] else '**FAILED**'} {f['invariant']}: {f['detail']}" for f in last
    ]
    failed = [s for s in results["steps"] if not s["reconciliation"]["ok"]]
    for step in failed:
        lines += ["", f"Not reconciled after {step['fault']} {step['what']}:", ""]
        lines += [
            f"- {f['invariant']}: {f['detail']}"
            for f in step["reconciliation"]["findings"]
            if not f["ok"]
        ]
    lines += [
        "",
        f"Totals: {results['totals']}. Every step reconciled: "
        f"{'yes' if results['all_reconciled'] else '**no**'}.",
        "",
    ]
    return "\n".join(lines)


def _what_it_did(step: dict[str, Any]) -> str:
    extra = step.get("extra", {})
    if step["fault"] == "kill -9":
        return f"`{step['what']}` killed, ready again after {extra.get('ready_again_s')} s"
    if step["fault"] == "postgres":
        return f"pg_terminate_backend: {extra.get('connections_cut')} connections cut"
    if step["fault"] == "replay":
        return (
            "workers restarted under new consumer groups; search index rebuilt "
            f"(generation {extra.get('search_generation')})"
        )
    if step["fault"] == "poison":
        return f"{len(extra.get('injected', []))} poison events injected"
    return step["what"]


def main(argv: list[str] | None = None) -> int:
    parser = harness.option_parser(
        __doc__, Options(), OPTION_HELP, QUICK, "a small run: 300 relations, short loads"
    )
    parser.add_argument("--keep", action="store_true", help="keep the process logs")
    parser.add_argument(
        "--report", default="", help="only write the RESULTS.md section of this results file"
    )
    chosen = harness.chosen_options(parser, argv, Options(), QUICK)
    if chosen["report"]:
        results = orjson.loads(Path(chosen["report"]).read_bytes())
        harness.replace_section(section(results), SECTION_HEADING)
        return 0
    options = Options(**{k: v for k, v in chosen.items() if k in Options.__dataclass_fields__})
    faults = [f for f in options.faults.split(",") if f]
    facts = harness.machine_facts("system/faults.py")
    run_dir = Path(tempfile.mkdtemp(prefix="relata-faults-"))
    harness.say(f"starting the platform (logs in {run_dir / 'logs'})")
    platform = PrivatePlatform(run_dir)
    with platform:
        names = [n for n in options.processes.split(",") if n] or list(platform.processes)
        harness.say(f"{len(platform.processes)} processes ready; importing {options.relations}")
        world = build_world(platform, relations=options.relations)
        wait_until_in_view(world, timeout=600)
        harness.say(f"{len(world.relation_ids)} relations in the view")
        suite = Suite(world, options)
        asyncio.run(run_faults(suite, faults, names))
        restarts = {n: r.restarts for n, r in platform.processes.items() if r.restarts}
    results = {
        "machine": facts,
        "options": options.__dict__,
        "restarts": restarts,
        "totals": suite.outcomes.summary(),
        "steps": [step.__dict__ for step in suite.steps],
        "all_reconciled": all(s.reconciliation["ok"] for s in suite.steps),
    }
    path = harness.write_json(results, harness.RESULTS_DIR, "faults")
    harness.replace_section(section(results), SECTION_HEADING)
    harness.say(f"results in {path}; every step reconciled: {results['all_reconciled']}")
    if chosen["keep"] or not results["all_reconciled"]:
        harness.say(f"process logs kept in {run_dir / 'logs'}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    return 0 if results["all_reconciled"] else 1


if __name__ == "__main__":
    sys.exit(main())

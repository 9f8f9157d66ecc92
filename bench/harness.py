"""What the benchmarks in bench/ share: options, statistics, machine facts, the processes and
databases they start, the broker, and the results files.

The benchmarks are run as scripts (``uv run python bench/<name>.py``), which puts bench/ first on
``sys.path``, so they ``import harness``; the contact moments benchmark's uvicorn subprocess
finds it through ``--app-dir bench``. Everything specific to one benchmark stays in its script.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from relata_cli.tansu import TansuBroker
from relata_common.db import drop_database, ensure_database

# Benchmarks run their processes on loopback with the harness's tokens, which are written in
# the source: the settings refuse those everywhere else.
os.environ.setdefault("CRM_ALLOW_TEST_SECRETS", "true")
HOST = "127.0.0.1"
POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432"
BENCH_DIR = Path(__file__).parent
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
RESULTS_TITLE = "# Benchmark results\n"

T = TypeVar("T")
OptionHelp = tuple[tuple[str, type, str], ...]  # (field of Options, type, help text)


# --- options -----------------------------------------------------------------------------------


def option_parser(
    doc: str | None,
    defaults: object,
    option_help: Iterable[tuple[str, type, str]],
    quick: Mapping[str, object],
    quick_help: str,
) -> argparse.ArgumentParser:
    """``--<option>`` for each entry of ``option_help`` (default None: not given), then --quick.

    The description is the first paragraph of ``doc``; each help text names the default (an
    attribute of ``defaults``) and the --quick size, if there is one.
    """
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    for name, kind, help_text in option_help:
        default = getattr(defaults, name)
        note = f"; --quick: {quick[name]}" if name in quick else ""
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            default=None,
            help=f"{help_text} (default {default}{note})",
        )
    parser.add_argument("--quick", action="store_true", help=quick_help)
    return parser


def chosen_options(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    defaults: object,
    quick: Mapping[str, object],
) -> dict[str, Any]:
    """Every parsed argument: as given, else its --quick size (with --quick), else its default.

    Flags without a None default (``quick``, ``no_write``) come through as parsed.
    """
    args = vars(parser.parse_args(argv))
    fallback = quick if args["quick"] else {}
    return {
        k: v if v is not None else fallback.get(k, getattr(defaults, k)) for k, v in args.items()
    }


# --- progress and statistics -------------------------------------------------------------------

STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line, stamped with the seconds since the benchmark started."""
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", flush=True)


def percentiles(seconds: Iterable[float]) -> dict[str, float]:
    """Count, p50/p95/p99, max and mean in milliseconds ({"count": 0} when empty)."""
    ms = sorted(s * 1000 for s in seconds)
    if not ms:
        return {"count": 0}
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [ms[0]] * 99
    return {
        "count": len(ms),
        "p50_ms": round(cuts[49], 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(ms[-1], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def latency_summary(seconds: list[float], elapsed: float | None = None) -> dict[str, float]:
    """``percentiles`` and, given the wall time, ``elapsed_s`` and the rate per second."""
    summary = percentiles(seconds)
    if seconds and elapsed is not None:
        summary["elapsed_s"] = round(elapsed, 3)
        summary["per_second"] = round(len(seconds) / elapsed, 1)
    return summary


def ratio(numerator: float, denominator: float, digits: int = 2) -> float:
    return round(numerator / denominator, digits) if denominator else float("nan")


def verdict(value: float, target: float, *, at_most: bool) -> dict[str, Any]:
    """A measured value against its target (a ceiling when ``at_most``, else a floor)."""
    return {
        "value": value,
        "target": target,
        "met": value <= target if at_most else value >= target,
    }


async def run_workers(
    total: int, workers: int, one: Callable[[int], Awaitable[T]]
) -> tuple[list[T], float]:
    """Call ``one(i)`` for i in range(total) from ``workers`` concurrent loops; returns what the
    calls returned (in completion order) and the wall time in seconds."""
    numbers = iter(range(total))
    results: list[T] = []

    async def worker() -> None:
        for i in numbers:
            results.append(await one(i))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return results, time.perf_counter() - started


# --- the machine -------------------------------------------------------------------------------


def _proc_field(path: str, prefix: str) -> str:
    """The value of the first ``prefix: value`` line of a /proc file."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return "unknown"
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith(prefix)), "?")


def machine_facts(script: str) -> dict[str, Any]:
    """The date, the machine, its load and the command line of ``bench/<script>``."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "memory": _proc_field("/proc/meminfo", "MemTotal"),
        "cpu_model": _proc_field("/proc/cpuinfo", "model name"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
        "command": f"uv run python bench/{script} " + " ".join(sys.argv[1:]),
    }


# --- processes ---------------------------------------------------------------------------------


def executable(command: str) -> str:
    """The path of a console script (``relata-relations``, ...) of this environment."""
    found = shutil.which(command, path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError(f"{command} is not installed: run with `uv run`")
    return found


def service_env(**settings: str) -> dict[str, str]:
    """This process's environment plus ``CRM_<SETTING>`` for each keyword (upper-cased)."""
    return {**os.environ, **{f"CRM_{name.upper()}": value for name, value in settings.items()}}


@dataclass
class Processes:
    """The processes a benchmark started, by name, each logging to ``<log_dir>/<name>.log``."""

    log_dir: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def temporary(cls, prefix: str = "relata-bench-") -> Processes:
        """With the logs in a new temporary directory (the caller removes it)."""
        return cls(Path(tempfile.mkdtemp(prefix=prefix)))

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        self.running[name] = process
        return process

    def __getitem__(self, name: str) -> subprocess.Popen[bytes]:
        return self.running[name]

    def check_alive(self) -> None:
        for name, process in self.running.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir}")

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate each process by its handle, newest first; kill what does not stop."""
        for name, process in reversed(list(self.running.items())):
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in {timeout:g} s: killing it")
                process.kill()
                process.wait()
        self.running.clear()


async def wait_ready(
    url: str, processes: Processes, *, limit: float = 60.0, interval: float = 0.1
) -> None:
    """Poll ``url`` until it answers 200, failing early when a started process has exited."""
    deadline = time.monotonic() + limit
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            processes.check_alive()
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(interval)
    raise TimeoutError(f"{url} not ready in {limit} s; logs in {processes.log_dir}")


def start_broker(log_dir: Path) -> TansuBroker:
    """A Tansu broker on loopback, logging to ``<log_dir>/tansu.log``; stop it with ``.stop()``."""
    return TansuBroker(host=HOST, log_file=log_dir / "tansu.log").start()


def keepalive_client(
    base_url: str, connections: int, headers: Mapping[str, str] | None = None
) -> httpx.AsyncClient:
    """A client of up to ``connections`` keep-alive connections to one of the services."""
    return httpx.AsyncClient(
        base_url=base_url,
        headers=dict(headers or {}),
        timeout=httpx.Timeout(60.0, connect=5.0),
        # Expire idle connections before uvicorn's 5 s keep-alive timeout closes them under us.
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=2.0,
        ),
    )


class LeanConnection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads whole responses.

    A load generator must cost little per request, or it measures itself: httpx spends a few
    hundred microseconds of CPU on each request, which on 2 cores caps a closed loop near the
    rates being measured. This speaks only what uvicorn answers on loopback (status line,
    headers with Content-Length, a body) and nothing else.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """The status and body of ``GET path`` (reconnecting once if the server closed)."""
        for attempt in (1, 2):
            try:
                return await self._exchange(path, headers)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, path: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self._reader.readexactly(length)
        if b"connection: close" in head.lower():
            await self.close()
        return status, body

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


def lean_connection(base_url: str) -> LeanConnection:
    address = httpx.URL(base_url)
    return LeanConnection(address.host, address.port or 80)


# --- databases ---------------------------------------------------------------------------------


def database_url(postgres_url: str, name: str) -> str:
    """The URL of database ``name`` on the server at ``postgres_url``."""
    return f"{postgres_url.rstrip('/')}/{name}"


@dataclass
class Databases:
    """Fresh databases the benchmark created, by URL, all dropped by ``drop_all``."""

    created: list[str] = field(default_factory=list)

    async def create(self, url: str) -> str:
        """Create the database of ``url`` (it should not exist yet); returns ``url``."""
        await ensure_database(url)
        self.created.append(url)
        return url

    async def drop_all(self) -> None:
        while self.created:
            await drop_database(self.created.pop(0))


# --- results -----------------------------------------------------------------------------------


def write_json(results: dict[str, Any], output_dir: Path, prefix: str) -> Path:
    """``<output_dir>/<prefix>-<UTC time stamp>.json``, indented."""
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
    path = output_dir / f"{prefix}-{stamp}.json"
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    return path


def append_section(section: str, path: Path = RESULTS_MD) -> None:
    """Append ``section`` after one blank line.

    The file is shared with the other benchmarks, so it is read right before writing and only
    ever appended to; a missing or empty file is started with its title.
    """
    section = section.lstrip("\n")
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if not current:
        text = RESULTS_TITLE + "\n" + section
    elif current.endswith("\n\n"):
        text = section
    else:
        text = ("\n" if current.endswith("\n") else "\n\n") + section
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def replace_section(section: str, heading: str, path: Path = RESULTS_MD) -> None:
    """Put ``section`` in place of the one under ``heading`` (up to the next "## "), or at the
    end; the other sections belong to other benchmarks, so the file is re-read right before."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(replaced_section(current, section, heading), encoding="utf-8")


def replaced_section(document: str, section: str, heading: str) -> str:
    """``document`` with its ``heading`` section (up to the next "## " heading) replaced."""
    if not document.strip():
        return RESULTS_TITLE + section
    start = document.find(f"\n{heading}\n")
    if start < 0:
        return document.rstrip("\n") + "\n" + section
    end = document.find("\n## ", start + 1)
    rest = document[end:] if end >= 0 else "\n"
    return document[:start].rstrip("\n") + "\n" + section.rstrip("\n") + "\n" + rest


def print_targets(targets: Mapping[str, Mapping[str, Any]]) -> None:
    """The start of the Markdown summary table: one row per target, met or not."""
    print("\n| measurement | result | target |\n|---|---|---|")
    for name, target in targets.items():
        met = "met" if target["met"] else "NOT met"
        print(f"| {name} | {target['value']} | {target['target']} ({met}) |")

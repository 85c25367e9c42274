"""``python -m bench [--toy] [NAME ...]``: run the benchmarks (all, or those named) and print one table."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path

import bench
from bench import TOY_ENV, notes, recorded, table
from bench._databases import postgres_server, postgres_version, sqlite_version
from bench._dataset_cache import close_templates
from intrablog.devstack.prosody import prosody_version

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def benchmark_names() -> list[str]:
    """Modules with a ``main``; ``_helpers`` and ``dataset`` (the data they run on) are not benchmarks."""
    names = sorted(info.name for info in pkgutil.iter_modules(bench.__path__) if not info.name.startswith("_"))
    return [name for name in names if callable(getattr(importlib.import_module(f"bench.{name}"), "main", None))]


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return None


def machine() -> dict[str, str | int | float | None]:
    """What the figures were measured on (the versions of every server the benchmarks run)."""
    memory = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "platform": platform.platform(),
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": round(int(memory.split()[0]) / 1024**2, 1) if memory else None,
        "python": platform.python_version(),
        "sqlite": sqlite_version(),
        "postgresql": f"{asyncio.run(postgres_version())} ({postgres_server().description})",
        "prosody": prosody_version(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }


def describe(facts: dict[str, str | int | float | None]) -> str:
    return (
        f"{facts['cpus']} x {facts['cpu']}, {facts['memory_gib']} GiB, {facts['platform']}; Python {facts['python']}, "
        f"SQLite {facts['sqlite']}, PostgreSQL {facts['postgresql']}, Prosody {facts['prosody']}; load average "
        f"{facts['load_average_at_start']} at the start, {facts.get('load_average_at_end', '?')} at the end"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--toy", action="store_true", help="seconds-long runs (sets INTRABLOG_BENCH_TOY=1)")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    names = args.names or benchmark_names()
    unknown = sorted(set(names) - set(benchmark_names()))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (there are: {', '.join(benchmark_names())})")
    if args.toy:
        os.environ[TOY_ENV] = "1"
    facts = machine()
    print(f"== machine: {describe(facts)}", flush=True)
    failed: list[str] = []
    timings: dict[str, float] = {}
    started_run = time.monotonic()
    try:
        _run_all(names, args.toy, failed, timings)
    finally:
        close_templates()
    facts["load_average_at_end"] = round(os.getloadavg()[0], 2)
    facts["seconds"] = round(time.monotonic() - started_run, 1)
    rows = recorded()
    print(f"== summary: {describe(facts)}; {facts['seconds']} s in all")
    print(table(rows) if rows else "(no benchmark recorded a row)")
    for key, text in notes().items():
        print(f"  {key}: {text}")
    silent = [name for name in timings if name not in {row.benchmark for row in rows}]
    if silent:
        print(f"(no rows from {', '.join(silent)}: see their reports above)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": facts,
                "toy": args.toy,
                "seconds": timings,
                "notes": notes(),
                "rows": [row.as_dict() for row in rows],
            },
            indent=2,
        )
    )
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _run_all(names: list[str], toy: bool, failed: list[str], timings: dict[str, float]) -> None:
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "main", None)
        if not callable(run):
            continue
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            status = run(["--toy"] if toy else [])
        except Exception:
            traceback.print_exc()
            status = 1
        timings[name] = round(time.monotonic() - started, 1)
        if status:
            failed.append(name)
        print(flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench [--toy] [NAME ...]``: run the benchmarks (all, or those named) and print one table."""

from __future__ import annotations

import argparse
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
from bench import TOY_ENV, recorded, table

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def benchmark_names() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(bench.__path__) if not info.name.startswith("_"))


def machine() -> dict[str, str | int | None]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
    }


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
    failed: list[str] = []
    timings: dict[str, float] = {}
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "main", None)
        if not callable(run):
            continue
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            status = run(["--toy"] if args.toy else [])
        except Exception:
            traceback.print_exc()
            status = 1
        timings[name] = round(time.monotonic() - started, 1)
        if status:
            failed.append(name)
        print(flush=True)
    rows = recorded()
    print(f"== summary ({machine()['cpus']} CPUs, {platform.platform()})")
    print(table(rows) if rows else "(no benchmark recorded a row)")
    silent = [name for name in timings if name not in {row.benchmark for row in rows}]
    if silent:
        print(f"(no rows from {', '.join(silent)}: see their reports above)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"machine": machine(), "toy": args.toy, "seconds": timings, "rows": [row.as_dict() for row in rows]},
            indent=2,
        )
    )
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The command line every dataset benchmark shares: ``--toy`` and ``--backend``, one run per backend."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import bench
from bench import dataset
from bench._databases import BACKENDS, Backend

R = TypeVar("R")
S = TypeVar("S")


def run_per_backend(
    argv: list[str] | None,
    prog: str,
    doc: str | None,
    run: Callable[[Backend, S, Path], Coroutine[Any, Any, R]],
    sizes: tuple[S, S],
) -> tuple[list[R], S, bool]:
    """Parse the arguments, then ``run`` once per chosen backend (both by default) at the toy or the full
    size (``sizes`` = (toy, full)) in a scratch folder; returns the results, the size and whether it was toy."""
    parser = argparse.ArgumentParser(prog=prog, description=(doc or "").split("\n", 1)[0])
    parser.add_argument("--toy", action="store_true", help=f"{dataset.TOY.label}, seconds (or {bench.TOY_ENV}=1)")
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="repeatable (default: both)")
    args = parser.parse_args(argv)
    toy = bench.toy_requested(args.toy)
    size = sizes[0] if toy else sizes[1]
    with tempfile.TemporaryDirectory(prefix="intrablog-bench-") as folder:
        results = [asyncio.run(run(backend, size, Path(folder))) for backend in args.backend or BACKENDS]
    return results, size, toy

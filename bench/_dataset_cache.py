"""One generated dataset per backend and size for the whole run; each benchmark works on a copy of it.

Generating a million posts takes half a minute per backend; copying the result (a file, or PostgreSQL's
``CREATE DATABASE … TEMPLATE``) a few seconds. The templates are dropped when the run ends
(``close_templates``, also called at exit).
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import bench
from bench import _databases
from bench._databases import Backend
from bench.dataset import Dataset, Size, generate

_templates: dict[tuple[Backend, Size], tuple[str, Dataset]] = {}
_folder: Path | None = None


def _template_folder() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="intrablog-bench-datasets-"))
        atexit.register(close_templates)
    return _folder


async def _template(backend: Backend, size: Size) -> tuple[str, Dataset]:
    key = (backend, size)
    if key not in _templates:  # benchmarks run one after the other: no two ask at once
        url = await _databases.create_empty(backend, _template_folder(), "template")
        dataset = await generate(url, size)
        _templates[key] = (url, dataset)
        bench.note(f"dataset on {backend}", f"{size.label}: generated in {dataset.seconds:.1f} s")
    return _templates[key]


@asynccontextmanager
async def dataset_copy(backend: Backend, size: Size, folder: Path, purpose: str) -> AsyncIterator[tuple[str, Dataset]]:
    """A private copy of the dataset (URL, description), dropped on leaving."""
    template_url, dataset = await _template(backend, size)
    url = await _databases.copy_of(backend, template_url, folder, purpose)
    try:
        yield url, dataset
    finally:
        await _databases.drop(backend, url)


async def _drop_all() -> None:
    for (backend, _), (url, _) in list(_templates.items()):
        await _databases.drop(backend, url)
    _templates.clear()


def close_templates() -> None:
    global _folder
    if _templates:
        asyncio.run(_drop_all())
    if _folder is not None:
        shutil.rmtree(_folder, ignore_errors=True)
        _folder = None

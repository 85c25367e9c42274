"""Work that one node at a time may do, across every node sharing the database (the Database port has it).

On PostgreSQL any number of nodes share one database; a job such as the scheduled directory sync must not run
on all of them at once. On SQLite there is one node, so a section is always granted.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class ExclusiveSections(Protocol):
    """Sections named by their job (``"directory sync"``): one holder of a job at a time, on every node."""

    def try_exclusive(self, job: str) -> AbstractAsyncContextManager[bool]:
        """``async with database.try_exclusive(job) as held:`` True when this node holds the job until the
        block ends; False at once when another holder is inside it (the block should then do nothing).

        Raises Unavailable when the database cannot be asked.
        """
        ...

    def exclusive(self, job: str, waiting: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        """Hold the job for the block, waiting for another holder to leave it first (``waiting()`` is called
        before such a wait, to say so). Raises Unavailable when the database cannot be asked."""
        ...

"""A PostgreSQL server for the tests: the shared one on 127.0.0.1:5432 when it answers, else a throwaway cluster.

Recipes and pitfalls: TEST-SERVERS.md, section "PostgreSQL". Tests never start, stop or reconfigure the
shared server; they only create and drop their own uniquely named databases on it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

T = TypeVar("T")

SHARED_HOST = "127.0.0.1"
SHARED_PORT = 5432
# "throwaway" forces a private cluster even when the shared server answers (to exercise that path).
MODE_VARIABLE = "INTRABLOG_TEST_POSTGRES"
_OPERATION_TIMEOUT_S = 120.0
# Names carry the creating process id, so a later session can tell an abandoned one from a running one.
_DATABASE_NAME = re.compile(r"intrablog_(?:t|tpl)_(\d+)_[0-9a-f]+")
_CLUSTER_PREFIX = "intrablog-pg-"
_OWNER_FILE = "owner.pid"


def new_database_name(kind: str = "t") -> str:
    """``intrablog_t_<pid>_<hex>`` for a test database, ``intrablog_tpl_<pid>_<hex>`` for a template."""
    return f"intrablog_{kind}_{os.getpid()}_{uuid.uuid4().hex}"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def postgres_url(host: str, port: int, database: str) -> str:
    return f"postgresql+asyncpg://postgres@{host}:{port}/{database}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class LoopThread:
    """An event loop in a thread of its own, for session-wide async work done from sync fixtures.

    pytest-asyncio gives each test its own loop; database engines made for the whole session (the admin
    connection, template migrations) must not live on one of those, nor replace the main thread's loop.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-database-admin", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_OPERATION_TIMEOUT_S)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_OPERATION_TIMEOUT_S)
        self._loop.close()


class PostgresAdmin:
    """CREATE/DROP DATABASE on one server, over one kept-open AUTOCOMMIT connection (they refuse transactions)."""

    def __init__(self, loop: LoopThread, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._loop = loop
        self._engine: AsyncEngine = create_async_engine(
            postgres_url(host, port, "postgres"),
            isolation_level="AUTOCOMMIT",
            pool_size=1,
            connect_args={"timeout": 5},
        )

    def execute(self, sql: str) -> Any:
        async def run() -> Any:
            async with self._engine.connect() as connection:
                result = await connection.execute(text(sql))
                return result.scalar() if result.returns_rows else None

        return self._loop.run(run())

    def version(self) -> str:
        return str(self.execute("SHOW server_version"))

    def database_names(self) -> list[str]:
        async def run() -> list[str]:
            async with self._engine.connect() as connection:
                return list((await connection.execute(text("SELECT datname FROM pg_database"))).scalars())

        return self._loop.run(run())

    def drop_abandoned_databases(self) -> None:
        """Drop the test databases of sessions that were killed before their teardown ran."""
        for name in self.database_names():
            match = _DATABASE_NAME.fullmatch(name)
            if match and not process_alive(int(match.group(1))):
                self.drop_database(name)

    def create_database(self, name: str, template: str = "template0") -> None:
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop_database(self, name: str) -> None:
        # FORCE: a test that failed half-way may have left a connection open on it.
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._loop.run(self._engine.dispose())


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)")
    return found[-1].parent


class ThrowawayCluster:
    """initdb + pg_ctl in a fresh folder, on a free loopback port; removed again by stop()."""

    def __init__(self, folder: Path | None = None) -> None:
        """A new cluster, or (given ``folder``) a handle on an existing one, to stop it."""
        self.port = free_port()
        self._bin = _postgres_bin()
        # initdb refuses to run as root.
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if folder is not None:
            self.folder = folder
            return
        # mktemp -d, not pytest's tmp_path: every parent folder must be traversable by the postgres user.
        self.folder = Path(tempfile.mkdtemp(prefix=_CLUSTER_PREFIX))
        (self.folder / _OWNER_FILE).write_text(str(os.getpid()))
        if self._as_postgres:
            shutil.chown(self.folder, "postgres")

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        # -l: without it the server keeps pg_ctl's output pipes and the captured run never returns.
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-o", options, "start")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    @classmethod
    def stop_abandoned(cls) -> None:
        """Stop and remove the clusters of sessions that were killed before their teardown ran."""
        for folder in Path(tempfile.gettempdir()).glob(f"{_CLUSTER_PREFIX}*"):
            try:
                owner = int((folder / _OWNER_FILE).read_text())
            except (OSError, ValueError):
                continue  # not one of these, or still being set up
            if not process_alive(owner):
                cls(folder).stop()

    def _run(self, program: str, *arguments: str) -> None:
        command = [*self._as_postgres, str(self._bin / program), *arguments]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            log = self.folder / "log"
            server_log = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr}{done.stdout}{server_log}")


@dataclass
class PostgresServer:
    """The server this test session uses, and how to reach it."""

    admin: PostgresAdmin
    version: str
    cluster: ThrowawayCluster | None

    @property
    def address(self) -> str:
        return f"{self.admin.host}:{self.admin.port}"

    @property
    def description(self) -> str:
        origin = f"throwaway cluster in {self.cluster.folder}" if self.cluster else "shared server"
        return f"PostgreSQL {self.version} at {self.address} ({origin})"

    def url(self, database: str) -> str:
        return postgres_url(self.admin.host, self.admin.port, database)

    def stop(self) -> None:
        try:
            self.admin.close()
        finally:
            if self.cluster is not None:
                self.cluster.stop()


def wants_throwaway() -> bool:
    return os.environ.get(MODE_VARIABLE, "").strip().lower() == "throwaway"


def start_postgres(loop: LoopThread) -> PostgresServer:
    """Use the shared server if it answers a query, else start (and later stop) a private cluster."""
    if not wants_throwaway() and port_answers(SHARED_HOST, SHARED_PORT):
        admin = PostgresAdmin(loop, SHARED_HOST, SHARED_PORT)
        try:
            server = PostgresServer(admin=admin, version=admin.version(), cluster=None)
        except Exception:
            # Something answers on 5432 but will not serve us: fall back rather than fail every test.
            admin.close()
        else:
            admin.drop_abandoned_databases()
            return server
    ThrowawayCluster.stop_abandoned()
    cluster = ThrowawayCluster()
    try:
        cluster.start()
        admin = PostgresAdmin(loop, "127.0.0.1", cluster.port)
        return PostgresServer(admin=admin, version=admin.version(), cluster=cluster)
    except BaseException:
        cluster.stop()
        raise


def describe_shared_server() -> str:
    """For the report header, before any test runs: what the PostgreSQL half of the suite will use."""
    if wants_throwaway():
        return f"postgresql: a throwaway cluster ({MODE_VARIABLE}=throwaway)"
    if not port_answers(SHARED_HOST, SHARED_PORT):
        return f"postgresql: nothing on {SHARED_HOST}:{SHARED_PORT}; a throwaway cluster starts when needed"
    loop = LoopThread()
    admin = PostgresAdmin(loop, SHARED_HOST, SHARED_PORT)
    try:
        return f"postgresql: PostgreSQL {admin.version()} at {SHARED_HOST}:{SHARED_PORT} (shared server)"
    except Exception as exc:
        return f"postgresql: {SHARED_HOST}:{SHARED_PORT} answers but refuses queries ({exc}); throwaway instead"
    finally:
        admin.close()
        loop.close()

"""Process and port tools of the dev-stack launcher: who listens where, who still runs, how to stop them; and
the lifecycle its servers (slapd, Prosody) share."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 30


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The servers themselves bind with SO_REUSEADDR: only a listener makes the port unusable.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def log_tail(path: Path) -> str:
    """The last lines of a log, indented for an error message."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return f"    (no log at {path})"
    return "\n".join(f"    {line}" for line in lines[-LOG_TAIL_LINES:]) or "    (empty log)"


def die_with_parent() -> None:
    # Runs in the child before exec: if the launcher is killed outright (SIGKILL), the kernel sends the
    # child SIGTERM, so not even that leaves a server behind holding the stack's port.
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def show(path: Path) -> str:
    """A path as a person reads it: relative to the current folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own http:// URL
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # refused, reset, timed out: not listening yet
        return None


def runs(pid: int, needle: str) -> bool:
    """Whether pid is a live process (not a zombie) whose command line contains needle."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()[0]
        return state != "Z" and needle.encode() in (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class StartStop(ABC):
    """Something that starts and stops, usable as ``with thing:`` (started inside, stopped on the way out)."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


SERVER_READY_TIMEOUT = 10.0
_SERVER_POLL_INTERVAL = 0.02
SERVER_STOP_TIMEOUT = 5.0


class ServerProcess(StartStop):
    """One server process of the dev stack and the tests (slapd, Prosody): started in a session of its own
    with its output appended to :attr:`log_path`, polled until ready, stopped with SIGTERM and SIGKILL only
    past a few seconds."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    @abstractmethod
    def log_path(self) -> Path: ...

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _launch(
        self,
        command: list[str],
        *,
        ready: Callable[[int], bool],
        exited: Callable[[int], Exception],
        timed_out: Callable[[], Exception],
    ) -> None:
        """Start ``command`` and poll ``ready(pid)`` until it holds; raise ``exited(status)`` when the process
        ends first, or stop it and raise ``timed_out()`` past :data:`SERVER_READY_TIMEOUT`."""
        # A file, not a pipe: nobody drains a pipe while `make run` serves for hours.
        self._log = self.log_path.open("ab")
        process = self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, start_new_session=True
        )
        deadline = time.monotonic() + SERVER_READY_TIMEOUT
        while True:
            if process.poll() is not None:
                code = process.returncode
                self._forget_process()
                raise exited(code)
            if ready(process.pid):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise timed_out()
            time.sleep(_SERVER_POLL_INTERVAL)

    def stop(self) -> None:
        """Graceful: SIGTERM (the server closes its connections), SIGKILL only past a few seconds."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            self._terminate(process)
            try:
                process.wait(timeout=SERVER_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=SERVER_STOP_TIMEOUT)
        self._forget_process()

    def _terminate(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGTERM)

    def _forget_process(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, since: int = 0, limit: int = 4000) -> str:
        """The last ``limit`` characters of the log from byte ``since`` on, for an error message."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return text[-limit:]

"""Process and port tools of the dev-stack launcher: who listens where, who still runs, how to stop them."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

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

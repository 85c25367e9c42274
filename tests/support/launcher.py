"""Drives `python -m intrablog.devstack` (what `make run` starts) on free ports in a temporary folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from intrablog.devstack.processes import http_status
from intrablog.devstack.slapd import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0


@dataclass
class Launcher:
    """One run of the launcher; its output (stdout and stderr) goes to a file."""

    workdir: Path
    web_port: int
    ldap_port: int
    xmpp_client_port: int
    xmpp_component_port: int
    output: Path
    process: subprocess.Popen[bytes] | None = None
    pids: dict[str, int] = field(default_factory=dict)
    run_starts_at: int = 0  # offset in output where the current run's output begins

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        env = {name: value for name, value in os.environ.items() if not name.startswith("INTRABLOG_")}
        env |= {
            "INTRABLOG_DEV_WEB__PORT": str(self.web_port),
            "INTRABLOG_DEV_LDAP__PORT": str(self.ldap_port),
            "INTRABLOG_DEV_XMPP__CLIENT_PORT": str(self.xmpp_client_port),
            "INTRABLOG_DEV_XMPP__COMPONENT_PORT": str(self.xmpp_component_port),
            "INTRABLOG_DEV_WORKDIR": str(self.workdir),
        }
        with self.output.open("ab") as out:
            self.run_starts_at = out.tell()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "intrablog.devstack"],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        """What the current run has printed so far."""
        return self.output.read_bytes()[self.run_starts_at :].decode(errors="replace")

    def running(self) -> subprocess.Popen[bytes]:
        assert self.process is not None
        return self.process

    def wait_until_up(self) -> None:
        """Until the banner is out and /healthz answers; records the PIDs from <workdir>/pids.json."""
        process = self.running()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert process.poll() is None, f"launcher exited with {process.returncode}:\n{self.text()}"
            if "intrablog dev stack is up" in self.text() and http_status(f"{self.web_url}/healthz") == 200:
                self.pids = json.loads((self.workdir / "pids.json").read_text(encoding="utf-8"))
                return
            time.sleep(0.1)
        pytest.fail(f"the dev stack was not up within {START_TIMEOUT} s:\n{self.text()}")

    def stop_with(self, signum: signal.Signals) -> int:
        process = self.running()
        process.send_signal(signum)
        try:
            return process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the launcher did not exit within {STOP_TIMEOUT} s of {signum.name}:\n{self.text()}")

    def kill_leftovers(self) -> None:
        """Teardown after a failed test: SIGKILL whatever this run started that still lives."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in [*self.pids.values(), *processes_mentioning(self.workdir)]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def post_json(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - a local http:// URL
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def running(pid: int) -> bool:
    """Alive and not a zombie: a process whose parent was killed is reaped by init, if ever."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def processes_mentioning(path: Path) -> list[int]:
    """PIDs of processes whose command line contains path (slapd -f ..., intrablog serve --config ...)."""
    needle = str(path).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return found


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    run = Launcher(tmp_path / "stack", free_port(), free_port(), free_port(), free_port(), tmp_path / "launcher.out")
    yield run
    run.kill_leftovers()

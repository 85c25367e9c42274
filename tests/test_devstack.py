"""`python -m intrablog.devstack` (what `make run` starts), run for real on free ports in a temporary folder.

It must serve sign-in with the demo directory and XMPP sign-in with the demo accounts, start again on the
same data, stop everything it started on SIGINT or SIGTERM with status 0, stop the rest when a child dies,
and refuse a port that is taken.
"""

from __future__ import annotations

import asyncio
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
from tests.support.xmpp_client import ImClient

REPO_ROOT = Path(__file__).resolve().parents[1]
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
        for pid in [*self.pids.values(), *_processes_mentioning(self.workdir)]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _post_json(url: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - a local http:// URL
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _running(pid: int) -> bool:
    """Alive and not a zombie: a process whose parent was killed is reaped by init, if ever."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _processes_mentioning(path: Path) -> list[int]:
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


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _assert_nothing_left(launcher: Launcher) -> None:
    assert {"launcher", "serve", "slapd", "prosody"} <= launcher.pids.keys(), launcher.pids
    left = {name: pid for name, pid in launcher.pids.items() if _alive(pid)}
    assert left == {}, f"still running after the launcher exited: {left}\n{launcher.text()}"
    assert [pid for pid in _processes_mentioning(launcher.workdir) if _running(pid)] == []
    assert not (launcher.workdir / "pids.json").exists()
    assert not _accepts(launcher.xmpp_client_port)
    assert not _accepts(launcher.xmpp_component_port)


def _assert_alice_signs_in(launcher: Launcher) -> None:
    status, body = _post_json(f"{launcher.web_url}/api/v1/login", {"username": "alice", "password": "alice-pass"})
    assert status == 200, f"{status}: {body}"
    assert isinstance(body["token"], str)
    assert body["token"]
    assert body["user"]["username"] == "alice"


def _assert_bob_signs_in_on_xmpp(launcher: Launcher) -> None:
    """An ordinary client session as bob@example.com with the directory password, the way TEST-SERVERS.md
    connects (no TLS, PLAIN on loopback)."""

    async def sign_in() -> None:
        bob = ImClient("bob@example.com", "bob-pass", "127.0.0.1", launcher.xmpp_client_port)
        await bob.connect(timeout=10)
        try:
            info = await bob.disco_items("example.com")
            assert "blog.example.com" in {item.jid for item in info}
        finally:
            await bob.close()

    asyncio.run(sign_in())


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    run = Launcher(tmp_path / "stack", free_port(), free_port(), free_port(), free_port(), tmp_path / "launcher.out")
    yield run
    run.kill_leftovers()


def test_stack_serves_sign_in_and_stops_everything_on_sigint_then_again_on_sigterm(launcher: Launcher) -> None:
    launcher.start()
    launcher.wait_until_up()
    banner = launcher.text()
    assert launcher.web_url in banner
    assert f"ldap://127.0.0.1:{launcher.ldap_port}" in banner
    assert f"127.0.0.1:{launcher.xmpp_client_port}, domain example.com" in banner
    assert f"component blog.example.com on 127.0.0.1:{launcher.xmpp_component_port}" in banner
    assert "plain auth allowed on loopback: any desktop client connects" in banner
    for login in ("alice-pass", "bob-pass", "carol-pass", "dave-pass"):
        assert login in banner
    _assert_alice_signs_in(launcher)
    _assert_bob_signs_in_on_xmpp(launcher)
    config = (launcher.workdir / "intrablog.toml").read_text(encoding="utf-8")
    assert f'[xmpp]\nenabled = true\nhost = "127.0.0.1"\nport = {launcher.xmpp_component_port}\n' in config

    assert launcher.stop_with(signal.SIGINT) == 0, launcher.text()
    _assert_nothing_left(launcher)

    # The second start finds the directory loaded, the XMPP accounts there and the database migrated and seeded.
    launcher.start()
    launcher.wait_until_up()
    _assert_alice_signs_in(launcher)
    _assert_bob_signs_in_on_xmpp(launcher)

    assert launcher.stop_with(signal.SIGTERM) == 0, launcher.text()
    _assert_nothing_left(launcher)


def test_stack_stops_the_rest_and_fails_when_a_child_dies(launcher: Launcher) -> None:
    launcher.start()
    launcher.wait_until_up()

    os.kill(launcher.pids["serve"], signal.SIGKILL)

    try:
        code = launcher.running().wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the launcher kept running after its serve died:\n{launcher.text()}")
    assert code != 0
    assert "intrablog serve exited unexpectedly" in launcher.text()
    _assert_nothing_left(launcher)


def test_stack_cleans_up_after_a_killed_launcher(launcher: Launcher) -> None:
    launcher.start()
    launcher.wait_until_up()
    first = dict(launcher.pids)

    launcher.running().kill()  # SIGKILL: no chance to stop anything
    launcher.running().wait()
    deadline = time.monotonic() + STOP_TIMEOUT
    while _running(first["serve"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(first["serve"]), "serve should die with its launcher"

    # slapd and Prosody outlived it; the next start stops them and comes up on the same data.
    launcher.start()
    launcher.wait_until_up()
    assert not _running(first["slapd"])
    assert not _running(first["prosody"])
    assert f"stopping the slapd (pid {first['slapd']})" in launcher.text()
    assert f"stopping the prosody (pid {first['prosody']})" in launcher.text()
    _assert_alice_signs_in(launcher)
    _assert_bob_signs_in_on_xmpp(launcher)

    assert launcher.stop_with(signal.SIGINT) == 0, launcher.text()
    _assert_nothing_left(launcher)


@pytest.mark.parametrize(
    ("port_of", "purpose"),
    [("web_port", "web"), ("xmpp_client_port", "xmpp client"), ("xmpp_component_port", "xmpp component")],
)
def test_stack_refuses_a_port_that_is_taken(launcher: Launcher, port_of: str, purpose: str) -> None:
    port: int = getattr(launcher, port_of)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        launcher.start()
        try:
            code = launcher.running().wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the launcher did not refuse the taken port:\n{launcher.text()}")

    assert code != 0
    output = launcher.text()
    assert f"port {port} on 127.0.0.1, for {purpose}" in output
    assert "intrablog dev stack is up" not in output
    assert [pid for pid in _processes_mentioning(launcher.workdir) if _running(pid)] == []

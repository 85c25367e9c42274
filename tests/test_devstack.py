"""`python -m intrablog.devstack` (what `make run` starts), run for real on free ports in a temporary folder.

It must serve sign-in with the demo directory and XMPP sign-in with the demo accounts, start again on the
same data, stop everything it started on SIGINT or SIGTERM with status 0, stop the rest when a child dies,
and refuse a port that is taken.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time

import pytest

from tests.support.launcher import (
    STOP_TIMEOUT,
    Launcher,
    accepts,
    alive,
    post_json,
    processes_mentioning,
    running,
)
from tests.support.xmpp_client import ImClient


def _assert_nothing_left(launcher: Launcher) -> None:
    assert {"launcher", "serve", "slapd", "prosody"} <= launcher.pids.keys(), launcher.pids
    left = {name: pid for name, pid in launcher.pids.items() if alive(pid)}
    assert left == {}, f"still running after the launcher exited: {left}\n{launcher.text()}"
    assert [pid for pid in processes_mentioning(launcher.workdir) if running(pid)] == []
    assert not (launcher.workdir / "pids.json").exists()
    assert not accepts(launcher.xmpp_client_port)
    assert not accepts(launcher.xmpp_component_port)


def _assert_alice_signs_in(launcher: Launcher) -> None:
    status, body = post_json(f"{launcher.web_url}/api/v1/login", {"username": "alice", "password": "alice-pass"})
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
    while running(first["serve"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(first["serve"]), "serve should die with its launcher"

    # slapd and Prosody outlived it; the next start stops them and comes up on the same data.
    launcher.start()
    launcher.wait_until_up()
    assert not running(first["slapd"])
    assert not running(first["prosody"])
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
    assert [pid for pid in processes_mentioning(launcher.workdir) if running(pid)] == []

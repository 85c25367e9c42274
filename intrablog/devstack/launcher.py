"""The dev stack of `make run`: slapd with the demo directory, Prosody with the demo XMPP accounts, then
`intrablog serve` on SQLite.

Everything it starts, it stops: on Ctrl-C or SIGTERM it stops serve, then Prosody, then slapd, waits for each
and exits 0; when one of them dies on its own it stops the others and exits 1 with the dead one's last log
lines.
Ports and paths come from deploy/dev/stack.toml, INTRABLOG_DEV_* variables or ``--config FILE``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import intrablog
from intrablog.devstack.banner import render_banner
from intrablog.devstack.processes import (
    STOP_TIMEOUT,
    die_with_parent,
    http_status,
    log_tail,
    port_in_use,
    runs,
    show,
    stop_process,
)
from intrablog.devstack.prosody import Prosody, ProsodyError
from intrablog.devstack.slapd import Slapd, SlapdError
from intrablog.devstack.stack_config import (
    DEFAULT_STACK_FILE,
    DEMO_LOGINS,
    ENV_PREFIX,
    LDAP_ADMIN_PASSWORD,
    SUFFIX,
    XMPP_COMPONENT_DOMAIN,
    XMPP_COMPONENT_SECRET,
    XMPP_DOMAIN,
    XMPP_MUC_DOMAIN,
    StackConfig,
    load_stack_config,
    render_intrablog_config,
)
from intrablog.errors import ConfigError

__all__ = ["Launcher", "http_status", "main"]

STARTUP_TIMEOUT = 60.0  # seconds for migrate, seed, sync-directory, and serve to answer /healthz
POLL_INTERVAL = 0.1

# Variables the children must not see: the stack's own, and overrides of what the stack sets itself
# (an exported INTRABLOG_DATABASE__URL would otherwise move the dev stack onto another database).
STACK_OWNED_VARIABLES = (
    ENV_PREFIX,
    "INTRABLOG_CONFIG",
    "INTRABLOG_SERVER__",
    "INTRABLOG_DATABASE__",
    "INTRABLOG_LDAP__",
    "INTRABLOG_XMPP__",
)


class Stopping(Exception):
    """SIGINT or SIGTERM arrived: stop what runs and exit 0."""


class StackFailed(Exception):
    """A part of the stack could not start or died: stop the rest and exit 1."""


def _intrablog_command() -> list[str]:
    return [sys.executable, "-m", "intrablog.cli"]


def _same_code_env(env: dict[str, str]) -> dict[str, str]:
    """Children import the intrablog the launcher runs, not whichever one the environment has installed
    (a second checkout sharing a virtualenv would otherwise run the installed code with this config)."""
    source_root = str(Path(intrablog.__file__).resolve().parent.parent)
    paths = [source_root, *(part for part in env.get("PYTHONPATH", "").split(os.pathsep) if part)]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}


def say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


class Launcher:
    def __init__(self, stack: StackConfig) -> None:
        self.stack = stack
        self.stopping = False
        self.slapd: Slapd | None = None
        self.prosody: Prosody | None = None
        self.serve: subprocess.Popen[bytes] | None = None
        self.wrote_pids = False
        self.child_env = _same_code_env(
            {k: v for k, v in os.environ.items() if not k.upper().startswith(STACK_OWNED_VARIABLES)}
        )
        self.ignored = sorted(
            k for k in os.environ if k.upper().startswith(STACK_OWNED_VARIABLES) and not k.startswith(ENV_PREFIX)
        )

    # -- signals ------------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag: the main loop polls it, so no step is cut in half by the signal.
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)
        if self.stopping:
            raise Stopping

    # -- the whole run --------------------------------------------------------------------------------
    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        code = 1
        try:
            try:
                if self.ignored:
                    say(f"ignoring {', '.join(self.ignored)}: the stack sets server, database, ldap and xmpp itself")
                self._clean_up_previous_run()
                self._check_ports()
                self.stack.logs.mkdir(parents=True, exist_ok=True)
                self._start_slapd()
                self._start_prosody()
                self._write_config()
                self._run_step("migrate")
                self._run_step("seed")
                # Everyone in the demo directory is a user from the first minute (announcements reach them
                # all), not only after the first scheduled sync.
                self._run_step("sync-directory")
                self._start_serve()
                self._write_pids()
                print(render_banner(self.stack, os.getpid()), flush=True)
                self._watch()  # returns only by raising
            except Stopping:
                say("stopping")
                code = 0
            except StackFailed as exc:
                print(f"devstack: error: {exc}", file=sys.stderr, flush=True)
        finally:
            self._stop_all()
        return code

    def _clean_up_previous_run(self) -> None:
        """Refuse if a launcher runs from this workdir; stop what a killed one (SIGKILL) left running."""
        pids_path = self.stack.workdir / "pids.json"
        try:
            previous: dict[str, int] = json.loads(pids_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        launcher = previous.get("launcher", 0)
        if launcher != os.getpid() and runs(launcher, "intrablog.devstack"):
            raise StackFailed(f"a dev stack already runs from {show(self.stack.workdir)} (pid {launcher})")
        for name in ("serve", "prosody", "slapd"):
            pid = previous.get(name, 0)
            # Only a process that names our workdir is ours: the PID may have been reused since.
            if runs(pid, str(self.stack.workdir)):
                say(f"stopping the {name} (pid {pid}) left behind by a launcher that was killed")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + STOP_TIMEOUT
                while runs(pid, str(self.stack.workdir)) and time.monotonic() < deadline:
                    time.sleep(POLL_INTERVAL)
                if runs(pid, str(self.stack.workdir)):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        pids_path.unlink()

    def _check_ports(self) -> None:
        wanted = (
            (self.stack.web.host, self.stack.web.port, "web + API (intrablog serve)", "INTRABLOG_DEV_WEB__PORT"),
            ("127.0.0.1", self.stack.ldap.port, "LDAP (slapd, dev directory)", "INTRABLOG_DEV_LDAP__PORT"),
            ("127.0.0.1", self.stack.xmpp.client_port, "xmpp client (Prosody)", "INTRABLOG_DEV_XMPP__CLIENT_PORT"),
            (
                "127.0.0.1",
                self.stack.xmpp.component_port,
                "xmpp component (Prosody, for the bridge)",
                "INTRABLOG_DEV_XMPP__COMPONENT_PORT",
            ),
        )
        for host, port, purpose, variable in wanted:
            if port_in_use(host, port):
                raise StackFailed(
                    f"port {port} on {host}, for {purpose}, is already in use. Stop what listens there "
                    f"(ss -ltnp 'sport = :{port}' shows it) or choose another port with {variable}=..."
                )

    def _start_slapd(self) -> None:
        ldap_dir = self.stack.workdir / "ldap"
        loaded_marker = ldap_dir / "demo-directory-loaded"
        if not loaded_marker.exists() and (ldap_dir / "db").exists():
            # A directory whose loading never finished (interrupted first run): begin it again.
            shutil.rmtree(ldap_dir / "db")
        self.slapd = Slapd(ldap_dir, self.stack.ldap.port, suffix=SUFFIX, admin_password=LDAP_ADMIN_PASSWORD)
        try:
            self.slapd.start()
        except SlapdError as exc:
            raise StackFailed(f"slapd did not start (log: {show(self.slapd.log_path)}): {exc}") from None
        say(f"slapd listening on {self.slapd.url} (data and log in {show(ldap_dir)})")
        if loaded_marker.exists():
            return
        try:
            self.slapd.load_ldif(self.stack.directory_ldif)
        except (OSError, SlapdError) as exc:
            raise StackFailed(f"could not load {show(self.stack.directory_ldif)}: {exc}") from None
        loaded_marker.write_text(f"{self.stack.directory_ldif}\n", encoding="utf-8")
        say(f"loaded the demo directory from {show(self.stack.directory_ldif)}")

    def _start_prosody(self) -> None:
        xmpp_dir = self.stack.workdir / "xmpp"
        self.prosody = Prosody(
            xmpp_dir,
            self.stack.xmpp.client_port,
            self.stack.xmpp.component_port,
            domain=XMPP_DOMAIN,
            component_domain=XMPP_COMPONENT_DOMAIN,
            component_secret=XMPP_COMPONENT_SECRET,
            muc_domain=XMPP_MUC_DOMAIN,
        )
        # At every start: the demo accounts always have their documented passwords.
        self.prosody.register_many((name, f"{name}-pass") for name, _ in DEMO_LOGINS)
        try:
            self.prosody.start()
        except (OSError, ProsodyError) as exc:
            raise StackFailed(f"Prosody did not start (log: {show(self.prosody.log_path)}): {exc}") from None
        say(
            f"Prosody listening on 127.0.0.1:{self.prosody.c2s_port} (clients, {XMPP_DOMAIN}) and "
            f"127.0.0.1:{self.prosody.component_port} (component {XMPP_COMPONENT_DOMAIN}); "
            f"data and log in {show(xmpp_dir)}"
        )

    def _write_config(self) -> None:
        self.stack.config_path.write_text(render_intrablog_config(self.stack), encoding="utf-8")
        say(f"wrote {show(self.stack.config_path)}")

    def _spawn(self, step: str) -> tuple[subprocess.Popen[bytes], Path]:
        if self.stopping:
            raise Stopping
        log_path = self.stack.logs / f"{step}.log"
        command = [*_intrablog_command(), step, "--config", str(self.stack.config_path)]
        with log_path.open("ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.child_env,
                start_new_session=True,  # Ctrl-C reaches the launcher only; it stops children in order
                preexec_fn=die_with_parent,  # safe: the launcher runs no threads
            )
        return process, log_path

    def _run_step(self, step: str) -> None:
        say(f"intrablog {step}")
        process, log_path = self._spawn(step)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        try:
            while process.poll() is None:
                if time.monotonic() > deadline:
                    raise StackFailed(
                        f"intrablog {step} took more than {STARTUP_TIMEOUT:.0f} s; last lines of "
                        f"{show(log_path)}:\n{log_tail(log_path)}"
                    )
                self._sleep(POLL_INTERVAL)
        finally:
            stop_process(process)
        if process.returncode != 0:
            raise StackFailed(
                f"intrablog {step} failed with status {process.returncode}; last lines of "
                f"{show(log_path)}:\n{log_tail(log_path)}"
            )

    def _start_serve(self) -> None:
        self.serve, log_path = self._spawn("serve")
        say(f"intrablog serve started (pid {self.serve.pid}, log {show(log_path)}), waiting for /healthz")
        url = f"{self.stack.web_url}/healthz"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            self._check_children()
            status = http_status(url)
            if status == 200:
                self._check_children()  # a 200 from another server while ours died is no success
                return
            if time.monotonic() > deadline:
                answer = f"it last answered {status}" if status else "it never answered"
                raise StackFailed(
                    f"{url} did not answer 200 within {STARTUP_TIMEOUT:.0f} s ({answer}); last lines of "
                    f"{show(log_path)}:\n{log_tail(log_path)}"
                )
            self._sleep(POLL_INTERVAL)

    def _check_children(self) -> None:
        if self.stopping:
            raise Stopping
        if self.serve is not None and self.serve.poll() is not None:
            log_path = self.stack.logs / "serve.log"
            raise StackFailed(
                f"intrablog serve exited unexpectedly with status {self.serve.returncode}; last lines of "
                f"{show(log_path)}:\n{log_tail(log_path)}"
            )
        if self.prosody is not None and not self.prosody.running:
            raise StackFailed(
                f"Prosody exited unexpectedly; last lines of {show(self.prosody.log_path)}:\n"
                f"{log_tail(self.prosody.log_path)}"
            )
        if self.slapd is not None and not self.slapd.running:
            raise StackFailed(
                f"slapd exited unexpectedly; last lines of {show(self.slapd.log_path)}:\n"
                f"{log_tail(self.slapd.log_path)}"
            )

    def _watch(self) -> None:
        while True:
            self._sleep(POLL_INTERVAL * 5)
            self._check_children()

    def _pids(self) -> dict[str, int]:
        pids = {"launcher": os.getpid()}
        if self.serve is not None:
            pids["serve"] = self.serve.pid
        if self.prosody is not None and self.prosody.pid is not None:
            pids["prosody"] = self.prosody.pid
        if self.slapd is not None:
            # slapd writes its pidfile as it starts, before it accepts connections.
            with contextlib.suppress(OSError, ValueError):
                pids["slapd"] = int((self.slapd.workdir / "slapd.pid").read_text(encoding="ascii").strip())
        return pids

    def _write_pids(self) -> None:
        (self.stack.workdir / "pids.json").write_text(json.dumps(self._pids()) + "\n", encoding="utf-8")
        self.wrote_pids = True

    def _stop_all(self) -> None:
        # Ignore further signals: shutdown runs to its end whatever arrives.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self.serve is not None and self.serve.poll() is None:
            stop_process(self.serve)
            say(f"intrablog serve stopped (status {self.serve.returncode})")
        if self.prosody is not None:
            was_running = self.prosody.running
            self.prosody.stop()  # also reaps a Prosody that died on its own
            if was_running:
                say("Prosody stopped")
        if self.slapd is not None:
            was_running = self.slapd.running
            self.slapd.stop()  # also reaps a slapd that died on its own
            if was_running:
                say("slapd stopped")
        if self.wrote_pids:
            (self.stack.workdir / "pids.json").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m intrablog.devstack",
        description="Start the dev stack (slapd with the demo directory, Prosody, intrablog) until Ctrl-C.",
    )
    parser.add_argument("--config", type=Path, default=None, help=f"stack file (default {show(DEFAULT_STACK_FILE)})")
    args = parser.parse_args(argv)
    try:
        stack = load_stack_config(args.config)
    except ConfigError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        return 2
    return Launcher(stack).run()

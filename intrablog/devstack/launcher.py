"""The dev stack of `make run`: slapd with the demo directory, then `intrablog serve` on SQLite.

Everything it starts, it stops: on Ctrl-C or SIGTERM it stops serve, then slapd, waits for each and exits 0;
when one of them dies on its own it stops the other and exits 1 with the dead one's last log lines.
Ports and paths come from deploy/dev/stack.toml, INTRABLOG_DEV_* variables or ``--config FILE``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from intrablog.devstack.slapd import Slapd, SlapdError
from intrablog.devstack.stack_config import (
    DEFAULT_STACK_FILE,
    DEMO_LOGINS,
    ENV_PREFIX,
    LDAP_ADMIN_DN,
    LDAP_ADMIN_PASSWORD,
    SUFFIX,
    StackConfig,
    load_stack_config,
    render_intrablog_config,
)
from intrablog.errors import ConfigError

STARTUP_TIMEOUT = 60.0  # seconds for migrate, seed, and serve to answer /healthz
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.1
LOG_TAIL_LINES = 30

# Variables the children must not see: the stack's own, and overrides of what the stack sets itself
# (an exported INTRABLOG_DATABASE__URL would otherwise move the dev stack onto another database).
STACK_OWNED_VARIABLES = (
    ENV_PREFIX,
    "INTRABLOG_CONFIG",
    "INTRABLOG_SERVER__",
    "INTRABLOG_DATABASE__",
    "INTRABLOG_LDAP__",
)


class Stopping(Exception):
    """SIGINT or SIGTERM arrived: stop what runs and exit 0."""


class StackFailed(Exception):
    """A part of the stack could not start or died: stop the rest and exit 1."""


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The servers themselves bind with SO_REUSEADDR: only a listener makes the port unusable.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return f"    (no log at {path})"
    return "\n".join(f"    {line}" for line in lines[-LOG_TAIL_LINES:]) or "    (empty log)"


def _die_with_parent() -> None:
    # Runs in the child before exec: if the launcher is killed outright (SIGKILL), the kernel sends the
    # child SIGTERM, so not even that leaves a server behind holding the stack's port.
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _intrablog_command() -> list[str]:
    script = Path(sys.executable).parent / "intrablog"
    return [str(script)] if script.exists() else [sys.executable, "-m", "intrablog.cli"]


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


class Launcher:
    def __init__(self, stack: StackConfig) -> None:
        self.stack = stack
        self.stopping = False
        self.slapd: Slapd | None = None
        self.serve: subprocess.Popen[bytes] | None = None
        self.wrote_pids = False
        self.child_env = {k: v for k, v in os.environ.items() if not k.upper().startswith(STACK_OWNED_VARIABLES)}
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
                    say(f"ignoring {', '.join(self.ignored)}: the stack sets server, database and ldap itself")
                self._clean_up_previous_run()
                self._check_ports()
                self.stack.logs.mkdir(parents=True, exist_ok=True)
                self._start_slapd()
                self._write_config()
                self._run_step("migrate")
                self._run_step("seed")
                self._start_serve()
                self._write_pids()
                self._print_banner()
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
        if launcher != os.getpid() and _runs(launcher, "intrablog.devstack"):
            raise StackFailed(f"a dev stack already runs from {_show(self.stack.workdir)} (pid {launcher})")
        for name in ("serve", "slapd"):
            pid = previous.get(name, 0)
            # Only a process that names our workdir is ours: the PID may have been reused since.
            if _runs(pid, str(self.stack.workdir)):
                say(f"stopping the {name} (pid {pid}) left behind by a launcher that was killed")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + STOP_TIMEOUT
                while _runs(pid, str(self.stack.workdir)) and time.monotonic() < deadline:
                    time.sleep(POLL_INTERVAL)
                if _runs(pid, str(self.stack.workdir)):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
        pids_path.unlink()

    def _check_ports(self) -> None:
        wanted = (
            (self.stack.web.host, self.stack.web.port, "web + API (intrablog serve)", "INTRABLOG_DEV_WEB__PORT"),
            ("127.0.0.1", self.stack.ldap.port, "LDAP (slapd, dev directory)", "INTRABLOG_DEV_LDAP__PORT"),
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
            raise StackFailed(f"slapd did not start (log: {_show(self.slapd.log_path)}): {exc}") from None
        say(f"slapd listening on {self.slapd.url} (data and log in {_show(ldap_dir)})")
        if loaded_marker.exists():
            return
        try:
            self.slapd.load_ldif(self.stack.directory_ldif)
        except (OSError, SlapdError) as exc:
            raise StackFailed(f"could not load {_show(self.stack.directory_ldif)}: {exc}") from None
        loaded_marker.write_text(f"{self.stack.directory_ldif}\n", encoding="utf-8")
        say(f"loaded the demo directory from {_show(self.stack.directory_ldif)}")

    def _write_config(self) -> None:
        self.stack.config_path.write_text(render_intrablog_config(self.stack), encoding="utf-8")
        say(f"wrote {_show(self.stack.config_path)}")

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
                preexec_fn=_die_with_parent,  # safe: the launcher runs no threads
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
                        f"{_show(log_path)}:\n{_log_tail(log_path)}"
                    )
                self._sleep(POLL_INTERVAL)
        finally:
            _stop_process(process)
        if process.returncode != 0:
            raise StackFailed(
                f"intrablog {step} failed with status {process.returncode}; last lines of "
                f"{_show(log_path)}:\n{_log_tail(log_path)}"
            )

    def _start_serve(self) -> None:
        self.serve, log_path = self._spawn("serve")
        say(f"intrablog serve started (pid {self.serve.pid}, log {_show(log_path)}), waiting for /healthz")
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
                    f"{_show(log_path)}:\n{_log_tail(log_path)}"
                )
            self._sleep(POLL_INTERVAL)

    def _check_children(self) -> None:
        if self.stopping:
            raise Stopping
        if self.serve is not None and self.serve.poll() is not None:
            log_path = self.stack.logs / "serve.log"
            raise StackFailed(
                f"intrablog serve exited unexpectedly with status {self.serve.returncode}; last lines of "
                f"{_show(log_path)}:\n{_log_tail(log_path)}"
            )
        if self.slapd is not None and not self.slapd.running:
            raise StackFailed(
                f"slapd exited unexpectedly; last lines of {_show(self.slapd.log_path)}:\n"
                f"{_log_tail(self.slapd.log_path)}"
            )

    def _watch(self) -> None:
        while True:
            self._sleep(POLL_INTERVAL * 5)
            self._check_children()

    def _pids(self) -> dict[str, int]:
        pids = {"launcher": os.getpid()}
        if self.serve is not None:
            pids["serve"] = self.serve.pid
        if self.slapd is not None:
            # slapd writes its pidfile as it starts, before it accepts connections.
            with contextlib.suppress(OSError, ValueError):
                pids["slapd"] = int((self.slapd.workdir / "slapd.pid").read_text(encoding="ascii").strip())
        return pids

    def _write_pids(self) -> None:
        (self.stack.workdir / "pids.json").write_text(json.dumps(self._pids()) + "\n", encoding="utf-8")
        self.wrote_pids = True

    def _print_banner(self) -> None:
        web = self.stack.web_url
        width = max(len(name) for name, _ in DEMO_LOGINS)
        logins = "\n".join(
            f"    {name:<{width}}  {name + '-pass':<{width + 5}}  {roles}" for name, roles in DEMO_LOGINS
        )
        print(
            f"""
intrablog dev stack is up

  web        {web}/
  API        {web}/api/v1   (sign in: POST /api/v1/login)
  LDAP       ldap://127.0.0.1:{self.stack.ldap.port}   base {SUFFIX}, admin {LDAP_ADMIN_DN} / {LDAP_ADMIN_PASSWORD}
  database   {_show(self.stack.workdir / "intrablog.db")}   (config {_show(self.stack.config_path)})
  logs       {_show(self.stack.logs)}/ and {_show(self.stack.workdir / "ldap" / "slapd.log")}
  XMPP       not part of the stack yet (it arrives with the bridge)

  demo logins (user, password, roles):
{logins}

  Stop with Ctrl-C (or kill -TERM {os.getpid()}): it stops serve, then slapd.
  Start again from the demo directory: stop, then rm -rf {_show(self.stack.workdir)}
""",
            flush=True,
        )

    def _stop_all(self) -> None:
        # Ignore further signals: shutdown runs to its end whatever arrives.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self.serve is not None and self.serve.poll() is None:
            _stop_process(self.serve)
            say(f"intrablog serve stopped (status {self.serve.returncode})")
        if self.slapd is not None:
            was_running = self.slapd.running
            self.slapd.stop()  # also reaps a slapd that died on its own
            if was_running:
                say("slapd stopped")
        if self.wrote_pids:
            (self.stack.workdir / "pids.json").unlink(missing_ok=True)


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own http:// URL
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # refused, reset, timed out: not listening yet
        return None


def _runs(pid: int, needle: str) -> bool:
    """Whether pid is a live process (not a zombie) whose command line contains needle."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()[0]
        return state != "Z" and needle.encode() in (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m intrablog.devstack",
        description="Start the dev stack (slapd with the demo directory + intrablog) until Ctrl-C.",
    )
    parser.add_argument("--config", type=Path, default=None, help=f"stack file (default {_show(DEFAULT_STACK_FILE)})")
    args = parser.parse_args(argv)
    try:
        stack = load_stack_config(args.config)
    except ConfigError as exc:
        print(f"devstack: error: {exc}", file=sys.stderr)
        return 2
    return Launcher(stack).run()

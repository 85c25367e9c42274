"""A real Prosody 0.12 in a folder of its own, for the tests and for `make run`.

The configuration is the recipe of TEST-SERVERS.md: loopback only, no s2s, no TLS (plain authentication is
allowed, so any desktop client connects), ``internal_plain`` accounts, one external component (XEP-0114)
and a MUC service. Its data folder survives a stop: accounts and offline messages are still there after a
restart.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from intrablog.devstack.processes import SERVER_READY_TIMEOUT, SERVER_STOP_TIMEOUT, ServerProcess

_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/usr/sbin"])
_TOOL_TIMEOUT = 30.0
# What portmanager logs when a port cannot be bound; Prosody then keeps running without that port.
_PORT_FAILURE = "Failed to open server port"
_LISTEN_STATE = "0A"


class ProsodyError(RuntimeError):
    """Prosody would not start, or a prosodyctl command against its config failed."""


def _binary(name: str) -> str:
    found = shutil.which(name, path=_SEARCH_PATH)
    if found is None:
        raise ProsodyError(f"{name} is not installed (apt-get install prosody)")
    return found


def prosody_version() -> str:
    """The version of the installed Prosody, e.g. ``0.12.3``, read without starting anything.

    (A bare ``prosody --version`` would read the packaged config and start a server on 0.0.0.0.)
    """
    script = Path(_binary("prosody")).read_text(encoding="utf-8", errors="replace")
    match = re.search(r"CFG_SOURCEDIR\s*=\s*'([^']+)'", script)
    source = Path(match.group(1)) if match else Path("/usr/lib/prosody")
    try:
        return (source / "prosody.version").read_text(encoding="utf-8").strip()
    except OSError:
        return "(unknown version)"


def lua_string(value: str) -> str:
    """``value`` as a Lua string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\0", "\\0") + '"'


def data_path_part(name: str) -> str:
    """A host or user name as Prosody's datamanager spells it in a path (``example.com`` → ``example%2ecom``)."""
    return "".join(
        chr(byte) if chr(byte).isascii() and chr(byte).isalnum() else f"%{byte:02x}" for byte in name.encode()
    )


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes of the TCP listeners on 127.0.0.1:port."""
    wanted = f"0100007F:{port:04X}"
    inodes: set[str] = set()
    try:
        lines = Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]
    except OSError:
        return inodes
    for line in lines:
        fields = line.split()
        if len(fields) > 9 and fields[1] == wanted and fields[3] == _LISTEN_STATE:
            inodes.add(fields[9])
    return inodes


def _owns_listener(pid: int, port: int) -> bool:
    """Whether process pid itself listens on 127.0.0.1:port (not some other program on that port)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    fd_dir = Path("/proc") / str(pid) / "fd"
    try:
        links = [os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)]
    except OSError:
        return False
    return any(link == f"socket:[{inode}]" for link in links for inode in inodes)


class Prosody(ServerProcess):
    """One Prosody process: clients on ``127.0.0.1:c2s_port`` for ``domain``, the external component
    ``component_domain`` on ``127.0.0.1:component_port``; config, data and log live in ``workdir``.

    ``component_domain=None`` leaves the component out; ``extra_config`` (Lua, appended at the end, e.g. an
    ``Include``) must then declare one, since :meth:`start` waits for the component port.
    """

    def __init__(
        self,
        workdir: Path,
        c2s_port: int,
        component_port: int,
        domain: str = "example.com",
        component_domain: str | None = "blog.example.com",
        component_secret: str = "component-secret",  # noqa: S107 - the dev component's published secret
        muc_domain: str | None = "rooms.example.com",
        extra_config: str = "",
    ) -> None:
        super().__init__()
        self.workdir = workdir
        self.c2s_port = c2s_port
        self.component_port = component_port
        self.domain = domain
        self.component_domain = component_domain
        self.component_secret = component_secret
        self.muc_domain = muc_domain
        self.extra_config = extra_config

    @property
    def config_path(self) -> Path:
        return self.workdir / "prosody.cfg.lua"

    @property
    def data_path(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        """Prosody's own log (warnings and errors) and anything it prints."""
        return self.workdir / "prosody.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def jid(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def _config_text(self) -> str:
        workdir = self.workdir.resolve()
        component = (
            f"Component {lua_string(self.component_domain)}\n"
            f"    component_secret = {lua_string(self.component_secret)}\n"
            if self.component_domain is not None
            else ""
        )
        muc = (
            f'Component {lua_string(self.muc_domain)} "muc"\n'
            "    muc_room_locking = false  -- otherwise a new room stays locked until configured\n"
            if self.muc_domain is not None
            else ""
        )
        return f"""\
-- Written by intrablog/devstack/prosody.py at each start: edits are lost.
pidfile = {lua_string(str(workdir / "prosody.pid"))}
data_path = {lua_string(str(workdir / "data"))}
certificates = {lua_string(str(workdir / "certs"))}
run_as_root = true                   -- as root, Prosody would otherwise switch to the user prosody
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.c2s_port} }}
s2s_ports = {{ }}                      -- no server-to-server listener (default 5269)
component_ports = {{ {self.component_port} }}
component_interface = "127.0.0.1"
c2s_require_encryption = false       -- no certificates here: loopback only
allow_unencrypted_plain_auth = true  -- PLAIN for any desktop client; SCRAM works as well
authentication = "internal_plain"
log = {{ {{ levels = {{ min = "warn" }}, to = "file", filename = {lua_string(str(self.log_path.resolve()))} }} }}
modules_enabled = {{
    "roster"; "saslauth"; "disco"; "presence"; "ping"; "offline"; "vcard_legacy"; "carbons";
}}

VirtualHost {lua_string(self.domain)}

{component}
{muc}
{self.extra_config}
"""

    def _write_config(self) -> None:
        # Without certs/, Prosody and every prosodyctl call log "Error indexing certificate directory".
        (self.workdir / "certs").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._config_text(), encoding="utf-8")

    def start(self) -> None:
        if self.running:
            return
        self._write_config()
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        waiting_for = [("client", self.c2s_port), ("component", self.component_port)]

        def listening(pid: int) -> bool:
            if _PORT_FAILURE in self._log_tail(log_start):
                self.stop()
                raise ProsodyError(f"prosody could not listen on its ports:\n{self._log_tail(log_start)}")
            # Our own process must hold the port: another server already listening there does not count.
            while waiting_for and _owns_listener(pid, waiting_for[0][1]):
                waiting_for.pop(0)
            return not waiting_for

        def timed_out() -> ProsodyError:
            purpose, port = waiting_for[0]
            return ProsodyError(
                f"prosody did not listen on 127.0.0.1:{port} ({purpose} port) within {SERVER_READY_TIMEOUT} s:\n"
                f"{self._log_tail(log_start)}"
            )

        self._launch(
            [_binary("prosody"), "--config", str(self.config_path), "-F"],
            ready=listening,
            exited=lambda code: ProsodyError(f"prosody exited with status {code}:\n{self._log_tail(log_start)}"),
            timed_out=timed_out,
        )

    def kill(self) -> None:
        """A crash: SIGKILL, no stream is closed."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
            process.wait(timeout=SERVER_STOP_TIMEOUT)
        self._forget_process()

    def restart(self) -> None:
        self.stop()
        self.start()

    def _log_tail(self, since: int = 0, limit: int = 4000) -> str:
        return super()._log_tail(since, limit) or "(empty log)"

    def register(self, user: str, password: str) -> None:
        """Create (or reset) an account through prosodyctl; the running server accepts it at once."""
        if not self.config_path.exists():
            self._write_config()
        command = [_binary("prosodyctl"), "--config", str(self.config_path), "register", user, self.domain, password]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TOOL_TIMEOUT, check=False)
        if done.returncode != 0:
            raise ProsodyError(
                f"prosodyctl register {user} {self.domain} failed with status {done.returncode}: "
                f"{(done.stderr + done.stdout).strip()}"
            )

    def register_many(self, accounts: Iterable[tuple[str, str]]) -> None:
        """Create (or reset) accounts by writing ``internal_plain`` account files: thousands in a blink.

        Works before the start and while Prosody runs (it reads the file at each sign-in).
        """
        folder = self.data_path / data_path_part(self.domain) / "accounts"
        folder.mkdir(parents=True, exist_ok=True)
        for user, password in accounts:
            path = folder / f"{data_path_part(user)}.dat"
            partial = path.with_suffix(".dat~")
            partial.write_text(f'return {{\n\t["password"] = {lua_string(password)};\n}};\n', encoding="utf-8")
            partial.replace(path)  # atomic: a sign-in never reads half a file

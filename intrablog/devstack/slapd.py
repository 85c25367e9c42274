"""A real OpenLDAP slapd in a folder of its own, for the tests and for `make run`.

The recipe (schema, memberof overlay, foreground start with ``-d none``) is the one of TEST-SERVERS.md.
A ``cn=Monitor`` database readable by the admin exposes the server's operation counters, so a test can prove
that a refused sign-in sent no bind at all.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from intrablog.devstack.processes import SERVER_READY_TIMEOUT, ServerProcess

_SLAPD_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
_TOOL_TIMEOUT = 30.0
_MONITOR_BIND_DN = "cn=Bind,cn=Operations,cn=Monitor"


class SlapdError(RuntimeError):
    """slapd would not start, or an ldap-utils command against it failed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def slapd_binary() -> str:
    found = shutil.which("slapd", path=_SLAPD_SEARCH_PATH)
    if found is None:
        raise SlapdError("slapd is not installed (apt-get install slapd ldap-utils)")
    return found


def slapd_version() -> str:
    """The version slapd reports, e.g. ``2.5.13+dfsg-5``."""
    done = subprocess.run([slapd_binary(), "-VV"], capture_output=True, text=True, timeout=_TOOL_TIMEOUT, check=False)
    match = re.search(r"slapd ([^\s$]+)", done.stderr + done.stdout)
    return match.group(1) if match else "(unknown version)"


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Slapd(ServerProcess):
    """One slapd process serving ``suffix`` on ``ldap://127.0.0.1:port/``; its data lives in ``workdir/db``.

    Stopping and starting again keeps the entries. Operation counters start from zero at each start.
    """

    def __init__(
        self,
        workdir: Path,
        port: int,
        suffix: str = "dc=example,dc=com",
        admin_password: str = "admin-secret",  # noqa: S107 - the dev directory's published password
        extra_config: str = "",
        ldaps_port: int | None = None,
        database_config: str = "",
    ) -> None:
        super().__init__()
        self.workdir = workdir
        self.port = port
        # Also serve ldaps:// here (extra_config must then carry the TLS certificate directives).
        self.ldaps_port = ldaps_port
        self.suffix = suffix
        self.admin_dn = f"cn=admin,{suffix}"
        self.admin_password = admin_password
        self.extra_config = extra_config
        # Directives of the mdb database section itself (e.g. its own sizelimit), after its directory.
        self.database_config = database_config
        self._paused = False
        # Binds this helper makes itself (ldapadd, counter reads); bind_count() leaves them out.
        self._own_binds = 0

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str | None:
        return f"ldaps://127.0.0.1:{self.ldaps_port}" if self.ldaps_port is not None else None

    @property
    def _listen_urls(self) -> str:
        return " ".join(f"{url}/" for url in (self.url, self.ldaps_url) if url is not None)

    @property
    def config_path(self) -> Path:
        return self.workdir / "slapd.conf"

    @property
    def pid_path(self) -> Path:
        return self.workdir / "slapd.pid"

    @property
    def log_path(self) -> Path:
        return self.workdir / "slapd.log"

    def _config_text(self) -> str:
        workdir = self.workdir.resolve()
        return f"""\
include  /etc/ldap/schema/core.schema
include  /etc/ldap/schema/cosine.schema
include  /etc/ldap/schema/inetorgperson.schema
include  /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload back_monitor
moduleload memberof
pidfile  "{workdir}/slapd.pid"
{self.extra_config}
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read

database mdb
maxsize  104857600
suffix   "{self.suffix}"
rootdn   "{self.admin_dn}"
rootpw   {self.admin_password}
directory "{workdir}/db"
{self.database_config}
overlay  memberof

database monitor
access to * by dn.exact="{self.admin_dn}" read by * none
"""

    def start(self) -> None:
        if self.running:
            return
        (self.workdir / "db").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._config_text(), encoding="utf-8")
        # slapd writes its pidfile only once it holds the port: a fresh pidfile with our pid tells our slapd
        # from another program that already listens there.
        self.pid_path.unlink(missing_ok=True)
        command = [slapd_binary(), "-f", str(self.config_path), "-h", self._listen_urls, "-d", "none"]
        self._paused = False
        self._own_binds = 0
        ports = [self.port] if self.ldaps_port is None else [self.port, self.ldaps_port]
        self._launch(
            command,
            ready=lambda pid: self._wrote_pidfile(pid) and all(_port_accepts(port) for port in ports),
            exited=lambda code: SlapdError(f"slapd exited with status {code} on {self.url}:\n{self._log_tail()}"),
            timed_out=lambda: SlapdError(
                f"slapd did not accept connections on {self.url} within {SERVER_READY_TIMEOUT} s"
            ),
        )

    def _wrote_pidfile(self, pid: int) -> bool:
        try:
            return self.pid_path.read_text(encoding="ascii").strip() == str(pid)
        except OSError:
            return False

    def _terminate(self, process: subprocess.Popen[bytes]) -> None:
        super()._terminate(process)
        if self._paused:
            # A stopped process keeps SIGTERM pending until it runs again.
            process.send_signal(signal.SIGCONT)

    def _forget_process(self) -> None:
        super()._forget_process()
        self._paused = False

    def pause(self) -> None:
        """Freeze slapd (SIGSTOP): the kernel still accepts connections, nothing answers them."""
        os.kill(self._running_process().pid, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        os.kill(self._running_process().pid, signal.SIGCONT)
        self._paused = False

    def _running_process(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            raise SlapdError(f"slapd on {self.url} is not running")
        return self._process

    def _admin_tool(self, tool: str, *args: str, stdin: str | None = None) -> str:
        self._running_process()
        self._own_binds += 1
        command = [tool, "-x", "-H", self.url, "-D", self.admin_dn, "-w", self.admin_password, *args]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=_TOOL_TIMEOUT, check=False)
        if done.returncode != 0:
            raise SlapdError(f"{tool} failed with status {done.returncode} on {self.url}: {done.stderr.strip()}")
        return done.stdout

    def load_ldif(self, ldif: Path | str) -> None:
        """Add the entries of an LDIF file (a Path) or of LDIF text (a str), through slapd so overlays run."""
        text = ldif.read_text(encoding="utf-8") if isinstance(ldif, Path) else ldif
        self._admin_tool("ldapadd", stdin=text)

    def modify_ldif(self, text: str) -> None:
        """Apply LDIF change records (changetype: modify, add, delete, ...)."""
        self._admin_tool("ldapmodify", stdin=text)

    def bind_count(self) -> int:
        """Bind operations slapd has received from clients other than this helper since it started."""
        output = self._admin_tool(
            "ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", _MONITOR_BIND_DN, "-s", "base", "monitorOpInitiated"
        )
        match = re.search(r"^monitorOpInitiated: (\d+)$", output, re.MULTILINE)
        if match is None:
            raise SlapdError(f"no bind counter in cn=Monitor on {self.url}: {output!r}")
        # The counter includes the bind of this very search, counted in _own_binds already.
        return int(match.group(1)) - self._own_binds

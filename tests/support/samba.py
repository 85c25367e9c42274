"""A throwaway Samba 4 Active Directory domain controller for the tests (TEST-SERVERS.md, "Active Directory").

Provisioned into a folder of its own, seeded with one LDIF through ``ldbadd`` while stopped, then run in the
foreground (``samba -i``) with its stdin on a pipe: samba exits when that pipe closes, so the DC dies with the
test process even when pytest itself is killed. LDAP's ports (389, 636, and the global catalog's 3268, 3269)
cannot be moved, so each DC listens on a loopback address of its own that nothing else listens on.

Samba's tools import the Samba Python bindings, which only Debian's ``/usr/bin/python3`` has: they run as
commands, with the environment of that Python, never inside the project's virtualenv.
"""

from __future__ import annotations

import base64
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import ldap3

from intrablog.devstack.processes import log_tail, port_in_use

REALM = "CORP.EXAMPLE"
DOMAIN = "corp.example"
BASE = "DC=corp,DC=example"
STAFF_OU = f"OU=Staff,{BASE}"
GROUPS_OU = f"OU=Groups,{BASE}"
ADMIN_UPN = f"Administrator@{DOMAIN}"
ADMIN_PASSWORD = "Admin-pass1!"  # a throwaway test domain
# The account the directory sync reads with: an ordinary domain user (AD refuses anonymous searches).
SYNC_UPN = f"intrablog-sync@{DOMAIN}"
SYNC_PASSWORD = "sync-pass"
# The name on the certificate Samba generates: the upper-case NetBIOS name of the host, in the DNS domain. It
# names no IP address, so clients must be told to accept it (ldap.tls_valid_names).
CERTIFICATE_NAME = "DC1.corp.example"
LDAP_PORTS = (389, 636, 3268, 3269)

_TOOL_TIMEOUT = 120.0
_READY_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_POLL_SECONDS = 0.02
_SEARCH_PATH = os.pathsep.join(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
# Variables that would point Debian's Python at the virtualenv the tests run in.
_PYTHON_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH", "PYTHONUSERBASE", "VIRTUAL_ENV")
# One line per authentication with auth_audit at level 3, whatever its outcome (empty passwords included):
# "Auth: [LDAP,simple bind] ..." on 389, "Auth: [LDAP,simple bind/TLS] ..." on 636.
_SIMPLE_BIND_EVENT = "Auth: [LDAP,simple bind"


class SambaError(RuntimeError):
    """The domain controller could not be provisioned or started, or a command against it failed."""


@dataclass(frozen=True)
class AdPerson:
    username: str
    display_name: str
    department: str

    @property
    def dn(self) -> str:
        return f"CN={self.display_name},{STAFF_OU}"

    @property
    def address(self) -> str:
        """The userPrincipalName, mail and XMPP address alike."""
        return f"{self.username}@{DOMAIN}"


PEOPLE = {
    person.username: person
    for person in (
        AdPerson("alice", "Alice Archer", "Engineering"),
        AdPerson("bob", "Bob Baker", "Engineering"),
        AdPerson("carol", "Carol Carter", "HR"),
        AdPerson("dave", "Dave Dawson", "Sales"),
    )
}


def group_dn(name: str) -> str:
    return f"CN={name},{GROUPS_OU}"


# Groups inside groups, listed before the groups that hold them (ldbadd needs members that exist):
# bob is in engineering only through platform, and in staff through platform and engineering.
GROUPS: dict[str, list[str]] = {
    "platform": [PEOPLE["bob"].dn],
    "engineering": [PEOPLE["alice"].dn, group_dn("platform")],
    "hr": [PEOPLE["carol"].dn],
    "staff": [group_dn("engineering"), group_dn("hr")],
    "contractors": [],
}


def _unicode_pwd(password: str) -> str:
    # AD takes a password as the UTF-16-LE encoding of the password in double quotes.
    return base64.b64encode(f'"{password}"'.encode("utf-16-le")).decode("ascii")


def seed_ldif() -> str:
    records = [
        f"dn: {STAFF_OU}\nobjectClass: organizationalUnit\nou: Staff\n",
        f"dn: {GROUPS_OU}\nobjectClass: organizationalUnit\nou: Groups\n",
        f"dn: CN=intrablog-sync,CN=Users,{BASE}\nobjectClass: user\nsAMAccountName: intrablog-sync\n"
        f"userPrincipalName: {SYNC_UPN}\nuserAccountControl: 512\nunicodePwd:: {_unicode_pwd(SYNC_PASSWORD)}\n",
    ]
    for person in PEOPLE.values():
        records.append(
            f"dn: {person.dn}\nobjectClass: user\nsAMAccountName: {person.username}\n"
            f"userPrincipalName: {person.address}\ndisplayName: {person.display_name}\nmail: {person.address}\n"
            f"department: {person.department}\nuserAccountControl: 512\n"
            f"unicodePwd:: {_unicode_pwd(person.username + '-pass')}\n"
        )
    for name, members in GROUPS.items():
        lines = "".join(f"member: {member}\n" for member in members)
        records.append(f"dn: {group_dn(name)}\nobjectClass: group\nsAMAccountName: {name}\n{lines}")
    return "\n".join(records)


def _binary(name: str) -> str:
    found = shutil.which(name, path=_SEARCH_PATH)
    if found is None:
        raise SambaError(f"{name} is not installed (apt-get install samba-ad-dc samba-ad-provision ldb-tools)")
    return found


def _debian_environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in _PYTHON_VARIABLES}
    environment["PATH"] = _SEARCH_PATH
    return environment


def _run(*command: str) -> str:
    done = subprocess.run(
        list(command), capture_output=True, text=True, timeout=_TOOL_TIMEOUT, env=_debian_environment(), check=False
    )
    if done.returncode != 0:
        raise SambaError(f"{Path(command[0]).name} failed with status {done.returncode}:\n{done.stderr[-4000:]}")
    return done.stdout


def samba_tool(*args: str) -> str:
    # Through Debian's Python by name: whatever python3 comes first on PATH, the Samba bindings are there only.
    return _run("/usr/bin/python3", _binary("samba-tool"), *args)


def samba_version() -> str:
    """The version samba reports, e.g. ``4.17.12-Debian``."""
    match = re.search(r"Version (\S+)", _run(_binary("samba"), "-V"))
    return match.group(1) if match else "(unknown version)"


def free_loopback_address() -> str:
    """A random 127.x.y.z (outside 127.0.*) where none of LDAP's fixed ports is taken, nor by a wildcard."""
    chooser = random.SystemRandom()
    for _ in range(50):
        address = f"127.{chooser.randint(1, 254)}.{chooser.randint(0, 255)}.{chooser.randint(1, 254)}"
        if not any(port_in_use(address, port) for port in LDAP_PORTS):
            return address
    raise SambaError("no free loopback address for LDAP's ports 389 and 636")


class SambaDc:
    """One Samba AD DC for the realm CORP.EXAMPLE, its files in ``workdir``, serving LDAP only."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir.resolve()
        self.address = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def smb_conf(self) -> Path:
        return self.workdir / "etc" / "smb.conf"

    @property
    def sam_ldb(self) -> Path:
        return self.workdir / "private" / "sam.ldb"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "private" / "tls" / "ca.pem"

    @property
    def log_path(self) -> Path:
        return self.workdir / "log" / "samba.out"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.address}:636"

    def provision(self) -> None:
        """A new domain with relaxed password rules, seeded with :data:`PEOPLE` and :data:`GROUPS`."""
        for folder in ("etc", "run", "log"):
            (self.workdir / folder).mkdir(parents=True, exist_ok=True)
        # An empty -s file: /etc/samba/smb.conf is never read, provisioning writes this one.
        self.smb_conf.write_text("", encoding="utf-8")
        run = self.workdir / "run"
        samba_tool(
            "domain", "provision", "-s", str(self.smb_conf), f"--targetdir={self.workdir}",
            f"--realm={REALM}", "--domain=CORP", "--server-role=dc", "--host-name=dc1", "--dns-backend=NONE",
            "--use-rfc2307", f"--adminpass={ADMIN_PASSWORD}",
            # Replaced at each start by the address chosen then; provisioning only needs a valid value.
            "--option=interfaces=127.0.0.1/8", "--option=bind interfaces only=yes",
            f"--option=pid directory={run}", f"--option=ncalrpc dir={run}/ncalrpc",
            f"--option=winbindd socket directory={run}/winbindd",
            f"--option=ntp signd socket directory={run}/ntp_signd",
            f"--option=log file={self.workdir}/log/samba.log",
        )  # fmt: skip
        self._relax_configuration()
        samba_tool(
            "domain", "passwordsettings", "set", "-s", str(self.smb_conf), "-H", f"tdb://{self.sam_ldb}",
            "--complexity=off", "--min-pwd-length=1", "--history-length=0", "--min-pwd-age=0", "--max-pwd-age=0",
        )  # fmt: skip
        seed = self.workdir / "seed.ldif"
        seed.write_text(seed_ldif(), encoding="utf-8")
        _run(_binary("ldbadd"), "-H", str(self.sam_ldb), str(seed))

    def _relax_configuration(self) -> None:
        # Into [global] after provisioning, which drops or overrides them when given as options: simple binds
        # without TLS on 389 (else strongerAuthRequired), LDAP as the only service (no Kerberos, SMB or RPC
        # ports), and one log line per authentication, which tells whether a bind reached the DC at all.
        text = self.smb_conf.read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if "server services" not in line]
        at = lines.index("[global]") + 1
        lines[at:at] = [
            "\tldap server require strong auth = no",
            "\tldb:nosync = true",
            "\tserver services = ldap",
            "\tlog level = 1 auth_audit:3",
        ]
        self.smb_conf.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _listen_on(self, address: str) -> None:
        text = self.smb_conf.read_text(encoding="utf-8")
        self.smb_conf.write_text(re.sub(r"(?m)^\tinterfaces = .*$", f"\tinterfaces = {address}/8", text), "utf-8")
        self.address = address

    def start(self) -> None:
        """Run samba on a free loopback address until :meth:`stop`; a few attempts if another server wins it."""
        problems: list[str] = []
        for _ in range(3):
            self._listen_on(free_loopback_address())
            if self._launch(problems):
                return
        raise SambaError("samba did not start:\n" + "\n".join(problems))

    def _launch(self, problems: list[str]) -> bool:
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [_binary("samba"), "-i", "-s", str(self.smb_conf), "--maximum-runtime=3600"],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_debian_environment(),
        )
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                problems.append(f"samba exited with status {self._process.returncode}:\n{log_tail(self.log_path)}")
                self._forget()
                return False
            if self.ca_file.exists() and _accepts(self.address, 636):
                # Another DC that took the address between the check and our start would answer too.
                if self._serves_own_certificate():
                    return True
                problems.append(f"another server answers on {self.address}:636")
                self.stop()
                return False
            time.sleep(_POLL_SECONDS)
        problems.append(f"samba did not accept LDAPS on {self.address} within {_READY_TIMEOUT} s")
        self.stop()
        return False

    def _serves_own_certificate(self) -> bool:
        served = ssl.get_server_certificate((self.address, 636), timeout=5)
        own = (self.workdir / "private" / "tls" / "cert.pem").read_text(encoding="ascii")
        return ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(own)

    def stop(self) -> None:
        """Close samba's stdin (it exits), SIGTERM its process group if it lingers, SIGKILL as a last resort."""
        process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # samba leads a process group of its own, holding its prefork workers: the group is ours alone.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=_STOP_TIMEOUT)
        self._forget()

    def _forget(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- while it runs --------------------------------------------------------------------------------------

    @contextmanager
    def administrator(self) -> Iterator[ldap3.Connection]:
        """An LDAPS connection bound as the domain's Administrator, as an admin tool would change the domain."""
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(self.ca_file), valid_names=[CERTIFICATE_NAME])
        server = ldap3.Server(self.ldaps_url, get_info=ldap3.NONE, tls=tls, connect_timeout=5)
        connection = ldap3.Connection(server, ADMIN_UPN, ADMIN_PASSWORD, receive_timeout=10, raise_exceptions=True)
        connection.bind()
        try:
            yield connection
        finally:
            connection.unbind()

    def modify(self, dn: str, changes: dict[str, list[tuple[str, list[str]]]]) -> None:
        """An LDAP modify as Administrator (``{"member": [(ldap3.MODIFY_DELETE, [dn])]}``); raises on refusal."""
        with self.administrator() as connection:
            connection.modify(dn, changes)  # type: ignore[no-untyped-call]  # ldap3's stubs leave modify untyped

    def simple_binds(self) -> int:
        """Simple binds the DC has authenticated or refused since it was provisioned (its auth audit log)."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return text.count(_SIMPLE_BIND_EVENT)


def _accepts(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.2):
            return True
    except OSError:
        return False

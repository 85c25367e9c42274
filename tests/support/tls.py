"""TLS for the directory tests: trustme certificates on disk and a slapd serving ldap:// and ldaps:// at once.

``Slapd`` listens on one ``ldap://`` URL only (its ``-h`` is fixed), so :class:`TlsSlapd` lets ``Slapd`` write the
configuration and load the demo directory, stops it, and runs slapd again on the same configuration and data
with ``-h "ldap://127.0.0.1:P1/ ldaps://127.0.0.1:P2/"``: StartTLS on the first, LDAPS on the second.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import trustme

from intrablog.devstack.slapd import Slapd, SlapdError, free_port, slapd_binary

_READY_TIMEOUT = 10.0
_POLL_INTERVAL = 0.02
_STOP_TIMEOUT = 5.0
_TOOL_TIMEOUT = 30.0
_MONITOR_BIND_DN = "cn=Bind,cn=Operations,cn=Monitor"


@dataclass(frozen=True)
class ServerCertificate:
    """PEM files of a server certificate (with its chain), its key, and the CA that issued it."""

    cert_file: Path
    key_file: Path
    ca_file: Path


def write_ca(ca: trustme.CA, path: Path) -> Path:
    ca.cert_pem.write_to_path(str(path))
    return path


def issue_server_certificate(ca: trustme.CA, folder: Path, *names: str) -> ServerCertificate:
    """A certificate from ``ca`` for ``names`` (host names or IP addresses), written to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    issued = ca.issue_cert(*names)
    cert_file = folder / "server.pem"
    cert_file.write_bytes(b"".join(pem.bytes() for pem in issued.cert_chain_pems))
    key_file = folder / "server.key"
    issued.private_key_pem.write_to_path(str(key_file))
    return ServerCertificate(cert_file=cert_file, key_file=key_file, ca_file=write_ca(ca, folder / "ca.pem"))


def slapd_tls_directives(certificate: ServerCertificate) -> str:
    """Global slapd.conf directives; ``Slapd`` puts ``extra_config`` before the first ``database`` line."""
    return (
        f'TLSCACertificateFile "{certificate.ca_file.resolve()}"\n'
        f'TLSCertificateFile "{certificate.cert_file.resolve()}"\n'
        f'TLSCertificateKeyFile "{certificate.key_file.resolve()}"\n'
    )


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class TlsSlapd:
    """The demo directory served with ``certificate`` on ``ldap://`` (StartTLS) and ``ldaps://``."""

    def __init__(self, workdir: Path, certificate: ServerCertificate, ldif: Path, admin_password: str) -> None:
        self.certificate = certificate
        self.ldif = ldif
        self.slapd = Slapd(
            workdir, free_port(), admin_password=admin_password, extra_config=slapd_tls_directives(certificate)
        )
        self.ldaps_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return self.slapd.url

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start(self) -> None:
        # Slapd writes slapd.conf (TLS directives included) and loads the entries through the overlays.
        with self.slapd:
            self.slapd.load_ldif(self.ldif)
        self.slapd.pid_path.unlink(missing_ok=True)
        self._log = self.slapd.log_path.open("ab")
        command = [
            slapd_binary(),
            "-f",
            str(self.slapd.config_path),
            "-h",
            f"{self.url}/ {self.ldaps_url}/",
            "-d",
            "none",
        ]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, start_new_session=True
        )
        deadline = time.monotonic() + _READY_TIMEOUT
        while not (self._wrote_pidfile() and _accepts(self.slapd.port) and _accepts(self.ldaps_port)):
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                log = self.slapd.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
                raise SlapdError(f"slapd exited with status {code} on {self.url} and {self.ldaps_url}:\n{log}")
            if time.monotonic() > deadline:
                self.stop()
                raise SlapdError(f"slapd did not accept {self.url} and {self.ldaps_url} within {_READY_TIMEOUT} s")
            time.sleep(_POLL_INTERVAL)

    def _wrote_pidfile(self) -> bool:
        assert self._process is not None
        try:
            return self.slapd.pid_path.read_text(encoding="ascii").strip() == str(self._process.pid)
        except OSError:
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=_STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def bind_counter(self) -> int:
        """slapd's count of bind operations so far, the bind of this very read included."""
        server = self.slapd
        command = [
            "ldapsearch",
            "-x",
            "-LLL",
            "-H",
            self.url,
            "-D",
            server.admin_dn,
            "-w",
            server.admin_password,
            "-b",
            _MONITOR_BIND_DN,
            "-s",
            "base",
            "monitorOpInitiated",
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=_TOOL_TIMEOUT, check=False)
        match = re.search(r"^monitorOpInitiated: (\d+)$", done.stdout, re.MULTILINE)
        if done.returncode != 0 or match is None:
            raise SlapdError(f"cannot read the bind counter on {self.url}: {done.stderr.strip() or done.stdout!r}")
        return int(match.group(1))

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

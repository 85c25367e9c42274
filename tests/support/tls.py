"""TLS for the directory tests: trustme certificates on disk and a slapd serving ldap:// (StartTLS) and
ldaps:// at once, with those certificates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme

from intrablog.devstack.processes import StartStop
from intrablog.devstack.slapd import Slapd, free_port


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


class TlsSlapd(StartStop):
    """The demo directory served with ``certificate`` on ``ldap://`` (StartTLS) and ``ldaps://``."""

    def __init__(self, workdir: Path, certificate: ServerCertificate, ldif: Path, admin_password: str) -> None:
        self.certificate = certificate
        self.ldif = ldif
        self.slapd = Slapd(
            workdir,
            free_port(),
            admin_password=admin_password,
            extra_config=slapd_tls_directives(certificate),
            ldaps_port=free_port(),
        )

    @property
    def url(self) -> str:
        return self.slapd.url

    @property
    def ldaps_port(self) -> int:
        assert self.slapd.ldaps_port is not None
        return self.slapd.ldaps_port

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start(self) -> None:
        self.slapd.start()
        self.slapd.load_ldif(self.ldif)

    def stop(self) -> None:
        self.slapd.stop()

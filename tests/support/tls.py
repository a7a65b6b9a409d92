"""Certificates for TLS tests: a throwaway certificate authority (trustme) and a server
certificate it signed for the loopback names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    #: The CA certificate that signed ``cert`` (what a client must trust).
    ca: Path

    def serve_args(self) -> tuple[str, ...]:
        return ("--tls-cert", str(self.cert), "--tls-key", str(self.key))


def make_tls(directory: Path, names: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    server = ca.issue_cert(*names)
    files = TlsFiles(directory / "server.pem", directory / "server.key", directory / "ca.pem")
    server.cert_chain_pems[0].write_to_path(str(files.cert))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(files.cert), append=True)
    server.private_key_pem.write_to_path(str(files.key))
    ca.cert_pem.write_to_path(str(files.ca))
    return files


def other_ca(directory: Path) -> Path:
    """A CA certificate that signed nothing the server has."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path

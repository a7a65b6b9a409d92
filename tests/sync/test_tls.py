"""HTTPS end to end: the real server serving TLS with a certificate from a throwaway CA
(trustme), and the client verifying it against the system's trust or a CA file; plain
``http://`` only to this computer unless the person allows it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_care import config
from desktop_care.sync.api_client import (
    ApiClient,
    CertificateNotTrusted,
    InsecureServerUrl,
    TlsFailed,
    Unreachable,
    check_transport,
)
from tests.support.servers import REPO, DatabaseFactory, LiveServer, free_port
from tests.support.tls import TlsFiles, make_tls, other_ca
from tests.ui.arrange import staff_account


def trusting(ca: Path | None, **kwargs: object) -> config.Transport:
    return config.Transport(ca_file=ca, **kwargs)  # type: ignore[arg-type]


def test_the_server_serves_https_and_a_client_trusting_its_ca_signs_in(
    tls_server: LiveServer, tls_files: TlsFiles
) -> None:
    assert tls_server.url.startswith("https://127.0.0.1:")
    account = staff_account(tls_server)
    client = ApiClient(tls_server.url, transport=trusting(tls_files.ca))
    assert client.health().status == "ok"
    assert client.login(account.username, account.password).user.username == account.username
    assert client.me().username == account.username


@pytest.mark.parametrize("which", ["other CA", "system trust only"])
def test_a_certificate_nobody_vouches_for_is_refused_clearly(
    tls_server: LiveServer, tmp_path: Path, which: str
) -> None:
    ca = other_ca(tmp_path) if which == "other CA" else None
    client = ApiClient(tls_server.url, transport=trusting(ca), retries=3)
    with pytest.raises(CertificateNotTrusted) as caught:
        client.login("anyone", "a-long-password")
    message = caught.value.message
    assert message.startswith("The server's certificate is not trusted: no certificate authority")
    assert "certificate authority" in message and "--ca-file" in message
    assert caught.value.url == tls_server.url


def test_a_certificate_for_another_name_is_refused_naming_the_mismatch(
    databases: DatabaseFactory, tmp_path: Path
) -> None:
    files = make_tls(tmp_path / "tls", names=("care.example.org",))
    url, process = _serve_tls(databases.create("sqlite"), tmp_path, files)  # start_server's probe would refuse it
    try:
        client = ApiClient(url, transport=trusting(files.ca), retries=0)
        with pytest.raises(CertificateNotTrusted) as caught:
            _wait_for_tls_answer(client)
        assert "it was issued for another name than 127.0.0.1" in caught.value.message
    finally:
        process.kill()
        process.wait()


@pytest.mark.expect_log("uvicorn", r"^Invalid HTTP request received")
def test_https_to_a_plain_http_server_says_so(sqlite_server: LiveServer) -> None:
    url = sqlite_server.url.replace("http://", "https://")
    with pytest.raises(TlsFailed) as caught:
        ApiClient(url, retries=0).health()
    assert not isinstance(caught.value, CertificateNotTrusted)
    assert "secure connection" in caught.value.message and "http://" in caught.value.message


def test_a_ca_file_that_cannot_be_read_is_named(tls_server: LiveServer, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-ca.pem"
    bad.write_text("this is not a certificate")
    with pytest.raises(TlsFailed) as caught:
        ApiClient(tls_server.url, transport=trusting(bad)).health()
    assert str(bad) in caught.value.message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080",
                                 "https://care.example.org"])
def test_loopback_or_https_needs_no_permission(url: str) -> None:
    check_transport(url, config.Transport())
    ApiClient(url).close()


def test_plain_http_to_another_computer_is_refused_unless_allowed() -> None:
    url = "http://care.example.org:8000"
    with pytest.raises(InsecureServerUrl) as caught:
        ApiClient(url)
    assert "unencrypted" in str(caught.value) and "--allow-insecure-http" in str(caught.value)
    assert "to care.example.org. Use https://" in str(caught.value)
    ApiClient(url, transport=config.Transport(allow_insecure_http=True)).close()


def test_the_server_refuses_half_a_tls_setup(tmp_path: Path, tls_files: TlsFiles) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    base = [sys.executable, "-m", "desktop_care.server", "serve", "--database-url",
            f"sqlite:///{tmp_path / 'db.sqlite3'}", "--port", "1"]
    only_cert = subprocess.run([*base, "--tls-cert", str(tls_files.cert)], capture_output=True, text=True, env=env,
                               timeout=60, check=False)
    assert only_cert.returncode == 2
    assert "--tls-cert and --tls-key go together" in only_cert.stderr
    swapped = subprocess.run([*base, "--tls-cert", str(tls_files.key), "--tls-key", str(tls_files.cert)],
                             capture_output=True, text=True, env=env, timeout=60, check=False)
    assert swapped.returncode == 2
    assert "cannot use the certificate" in swapped.stderr


# --------------------------------------------------------------------------- helpers


def _serve_tls(database_url: str, workdir: Path, files: TlsFiles) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), DESKTOP_CARE_DATA_DIR=str(workdir / "data"))
    process = subprocess.Popen(
        [sys.executable, "-m", "desktop_care.server", "serve", "--database-url", database_url,
         "--port", str(port), *files.serve_args()],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    return f"https://127.0.0.1:{port}", process


def _wait_for_tls_answer(client: ApiClient) -> None:
    """Until the server listens; then the client's own verdict (raised)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            client.health()
            return
        except Unreachable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # polling readiness with a deadline

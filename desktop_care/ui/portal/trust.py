"""What the portal's web view trusts: the same as the console's own requests.

The console's requests verify the server against the system's trust store plus the
organisation's certificate authority file (``--ca-file``, File → Settings; see
``sync.api_client.tls_context``). QtWebEngine has a store of its own (Chromium's), which
knows nothing of that file, so an organisation's own CA would make every portal page
fail with a certificate error. The view is given the same trust instead: a certificate
error is overridden only when the page is the console's own server (same scheme, host
and port), Chromium says the error may be overridden, and the chain the server sent
verifies for that host against the CA file. Anything else is refused, as a browser
would, with a page saying why.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from ... import config
from ..qt import QSslCertificate, QSslConfiguration, QUrl

if TYPE_CHECKING:
    from ..qt import QWebEngineCertificateError

_trusted_files: set[Path] = set()


def _trust_ca_file(path: Path) -> bool:
    """Add the CA file's certificates to what Qt's certificate checks trust (once per
    file); False when it holds none."""
    path = path.resolve()
    if path in _trusted_files:
        return True
    certificates = QSslCertificate.fromPath(str(path))
    if not certificates:
        return False
    configuration = QSslConfiguration.defaultConfiguration()
    configuration.addCaCertificates(certificates)
    QSslConfiguration.setDefaultConfiguration(configuration)
    _trusted_files.add(path)
    return True


def _origin(url: QUrl) -> tuple[str, str, int]:
    return url.scheme().lower(), url.host().lower(), url.port(443 if url.scheme().lower() == "https" else 80)


def distrust(error: QWebEngineCertificateError, server_url: str, transport: config.Transport) -> str | None:
    """None when the certificate Chromium refused is one the console itself trusts;
    else what a person should be told about it."""
    ca_file = transport.ca_file
    if ca_file is None:
        return ("If your organisation runs its own certificate authority, choose its file in "
                "File → Settings (or start the console with --ca-file FILE).")
    if not error.isOverridable():
        return "This kind of certificate error cannot be overridden."
    server = QUrl(server_url)
    if _origin(error.url()) != _origin(server):
        return (f"The certificate authority in {ca_file} is trusted only for the console's own server, "
                f"{server.host()}, not for other sites.")
    chain = error.certificateChain()
    if not chain or not _trust_ca_file(ca_file):
        return f"The certificate authority file {ca_file} holds no certificate."
    if QSslCertificate.verify(chain, error.url().host()):
        return f"It is signed neither by the certificate authority in {ca_file} nor by one this computer trusts."
    return None


def refusal_page(error: QWebEngineCertificateError, why: str) -> str:
    """The page shown instead of one whose certificate is not trusted."""
    host = html.escape(error.url().host())
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Not trusted</title></head>"
            "<body style='font: 15px/1.5 sans-serif; margin: 40px; color: #1f2933'>"
            f"<h1 style='font-size: 22px'>The page at {host} could not be opened securely</h1>"
            f"<p>Its certificate is not trusted ({html.escape(error.description())}).</p><p>{html.escape(why)}</p>"
            "<p>Nothing was sent to it. Close this window to return to the console.</p></body></html>")

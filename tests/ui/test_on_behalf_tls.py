"""The portal's web view over HTTPS with the organisation's own certificate authority
(``--ca-file``): the view trusts what the console trusts, for the console's server only.

QtWebEngine checks certificates against Chromium's store, which does not know the CA
file; without this, every portal page of such a server failed with a certificate error."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator

import pytest

from desktop_care import config
from desktop_care.sync.api_client import ApiClient
from desktop_care.ui.portal import OnBehalfWindow, on_behalf_windows, start_acting_on_behalf
from tests.support.servers import LiveServer
from tests.support.tls import TlsFiles
from tests.ui.arrange import add_full_member, staff_account, unique
from tests.ui.test_on_behalf_view import LOAD_MS, js

pytestmark = pytest.mark.usefixtures("qtbot")


@pytest.fixture
def client(tls_server: LiveServer, tls_files: TlsFiles) -> Iterator[ApiClient]:
    account = staff_account(tls_server)
    api = ApiClient(tls_server.url, transport=config.Transport(ca_file=tls_files.ca))
    api.login(account.username, account.password)
    yield api
    on_behalf_windows().close_all(api)


def _open(qtbot, client: ApiClient, member_id: int) -> OnBehalfWindow:
    opened: list[OnBehalfWindow] = []
    start_acting_on_behalf(client, member_id, "Member phoned about the renewal", on_open=opened.append)
    qtbot.waitUntil(lambda: bool(opened), timeout=LOAD_MS)
    view = opened[0]
    qtbot.waitUntil(lambda: not view._first, timeout=LOAD_MS)
    return view


def test_the_view_trusts_the_ca_file_for_the_console_server(qtbot, client: ApiClient, tls_server: LiveServer,
                                                            screenshot) -> None:
    member = add_full_member(tls_server, unique("Tourmaline"))
    view = _open(qtbot, client, member.id)
    assert view.certificate_refused == ""
    assert js(qtbot, view, "location.href").startswith(f"{tls_server.url}/portal/account")
    assert js(qtbot, view, "document.getElementById('member-no').innerText") == member.member_no
    assert js(qtbot, view, "document.getElementById('on-behalf-banner') !== null") is True
    screenshot(view, "on-behalf-over-tls")


@pytest.fixture
def other_site(tls_files: TlsFiles) -> Iterator[str]:
    """Another HTTPS site, by another name (localhost) on this computer, with a certificate
    from the same CA. (Chromium remembers an accepted certificate per host and
    certificate, as TLS binds a certificate to a name, not a port.)"""
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<h1>Another site</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files.cert, tls_files.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.expect_log("desktop_care.ui.portal.on_behalf", r"refused the certificate of https://localhost:\d+/")
def test_the_ca_file_is_trusted_for_the_console_server_only(qtbot, client: ApiClient, tls_server: LiveServer,
                                                           other_site: str, screenshot) -> None:
    view = _open(qtbot, client, add_full_member(tls_server, unique("Jasper")).id)
    assert view.certificate_refused == ""
    with qtbot.waitSignal(view.refusal_shown, timeout=LOAD_MS):
        view.page.runJavaScript(f"location.href = '{other_site}'", 0)
    assert view.certificate_refused != ""
    text = js(qtbot, view, "document.body.innerText")
    assert "The page at localhost could not be opened securely" in text
    assert "trusted only for the console's own server, 127.0.0.1, not for other sites" in text
    assert "Another site" not in text
    def drawn() -> bool:  # web content paints a little after it loads (QT.md)
        image = view.view.grab().toImage()
        return any(image.pixelColor(x, y).lightness() < 128 for y in range(30, 120, 2) for x in range(40, 400, 4))
    qtbot.waitUntil(drawn, timeout=LOAD_MS)
    screenshot(view, "on-behalf-certificate-refused")

"""The REST client against the real server (and, for network failures, against
loopback sockets that refuse, or accept and never answer)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from desktop_care import config
from desktop_care.schemas import MemberPage
from desktop_care.sync.api_client import (
    ApiClient,
    NotFound,
    ServerBusy,
    TimedOut,
    Unauthorized,
    Unreachable,
    ValidationFailed,
    normalize_server_url,
)
from tests.support.servers import free_port
from tests.ui.arrange import StaffAccount, make_members, staff, staff_client, unique  # noqa: F401 (fixtures)

FAST = config.Timeouts(connect=1.0, read=0.4)


class Listener:
    """A loopback TCP server that counts connections and answers each with ``reply``
    (raw HTTP bytes), or never answers when ``reply`` is None."""

    def __init__(self, reply: bytes | None = None) -> None:
        self.reply = reply
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self._open.append(conn)
            if self.reply is not None:
                conn.recv(65536)
                conn.sendall(self.reply)
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for conn in self._open:
            conn.close()
        self._sock.close()


@pytest.fixture
def silent_listener() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


# ------------------------------------------------------------------ against the real server


def test_health_answers(sqlite_server) -> None:
    health = ApiClient(sqlite_server.url).health()
    assert health.status == "ok"


def test_login_stores_the_token_and_me_names_the_staff(sqlite_server, staff: StaffAccount) -> None:
    client = ApiClient(sqlite_server.url)
    response = client.login(staff.username, staff.password)
    assert client.token == response.access_token
    assert response.user.username == staff.username
    me = client.me()
    assert me.username == staff.username
    assert me.role.is_staff


def test_wrong_password_is_unauthorized_in_plain_words(sqlite_server, staff: StaffAccount) -> None:
    client = ApiClient(sqlite_server.url)
    with pytest.raises(Unauthorized) as caught:
        client.login(staff.username, "not-the-password")
    assert caught.value.status == 401
    assert "wrong username or password" in caught.value.message.lower()
    assert client.token is None


def test_calls_without_a_token_are_unauthorized(sqlite_server) -> None:
    with pytest.raises(Unauthorized):
        ApiClient(sqlite_server.url).search_members("smith")


def test_logout_ends_the_session(sqlite_server, staff: StaffAccount) -> None:
    client = ApiClient(sqlite_server.url)
    response = client.login(staff.username, staff.password)
    client.logout()
    assert client.token is None
    with pytest.raises(Unauthorized):
        ApiClient(sqlite_server.url, token=response.access_token).me()


def test_unknown_member_is_not_found(staff_client: ApiClient) -> None:
    with pytest.raises(NotFound) as caught:
        staff_client.member(987_654_321)
    assert caught.value.status == 404


def test_invalid_limit_names_the_field(staff_client: ApiClient) -> None:
    with pytest.raises(ValidationFailed) as caught:
        staff_client.search_members("smith", limit=0)
    assert caught.value.status == 422
    assert "limit" in caught.value.fields


def test_empty_sign_in_fields_fail_before_any_request() -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}")  # nothing listens: no request may be sent
    with pytest.raises(ValidationFailed) as caught:
        client.login("", "")
    assert set(caught.value.fields) == {"username", "password"}


def test_search_returns_pages(staff_client: ApiClient, make_members) -> None:
    surname = unique("Quill")
    make_members(surname, 7)
    first = staff_client.search_members(surname.lower(), limit=5)
    assert isinstance(first, MemberPage)
    assert (first.total, len(first.items)) == (7, 5)
    assert first.next_cursor is not None
    rest = staff_client.search_members(surname.lower(), limit=5, cursor=first.next_cursor)
    assert len(rest.items) == 2 and rest.next_cursor is None
    names = {m.name for m in first.items} | {m.name for m in rest.items}
    assert len(names) == 7 and all(surname in name for name in names)


def test_one_client_serves_many_threads(staff_client: ApiClient, make_members) -> None:
    surname = unique("Thread")
    make_members(surname, 3)
    with ThreadPoolExecutor(max_workers=6) as pool:
        pages = list(pool.map(lambda _: staff_client.search_members(surname), range(24)))
    assert {page.total for page in pages} == {3}


# ------------------------------------------------------------------ network failures


def test_closed_port_is_unreachable_and_names_the_server() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = ApiClient(url, timeouts=FAST, retries=1, backoff=0.01)
    with pytest.raises(Unreachable) as caught:
        client.health()
    assert caught.value.url == url
    assert f"The server at {url} can't be reached" in caught.value.message


def test_unknown_host_is_unreachable() -> None:
    with pytest.raises(Unreachable):
        ApiClient("https://no-such-host.invalid", timeouts=FAST, retries=0).health()


def test_a_server_that_never_answers_times_out_after_retrying_gets(silent_listener: Listener) -> None:
    client = ApiClient(silent_listener.url, timeouts=FAST, retries=2, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(TimedOut) as caught:
        client.health()
    assert "did not answer in time" in caught.value.message
    assert silent_listener.connections == 3  # the first try and two retries
    assert time.monotonic() - started < 10


def test_sign_in_is_never_sent_twice(silent_listener: Listener) -> None:
    client = ApiClient(silent_listener.url, timeouts=FAST, retries=3, backoff=0.01)
    with pytest.raises(TimedOut):
        client.login("someone", "secret")
    assert silent_listener.connections == 1


def test_busy_server_is_retried_then_reported_with_retry_after() -> None:
    body = b'{"detail": "down for maintenance"}'
    busy = Listener(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    try:
        client = ApiClient(busy.url, timeouts=FAST, retries=2, backoff=0.01)
        with pytest.raises(ServerBusy) as caught:
            client.health()
        assert busy.connections == 3
        assert caught.value.status == 503 and caught.value.retry_after == 0
        assert caught.value.message == "down for maintenance"
    finally:
        busy.close()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("care.example.org", "https://care.example.org"),  # https unless it is this computer
        ("http://care.example.org/", "http://care.example.org"),  # (refused later unless allowed)
        ("localhost:8080", "http://localhost:8080"),
        ("https://care.example.org/", "https://care.example.org"),
        (" 127.0.0.1:8000 ", "http://127.0.0.1:8000"),
    ],
)
def test_server_addresses_are_normalised(typed: str, expected: str) -> None:
    assert normalize_server_url(typed) == expected


@pytest.mark.parametrize("typed", ["", "ftp://files.example.org", "http://", "http://host:port"])
def test_unusable_server_addresses_are_refused_in_plain_words(typed: str) -> None:
    with pytest.raises(ValueError, match=r"\w+ \w+"):
        normalize_server_url(typed)

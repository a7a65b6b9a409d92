"""Test-wide setup: Qt without a display, and the real server on a loopback port.

Qt settings must be in the environment before PySide6 is imported anywhere.
"""

from __future__ import annotations

import os

from desktop_care.hashing import FAST_HASHES_ENV

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")
# No test (nor an app it starts) touches the keyring of the person running the tests:
# "no keyring" unless a test sets its own backend (keyring.set_keyring).
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
# argon2id with test-only parameters in this process and every server and app it starts
# (desktop_care/hashing.py): the standard ones cost ~0.16 s of CPU per sign-in.
os.environ[FAST_HASHES_ENV] = "1"

from collections.abc import Iterator

import pytest

from tests.support.servers import (
    DatabaseFactory,
    Kept,
    LiveServer,
    start_server,
)
from tests.support.tls import TlsFiles, make_tls

pytest_plugins: list[str] = ["tests.support.logfail"]


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path, monkeypatch):
    """Nothing a test runs writes to the real user data directory."""
    monkeypatch.setenv("DESKTOP_CARE_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(scope="session")
def databases(tmp_path_factory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def kept(databases: DatabaseFactory) -> Iterator[Kept]:
    """Servers and engines kept for the whole process (stopped before the databases go)."""
    things = Kept()
    yield things
    things.stop_all()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request) -> str:
    """Parametrises a test over both supported databases."""
    return request.param


@pytest.fixture(scope="session")
def server(kept: Kept, databases, backend, tmp_path_factory) -> LiveServer:
    """The real server, in its own process, on a loopback port, on a fresh database
    of each backend. Shared by the tests of a session: tests create their own data."""
    return kept.get(
        ("server", backend),
        lambda: start_server(databases.create(backend), tmp_path_factory.mktemp(f"server-{backend}")),
        LiveServer.stop,
    )


@pytest.fixture(scope="session")
def sqlite_server(databases, tmp_path_factory) -> LiveServer:
    """The real server on SQLite only (for UI tests)."""
    srv = start_server(databases.create("sqlite"), tmp_path_factory.mktemp("server-ui"))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> TlsFiles:
    """A server certificate for 127.0.0.1 and localhost from a throwaway CA."""
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def tls_server(databases, tls_files: TlsFiles, tmp_path_factory) -> LiveServer:
    """The real server on SQLite serving HTTPS with :func:`tls_files`."""
    srv = start_server(databases.create("sqlite"), tmp_path_factory.mktemp("server-tls"), tls=tls_files)
    yield srv
    srv.stop()

"""Real databases and the real server process for tests.

PostgreSQL comes from ``DESKTOP_CARE_TEST_PG_URL`` (an admin URL such as
``postgresql+psycopg://postgres@127.0.0.1:55432/postgres``); ``./dev test`` and
``.ci/run`` start a throwaway cluster and set it. Each test session gets fresh databases.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.support.tls import TlsFiles

REPO = Path(__file__).resolve().parents[2]
PG_ENV = "DESKTOP_CARE_TEST_PG_URL"

#: Every server started, in order: tests/support/logfail.py reads their logs after each test.
STARTED: list[LiveServer] = []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DatabaseFactory:
    root: Path
    _pg_databases: list[str] = field(default_factory=list)

    def create(self, backend: str) -> str:
        """A URL of a new, empty database."""
        if backend == "sqlite":
            return f"sqlite:///{self.root / f'test-{uuid.uuid4().hex[:8]}.sqlite3'}"
        if backend == "postgres":
            admin_url = os.environ.get(PG_ENV)
            if not admin_url:
                raise RuntimeError(
                    f"{PG_ENV} is not set: PostgreSQL tests need a server. "
                    "Run the tests with ./dev test, which starts one."
                )
            name = f"dc_test_{uuid.uuid4().hex[:10]}"
            with create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            self._pg_databases.append(name)
            return make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        raise ValueError(backend)

    def drop_all(self) -> None:
        admin_url = os.environ.get(PG_ENV)
        if not admin_url or not self._pg_databases:
            return
        with create_engine(admin_url, isolation_level="AUTOCOMMIT").connect() as conn:
            for name in self._pg_databases:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


T = TypeVar("T")


class Kept:
    """What a test process starts once per backend and keeps to its end.

    A session fixture that depends on the parametrised :func:`backend` is torn down
    whenever the next test wants the other backend, and with ``--dist loadfile`` that
    is at every test file: each file started both servers again (about 6 s each).
    Fixtures take their server from here instead, so a process starts each one once.
    """

    def __init__(self) -> None:
        self._kept: dict[Hashable, Any] = {}
        self._stops: list[Callable[[], None]] = []

    def get(self, key: Hashable, make: Callable[[], T], stop: Callable[[T], None]) -> T:
        if key not in self._kept:
            thing = make()
            self._kept[key] = thing
            self._stops.append(lambda: stop(thing))
        return self._kept[key]

    def stop_all(self) -> None:
        while self._stops:
            self._stops.pop()()


@dataclass
class LiveServer:
    url: str
    database_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _engine: Engine | None = None

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def backend(self) -> str:
        return "postgres" if self.database_url.startswith("postgresql") else "sqlite"

    def engine(self) -> Engine:
        """An engine on the server's database, for arranging test data directly."""
        if self._engine is None:
            self._engine = create_engine(self.database_url)
        return self._engine

    @property
    def data_dir(self) -> Path:
        """The server's data directory (its Maildir is ``mail/`` in it)."""
        return self.log_path.parent / "data"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the server and its worker processes at once, as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    database_url: str,
    workdir: Path,
    *extra: str,
    timeout: float = 60.0,
    tls: TlsFiles | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> LiveServer:
    """Start ``desktop-care-server serve`` on a free loopback port (or ``port``) and wait
    until ``/api/v1/health`` answers (the server migrates its database before it listens).
    With ``tls`` it serves HTTPS with that certificate (``https://127.0.0.1:PORT``).
    The server leads its own process group, so :meth:`LiveServer.kill` takes its workers too."""
    if tls is not None:
        extra = (*extra, *tls.serve_args())
    port = port or free_port()
    log_path = workdir / "server.log"
    env = dict(os.environ, DESKTOP_CARE_DATA_DIR=str(workdir / "data"), PYTHONUNBUFFERED="1", **(env or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "desktop_care.server", "serve",
             "--database-url", database_url, "--host", "127.0.0.1", "--port", str(port), *extra],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(workdir), start_new_session=True,
        )
    scheme = "https" if tls is not None else "http"
    server = LiveServer(f"{scheme}://127.0.0.1:{port}", database_url, process, log_path)
    STARTED.append(server)
    verify: str | bool = str(tls.ca) if tls is not None else True
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log()}")
        try:
            if requests.get(f"{server.api}/health", timeout=1, verify=verify).status_code == 200:
                return server
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server did not answer within {timeout}s:\n{server.log()}")
        time.sleep(0.05)  # polling a readiness condition with a deadline, not a fixed wait

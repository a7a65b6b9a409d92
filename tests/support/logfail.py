"""A log record at WARNING or above fails the test, unless the test says it expects it.

Two sources are watched:

* our own loggers (``desktop_care`` and below) in the test process, through a handler on
  the root logger (records from any thread);
* the log file of every server process ``tests.support.servers.start_server`` started:
  after each test, the lines the servers wrote during it are read, and a WARNING, ERROR
  or CRITICAL line, or a traceback, counts as a record of that server.

A test that provokes a warning on purpose says so, for the whole test::

    @pytest.mark.expect_log("desktop_care.sync.syncer", r"sync failed")
    def test_...

or around the part that provokes it::

    def test_...(expect_log):
        with expect_log("desktop_care.server.errors", r"database error"):
            ...

``logger`` matches that logger and its children (a server's uvicorn lines come from
``uvicorn``), ``pattern`` is searched (``re.search``) in the message. Each expectation
must be met at least once, or the test fails too: a stale expectation is a test that no
longer tests what it says.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import pytest

from tests.support import servers

OURS = "desktop_care"
FAIL_LEVEL = logging.WARNING

# A line the server writes: ours ("2026-01-01 10:00:00,123 WARNING desktop_care.x: text")
# or uvicorn's ("ERROR:    Exception in ASGI application").
_OUR_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:,.]+ (?P<level>[A-Z]+) (?P<logger>[\w.]+): (?P<message>.*)$")
_UVICORN_LINE = re.compile(r"^(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(?P<message>.*)$")


@dataclass(frozen=True)
class Entry:
    """One log record, from this process or a server's log file."""

    source: str
    logger: str
    level: int
    message: str

    def describe(self) -> str:
        return f"[{self.source}] {logging.getLevelName(self.level)} {self.logger}: {self.message}"


@dataclass
class Expectation:
    logger: str
    pattern: str
    level: int = FAIL_LEVEL
    met: int = 0

    def matches(self, entry: Entry) -> bool:
        in_logger = entry.logger == self.logger or entry.logger.startswith(self.logger + ".")
        return in_logger and entry.level >= self.level and re.search(self.pattern, entry.message) is not None

    def describe(self) -> str:
        return f"{logging.getLevelName(self.level)} from {self.logger!r} matching {self.pattern!r}"


@dataclass
class _Watch:
    """What one test has logged so far, and what it expects."""

    entries: list[Entry] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    scoped: list[Expectation] = field(default_factory=list)  # open `with expect_log(...)` blocks
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: Entry) -> None:
        with self.lock:
            for expectation in [*self.scoped, *self.expectations]:
                if expectation.matches(entry):
                    expectation.met += 1
                    return
            self.entries.append(entry)


class _Handler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=FAIL_LEVEL)
        self.watch: _Watch | None = None

    def emit(self, record: logging.LogRecord) -> None:
        watch = self.watch
        if watch is None or not (record.name == OURS or record.name.startswith(OURS + ".")):
            return
        try:
            message = record.getMessage()
        except Exception as exc:  # noqa: BLE001 (a broken format string is itself worth failing on)
            message = f"{record.msg!r} (unformattable: {exc})"
        if record.exc_info and record.exc_info[1] is not None:
            message += f"\n{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        watch.add(Entry("test process", record.name, record.levelno, message))


_handler = _Handler()
_log_offsets: dict[int, int] = {}


def server_entries(text: str, source: str) -> Iterator[Entry]:
    """The records at WARNING or above in a server's log text (tracebacks included)."""
    current: list[str] = []
    level, logger = logging.INFO, ""

    def flush() -> Iterator[Entry]:
        if not current:
            return
        message = "\n".join(current)
        lvl = level
        if "Traceback (most recent call last)" in message:
            lvl = max(lvl, logging.ERROR)
        if lvl >= FAIL_LEVEL:
            yield Entry(source, logger or "server", lvl, message)

    for line in text.splitlines():
        ours, theirs = _OUR_LINE.match(line), _UVICORN_LINE.match(line)
        if ours or theirs:
            yield from flush()
            match = ours or theirs
            assert match is not None
            level = logging.getLevelNamesMapping().get(match["level"], logging.INFO)
            logger = ours["logger"] if ours else "uvicorn"
            current = [match["message"]]
        else:
            current.append(line)  # a continuation: a traceback or a multi-line message
    yield from flush()


def _read_server_logs(watch: _Watch) -> None:
    for server in servers.STARTED:
        try:
            with server.log_path.open("rb") as f:
                f.seek(_log_offsets.get(id(server), 0))
                data = f.read()
        except FileNotFoundError:
            continue
        # Only whole lines: a line being written is read after the next test.
        end = data.rfind(b"\n") + 1
        _log_offsets[id(server)] = _log_offsets.get(id(server), 0) + end
        for entry in server_entries(data[:end].decode(errors="replace"), f"server {server.url}"):
            watch.add(entry)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "expect_log(logger, pattern, level=logging.WARNING): the test expects such a log record "
        "(tests/support/logfail.py); without it a WARNING fails the test",
    )
    logging.getLogger().addHandler(_handler)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_handler)


@pytest.fixture(autouse=True)
def _logfail(request: pytest.FixtureRequest) -> Iterator[_Watch]:
    watch = _Watch()
    for marker in request.node.iter_markers("expect_log"):
        watch.expectations.append(Expectation(*marker.args, **marker.kwargs))
    _read_server_logs(_Watch())  # what servers wrote before this test is not its doing
    _handler.watch = watch
    try:
        yield watch
    finally:
        _read_server_logs(watch)
        _handler.watch = None
    problems = [f"unexpected log record {entry.describe()}" for entry in watch.entries]
    problems += [f"expected a log record {e.describe()}, none came" for e in watch.expectations if not e.met]
    if problems:
        pytest.fail(
            "\n".join(problems)
            + "\n(declare an expected record with @pytest.mark.expect_log or the expect_log fixture)",
            pytrace=False,
        )


@pytest.fixture
def expect_log(_logfail: _Watch) -> Callable[..., AbstractContextManager[Expectation]]:
    """``with expect_log(logger, pattern, level=logging.WARNING):`` the block must log such
    a record; it does not fail the test."""

    @contextmanager
    def expecting(logger: str, pattern: str, level: int = FAIL_LEVEL) -> Iterator[Expectation]:
        expectation = Expectation(logger, pattern, level)
        with _logfail.lock:
            _logfail.scoped.append(expectation)
        try:
            yield expectation
            _read_server_logs(_logfail)
        finally:
            with _logfail.lock:
                _logfail.scoped.remove(expectation)
        if not expectation.met:
            pytest.fail(f"expected a log record {expectation.describe()} in the block, none came", pytrace=False)

    return expecting

"""The real app as a process: when it is stopped (SIGTERM, as a session logout does, or
SIGKILL), its embedded server goes with it instead of staying on, orphaned, holding the
database."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_care import crash
from tests.support.servers import REPO

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc as on Linux")

_ANSWERING = re.compile(r"embedded server \(pid (\d+)\) answering at (\S+)")


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie nobody reaped yet has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(0.05)  # polling a condition with a deadline


class App:
    """``python -m desktop_care`` (embedded default, offscreen) on its own data directory."""

    def __init__(self, data: Path) -> None:
        self.data = data
        env = dict(os.environ, DESKTOP_CARE_DATA_DIR=str(data), PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
        self.output = data.parent / "app-output.txt"
        with self.output.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "desktop_care"], stdout=out,
                                            stderr=subprocess.STDOUT, env=env)
        self.server_pid = 0

    @property
    def log(self) -> str:
        try:
            return (self.data / "logs" / "desktop-care.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_until_serving(self) -> int:
        def answering() -> bool:
            assert self.process.poll() is None, f"the app exited:\n{self.output.read_text()}"
            found = _ANSWERING.findall(self.log)
            if found:
                self.server_pid = int(found[-1][0])
            return bool(found)

        wait_for(answering, 180, "the embedded server did not answer")
        assert alive(self.server_pid)
        return self.server_pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.server_pid and alive(self.server_pid):
            os.kill(self.server_pid, signal.SIGKILL)


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def test_sigterm_quits_the_app_cleanly_and_stops_its_server(data: Path) -> None:
    app = App(data)
    try:
        server = app.wait_until_serving()
        app.process.send_signal(signal.SIGTERM)
        assert app.process.wait(timeout=30) == 0, app.output.read_text()
        wait_for(lambda: not alive(server), 15, "the embedded server was still running")
        assert "stopping: signal SIGTERM" in app.log
        assert not (data / "logs" / "last-run.json").exists()  # a clean quit: nothing to tell the next start
    finally:
        app.stop()


def test_a_killed_app_takes_its_server_with_it(data: Path) -> None:
    app = App(data)
    try:
        server = app.wait_until_serving()
        app.process.kill()
        app.process.wait(timeout=30)
        wait_for(lambda: not alive(server), 15, "the embedded server outlived the killed app")
    finally:
        app.stop()
    # Killed from outside, with no report of ours: the next start knows, but does not
    # call it a crash of the app.
    assert (data / "logs" / "last-run.json").exists()
    assert crash.previous_crash(data / "logs") is None
    # The embedded server's own database is the workstation's data too: owner only.
    for name in ("server.sqlite3", "server.sqlite3-wal"):
        path = data / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name

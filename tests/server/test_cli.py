"""``desktop-care-server`` commands, run as a user would (a separate process)."""

from __future__ import annotations

import fcntl
import os
import select as io_select
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from desktop_care.models import User, UserCredential
from desktop_care.schemas import MemberPage, StaffPublic
from desktop_care.server.accounts import DEMO_ADMIN
from desktop_care.server.cli import ADMIN_PASSWORD_ENV, STAFF_PASSWORD_ENV
from desktop_care.server.db import make_engine
from desktop_care.server.security import verify_password
from tests.support.servers import REPO, DatabaseFactory, LiveServer, free_port, start_server

from .conftest import login, unique


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env.pop(ADMIN_PASSWORD_ENV, None)
    return {**env, **(extra or {})}


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI with ``stdin`` as its standard input (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "desktop_care.server", *args],
        capture_output=True, text=True, env=_env(env), timeout=120, input=stdin,
    )


class Terminal:
    """The CLI on a pseudo-terminal of its own, as a person at a terminal runs it."""

    def __init__(self, *args: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.output = ""
        master, slave = os.openpty()
        self._master = master
        self.process = subprocess.Popen(
            [sys.executable, "-m", "desktop_care.server", *args],
            stdin=slave, stdout=slave, stderr=slave, env=_env(), start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # the terminal is its controlling one
        )
        os.close(slave)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        os.close(self._master)

    def _read(self, deadline: float) -> bool:
        ready, _, _ = io_select.select([self._master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return False
        try:
            chunk = os.read(self._master, 4096)
        except OSError:  # the other side closed (EIO on Linux)
            return False
        self.output += chunk.decode(errors="replace")
        return bool(chunk)

    def expect(self, text: str) -> None:
        deadline = time.monotonic() + self.timeout
        while text not in self.output:
            if time.monotonic() > deadline or not self._read(deadline):
                raise AssertionError(f"{text!r} did not appear; the terminal shows:\n{self.output}")

    def send(self, text: str) -> None:
        os.write(self._master, text.encode())

    def wait(self) -> int:
        deadline = time.monotonic() + self.timeout
        while self._read(deadline):
            pass
        return self.process.wait(timeout=max(1.0, deadline - time.monotonic()))


def test_create_admin_reads_the_password_from_stdin_or_the_environment(server: LiveServer) -> None:
    username = unique("admin.")
    result = cli(
        "create-admin", "--database-url", server.database_url, "--username", username, "--password-stdin",
        "--display-name", "Ada Admin", "--email", "ada@example.org",
        stdin="a-long-password\n",
    )
    assert result.returncode == 0, result.stderr
    assert f"created Society Admin '{username}'" in result.stdout

    response = login(server, username, "a-long-password")
    assert response.status_code == 200
    assert response.json()["user"]["display_name"] == "Ada Admin"

    staff = unique("staff.")
    result = cli(
        "create-admin", "--database-url", server.database_url, "--username", staff, "--role", "staff",
        env={ADMIN_PASSWORD_ENV: "another-password"},
    )
    assert result.returncode == 0, result.stderr
    assert login(server, staff, "another-password").json()["user"]["role"] == "society_staff"


def test_create_admin_asks_for_the_password_twice_at_a_terminal(server: LiveServer) -> None:
    username = unique("admin.")
    with Terminal(
        "create-admin", "--database-url", server.database_url, "--username", username
    ) as terminal:
        terminal.expect("Password for the new account: ")
        terminal.send("typed-at-a-terminal\n")
        terminal.expect("Again, to be sure: ")
        terminal.send("typed-at-a-terminal\n")
        assert terminal.wait() == 0, terminal.output
    assert "typed-at-a-terminal" not in terminal.output  # not echoed
    assert login(server, username, "typed-at-a-terminal").status_code == 200

    with Terminal("create-admin", "--database-url", server.database_url, "--username", unique("x.")) as terminal:
        terminal.expect("Password for the new account: ")
        terminal.send("first-password\n")
        terminal.expect("Again, to be sure: ")
        terminal.send("other-password\n")
        assert terminal.wait() == 2
    assert "the two passwords are not the same" in terminal.output


def test_no_password_is_taken_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    given = cli("create-admin", "--database-url", url, "--username", "ada", "--password", "a-long-password")
    assert given.returncode == 2
    assert "passwords are not taken on the command line" in given.stderr
    assert "--password-stdin" in given.stderr and ADMIN_PASSWORD_ENV in given.stderr

    seeded = cli("seed-demo", "--database-url", url, "--members", "0", "--staff-password", "a-long-password")
    assert seeded.returncode == 2
    assert "passwords are not taken on the command line" in seeded.stderr

    no_terminal = cli("create-admin", "--database-url", url, "--username", "ada", stdin="")
    assert no_terminal.returncode == 2
    assert "no password given" in no_terminal.stderr
    assert "created" not in no_terminal.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--username", "short-pw"], "password must be at least 8 characters"),
        (["--username", "bad name!"], "username must be"),
        (["--username", "x", "--email", "not-an-email"], "not an email address"),
        (["--username", "x", "--role", "boss"], "invalid choice: 'boss'"),
    ],
)
def test_create_admin_refuses_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    password = "1234567\n" if "short-pw" in args else "long-enough\n"
    result = cli("create-admin", "--database-url", f"sqlite:///{tmp_path / 'db.sqlite3'}", *args,
                 "--password-stdin", stdin=password)
    assert result.returncode == 2
    assert message in result.stderr


def test_create_admin_refuses_a_taken_username(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = {ADMIN_PASSWORD_ENV: "long-enough"}
    assert cli("create-admin", "--database-url", url, "--username", "twice", env=env).returncode == 0
    again = cli("create-admin", "--database-url", url, "--username", "TWICE", env=env)
    assert again.returncode == 2
    assert "a user named 'twice' already exists" in again.stderr


def test_bad_database_url_is_a_usage_error() -> None:
    result = cli("migrate", "--database-url", "mysql://somewhere/db")
    assert result.returncode == 2
    assert "unsupported database 'mysql'" in result.stderr


def test_seed_demo_and_migrate(databases: DatabaseFactory, backend: str) -> None:
    url = databases.create(backend)
    migrate = cli("migrate", "--database-url", url)
    assert migrate.returncode == 0, migrate.stderr
    assert "is up to date" in migrate.stdout

    seeded = cli("seed-demo", "--database-url", url, "--members", "40", "--seed", "5")
    assert seeded.returncode == 0, seeded.stderr
    assert "added 40 members" in seeded.stdout
    assert f"staff: {DEMO_ADMIN}" in seeded.stdout

    negative = cli("seed-demo", "--database-url", url, "--members", "-1")
    assert negative.returncode == 2
    assert "--members: must be at least 0, not -1" in negative.stderr


def test_seed_demo_gives_the_demo_staff_a_password_read_from_stdin_or_the_environment(tmp_path: Path) -> None:
    for n, (stdin, env) in enumerate([("demo-staff-password\n", None), ("", {STAFF_PASSWORD_ENV: "demo-staff-password"})]):
        url = f"sqlite:///{tmp_path / f'seeded{n}.sqlite3'}"
        args = ["--password-stdin"] if stdin else []
        seeded = cli("seed-demo", "--database-url", url, "--members", "3", "--staff-password", *args,
                     stdin=stdin, env=env)
        assert seeded.returncode == 0, seeded.stderr
        with Session(make_engine(url)) as session:
            hashed = session.scalar(
                select(UserCredential.password_hash).join(User).where(User.username == DEMO_ADMIN)
            )
        assert hashed is not None and verify_password(hashed, "demo-staff-password")


def test_serve_seeds_an_empty_database_and_accepts_the_bootstrap_token(
    databases: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "t" * 43
    monkeypatch.setenv("DESKTOP_CARE_BOOTSTRAP_TOKEN", token)
    url = databases.create("sqlite")
    for run in (1, 2):  # the second start finds members and adds none
        workdir = tmp_path / f"run{run}"
        workdir.mkdir()
        server = start_server(url, workdir, "--seed-demo-if-empty", "30")
        try:
            auth = {"Authorization": f"Bearer {token}"}
            me = requests.get(f"{server.api}/auth/me", headers=auth, timeout=10)
            assert me.status_code == 200, me.text
            assert StaffPublic.model_validate(me.json()).username == DEMO_ADMIN
            page = MemberPage.model_validate(requests.get(f"{server.api}/members", headers=auth, timeout=10).json())
            assert page.total <= 30 and page.total_exact
        finally:
            server.stop()


def test_serve_refuses_a_short_bootstrap_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKTOP_CARE_BOOTSTRAP_TOKEN", "short")
    result = cli("serve", "--database-url", f"sqlite:///{tmp_path / 'db.sqlite3'}", "--port", "1")
    assert result.returncode == 2
    assert "bootstrap token must be at least 32 characters" in result.stderr


def test_an_embedded_server_stops_when_the_pipe_from_its_app_closes(tmp_path: Path) -> None:
    """The portable lifeline (Windows and macOS have no PR_SET_PDEATHSIG): the app holds
    the server's standard input and the system closes it when the app ends."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "desktop_care.server", "serve", "--database-url", f"sqlite:///{tmp_path / 'e.sqlite3'}",
         "--port", str(port), "--embedded-by", str(os.getpid())],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env(),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the server exited"
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the server did not answer"
            time.sleep(0.05)  # polling readiness with a deadline
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(timeout=15) == 0
        assert process.stdout is not None
        assert b"the app that started this server has gone" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

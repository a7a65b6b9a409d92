"""``desktop-care-server`` commands, run as a user would (a separate process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from desktop_care.schemas import MemberPage, StaffPublic
from desktop_care.server.accounts import DEMO_ADMIN
from tests.support.servers import REPO, DatabaseFactory, LiveServer, start_server

from .conftest import login, unique


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run(
        [sys.executable, "-m", "desktop_care.server", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_create_admin_makes_an_account_that_can_sign_in(server: LiveServer) -> None:
    username = unique("admin.")
    result = cli(
        "create-admin",
        "--database-url",
        server.database_url,
        "--username",
        username,
        "--password",
        "a-long-password",
        "--display-name",
        "Ada Admin",
        "--email",
        "ada@example.org",
    )
    assert result.returncode == 0, result.stderr
    assert f"created Society Admin '{username}'" in result.stdout

    response = login(server, username, "a-long-password")
    assert response.status_code == 200
    assert response.json()["user"]["display_name"] == "Ada Admin"

    staff = unique("staff.")
    result = cli(
        "create-admin",
        "--database-url",
        server.database_url,
        "--username",
        staff,
        "--password",
        "another-password",
        "--role",
        "staff",
    )
    assert result.returncode == 0, result.stderr
    assert login(server, staff, "another-password").json()["user"]["role"] == "society_staff"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--username", "short-pw", "--password", "1234567"], "password must be at least 8 characters"),
        (["--username", "bad name!", "--password", "long-enough"], "username must be"),
        (["--username", "x", "--password", "long-enough", "--email", "not-an-email"], "not an email address"),
        (["--username", "x", "--password", "long-enough", "--role", "boss"], "invalid choice: 'boss'"),
    ],
)
def test_create_admin_refuses_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    result = cli("create-admin", "--database-url", f"sqlite:///{tmp_path / 'db.sqlite3'}", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_create_admin_refuses_a_taken_username(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert (
        cli("create-admin", "--database-url", url, "--username", "twice", "--password", "long-enough").returncode == 0
    )
    again = cli("create-admin", "--database-url", url, "--username", "TWICE", "--password", "long-enough")
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

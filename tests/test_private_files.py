"""The workstation's data is readable by its owner only: the member replica and its
outbox, the offline sign-in verifiers, the logs, and the SQLite files beside them
(WAL, shared memory), whatever the umask of the session that started the app."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_care import config, logs
from desktop_care.commands import UpdateContact
from desktop_care.schemas import StaffPublic
from desktop_care.sync import LocalStore, OfflineCredentials
from tests.sync.test_local_store import page, record

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes (Windows: per-user profile ACLs)")


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    """A session whose umask lets everyone read new files (the usual 022)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path) -> dict[str, str]:
    """Path (relative to ``root``) → its permission bits, for every entry under ``root``."""
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


def assert_private(root: Path) -> None:
    found = modes(root)
    wrong = {name: mode for name, mode in found.items() if int(mode, 8) & 0o077}
    assert not wrong, f"readable by others: {wrong}"
    for name, mode in found.items():
        expected = "0o700" if (root / name).is_dir() else "0o600"
        assert mode == expected, (name, mode)


def test_the_replica_outbox_and_offline_verifier_are_private() -> None:
    store = LocalStore.for_server("https://care.example.org")
    credentials = OfflineCredentials()
    try:
        store.apply_feed(page(record(1), record(2)))
        store.enqueue(UpdateContact(member_id=2, base_version=1, first_name="Ana"))
        staff = StaffPublic(id=1, username="ada", display_name="Ada", email="", role="society_admin")
        credentials.remember(store_url := "https://care.example.org", "ada", "a long passphrase", staff)
        assert credentials.verify(store_url, "ada", "a long passphrase") is not None
        names = {p.name for p in (config.data_dir() / "workstation").iterdir()}
        assert any(n.endswith("-wal") for n in names) and any(n.endswith("-shm") for n in names), names
        assert_private(config.data_dir())
    finally:
        store.close()
        credentials.close()


def test_files_made_by_an_older_version_are_made_private_when_opened(tmp_path: Path) -> None:
    path = config.data_dir() / "workstation" / "old.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o755)
    LocalStore(path).close()
    for name in (path, path.with_name("old.sqlite3-wal")):
        if name.exists():
            name.chmod(0o644)
    store = LocalStore(path)
    try:
        store.apply_feed(page(record(1)))
        assert_private(config.data_dir())
    finally:
        store.close()


def test_the_log_files_are_private_and_rotate_private() -> None:
    handler = logs.private_file_handler(config.log_dir() / "desktop-care.log", max_bytes=200, backups=2)
    logger = logging.getLogger("tests.private-files")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for i in range(20):
            logger.error("line %d of something long enough to rotate the log file", i)
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert (config.log_dir() / "desktop-care.log.2").exists()
    assert_private(config.log_dir())

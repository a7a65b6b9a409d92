""""Remember me": this computer's remembered sign-in of a server, kept in the system
keyring (Secret Service, macOS Keychain, Windows Credential Locker), never in a file
(docs/decisions/0036).

``keyring`` is imported on first use, off the GUI thread: importing it (and finding
its backend) takes long enough to matter for the start-up time. Every call may block
(the keyring may be locked and ask its own password): call them from a worker.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from ..settings import SECRET_SERVICE

log = logging.getLogger(__name__)

#: The tooltip of a disabled "Remember me" box.
NO_KEYRING = ("This computer has no system keyring (such as GNOME Keyring or KWallet), so Desktop Care cannot "
              "keep your sign-in safely; it never keeps one in a plain file.")


@dataclass(frozen=True)
class Remembered:
    username: str
    token: str


def _keyring() -> Any:
    import keyring  # slow to import: only here, on a worker

    return keyring


def _entry(server_url: str) -> str:
    return f"remembered-sign-in {server_url}"


def unavailable() -> str | None:
    """Why this computer cannot keep a remembered sign-in (None: it can)."""
    try:
        keyring = _keyring()
        from keyring.backends import chainer, fail

        backend = keyring.get_keyring()
        usable = not isinstance(backend, fail.Keyring) and not (
            isinstance(backend, chainer.ChainerBackend) and not backend.backends)
        priority = getattr(backend, "priority", 1)
    except Exception as exc:  # noqa: BLE001 - a broken keyring is one the box cannot use
        log.info("no usable keyring: %s", exc)
        return NO_KEYRING
    return None if usable and priority > 0 else NO_KEYRING


def save(server_url: str, username: str, token: str) -> None:
    """Keep the remembered sign-in of ``server_url`` (replacing any earlier one)."""
    _keyring().set_password(SECRET_SERVICE, _entry(server_url), json.dumps({"username": username, "token": token}))


def load(server_url: str) -> Remembered | None:
    """The remembered sign-in of ``server_url``, if this computer keeps one."""
    if unavailable() is not None:
        return None
    raw = _keyring().get_password(SECRET_SERVICE, _entry(server_url))
    if not raw:
        return None
    try:
        value = json.loads(raw)
        return Remembered(str(value["username"]), str(value["token"]))
    except (ValueError, TypeError, KeyError):
        log.warning("the keyring's remembered sign-in of %s is unreadable; forgetting it", server_url)
        forget(server_url)
        return None


def forget(server_url: str) -> bool:
    """Delete the remembered sign-in of ``server_url``; False if there was none."""
    if unavailable() is not None:
        return False
    keyring = _keyring()
    from keyring.errors import PasswordDeleteError

    try:
        keyring.delete_password(SECRET_SERVICE, _entry(server_url))
    except PasswordDeleteError:
        return False
    return True

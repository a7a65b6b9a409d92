"""The workstation's settings (File → Settings), kept between runs.

One small JSON file, ``settings.json`` in the platform's configuration directory
(``~/.config/desktop_care`` on Linux; in ``$DESKTOP_CARE_DATA_DIR`` when that is set),
readable by its owner only. It holds no secret: the app keeps no password or token on
disk (sessions live in memory; offline sign-in keeps argon2 verifiers, see
docs/decisions/0009). :data:`SECRET_SERVICE` is where a secret would go, through
``keyring``, never into this file.

A file that cannot be read or does not make sense is set aside as ``settings.json.bad``
and the defaults are used: a broken settings file never stops the app from starting.
"""

from __future__ import annotations

import enum
import json
import logging
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from . import config

log = logging.getLogger(__name__)

#: The keyring service name under which any secret of the app would be kept.
SECRET_SERVICE = "desktop_care"

#: Text sizes offered, in percent of the standard size.
TEXT_SIZES: tuple[int, ...] = (90, 100, 115, 130, 150)


class Theme(enum.StrEnum):
    SYSTEM = "system"
    LIGHT = "light"
    DARK = "dark"

    @property
    def label(self) -> str:
        return {"system": "Follow the system", "light": "Light", "dark": "Dark"}[self.value]


@dataclass(frozen=True)
class Settings:
    #: Central servers, the one to sign in to first. Empty: the local (embedded) server.
    server_urls: tuple[str, ...] = ()
    #: A PEM file of the organisation's certificate authority, besides the system's.
    ca_file: Path | None = None
    allow_insecure_http: bool = False
    theme: Theme = Theme.SYSTEM
    #: Percent of the standard text size (one of TEXT_SIZES).
    text_size: int = 100
    remember_username: bool = True
    #: The last username signed in with, when remember_username.
    username: str = ""
    #: The main window's open tabs, per server and user (see :func:`tabs_key`): each a
    #: list of ``"member:123"`` / ``"ticket:45"``, the one in front first.
    open_tabs: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    #: Keys this version does not know, kept as they were (a newer version wrote them).
    unknown: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def server_url(self) -> str | None:
        """The server to sign in to at start, or None for the local server."""
        return self.server_urls[0] if self.server_urls else None

    def signed_in_as(self, username: str) -> Settings:
        """These settings after a sign-in as ``username``."""
        return replace(self, username=username if self.remember_username else "")


def settings_path() -> Path:
    if os.environ.get("DESKTOP_CARE_DATA_DIR"):
        return config.data_dir() / "settings.json"
    return config.private_dir(Path(platformdirs.user_config_dir(config.APP_NAME, config.APP_AUTHOR))) / "settings.json"


class InvalidSettings(ValueError):
    """A settings file that does not make sense (the message says what)."""


def from_json(data: object) -> Settings:
    """Settings from the file's JSON; :class:`InvalidSettings` when it is not an object
    of the expected shape."""
    if not isinstance(data, dict):
        raise InvalidSettings("the file is not a JSON object")
    known = {"server_urls", "ca_file", "allow_insecure_http", "theme", "text_size", "remember_username", "username",
             "open_tabs"}
    urls = data.get("server_urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
        raise InvalidSettings("server_urls must be a list of addresses")
    ca_file = data.get("ca_file")
    if ca_file is not None and not isinstance(ca_file, str):
        raise InvalidSettings("ca_file must be a path")
    try:
        theme = Theme(data.get("theme", Theme.SYSTEM.value))
    except ValueError:
        raise InvalidSettings(f"theme must be one of {', '.join(t.value for t in Theme)}") from None
    text_size = data.get("text_size", 100)
    if text_size not in TEXT_SIZES or isinstance(text_size, bool):
        raise InvalidSettings(f"text_size must be one of {', '.join(map(str, TEXT_SIZES))}")
    flags = {key: data.get(key, default) for key, default in (("allow_insecure_http", False),
                                                              ("remember_username", True))}
    if not all(isinstance(value, bool) for value in flags.values()):
        raise InvalidSettings("allow_insecure_http and remember_username must be true or false")
    username = data.get("username", "")
    if not isinstance(username, str):
        raise InvalidSettings("username must be text")
    open_tabs = data.get("open_tabs", {})
    if not isinstance(open_tabs, dict) or not all(
            isinstance(tabs, list) and all(isinstance(tab, str) for tab in tabs) for tabs in open_tabs.values()):
        raise InvalidSettings("open_tabs must map each server and user to a list of tabs")
    return Settings(
        server_urls=tuple(urls), ca_file=Path(ca_file) if ca_file else None, theme=theme, text_size=int(text_size),
        username=username, open_tabs={str(k): tuple(v) for k, v in open_tabs.items()}, unknown={k: v for k, v in data.items() if k not in known}, **flags,
    )


def to_json(settings: Settings) -> dict[str, Any]:
    out = asdict(settings)
    del out["unknown"]
    out["server_urls"] = list(settings.server_urls)
    out["ca_file"] = str(settings.ca_file) if settings.ca_file else None
    out["theme"] = settings.theme.value
    out["open_tabs"] = {key: list(tabs) for key, tabs in settings.open_tabs.items()}
    return {**settings.unknown, **out}


def load(path: Path | None = None) -> Settings:
    """The saved settings, or the defaults (when there are none, or they are broken)."""
    path = path or settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        log.warning("could not read the settings in %s (%s): using the defaults", path, exc)
        return Settings()
    try:
        return from_json(json.loads(text))
    except (ValueError, InvalidSettings) as exc:
        aside = path.with_name(path.name + ".bad")
        log.warning("the settings in %s do not make sense (%s): set aside as %s, using the defaults",
                    path, exc, aside.name)
        path.replace(aside)
        return Settings()


def save(settings: Settings, path: Path | None = None) -> None:
    """Write the settings atomically (a crash never leaves half a file), owner-only."""
    path = path or settings_path()
    temporary = config.private_file(path.with_name(path.name + ".new"))
    temporary.write_text(json.dumps(to_json(settings), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)


def tabs_key(server: str, username: str) -> str:
    """Where one server and user's open tabs are kept: ``"ada@https://care.example.org"``
    (``server`` is ``"local"`` for the embedded server, whose port changes each run)."""
    return f"{username}@{server}"


def remember_tabs(key: str, tabs: list[str], path: Path | None = None) -> None:
    """Keep ``tabs`` as the open tabs of ``key``, changing nothing else in the file
    (read again first: the app may have saved other settings meanwhile)."""
    current = load(path)
    kept = {k: v for k, v in current.open_tabs.items() if k != key}
    if tabs:
        kept[key] = tuple(tabs)
    if kept != current.open_tabs:
        save(replace(current, open_tabs=kept), path)


def transport_of(settings: Settings) -> config.Transport:
    return config.Transport(ca_file=settings.ca_file, allow_insecure_http=settings.allow_insecure_http)

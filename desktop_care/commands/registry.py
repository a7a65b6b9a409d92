"""One registration per command kind.

Each command class is registered once, with ``@register``; everything else — the
server's request schemas, ``parse_command``, the workstation's outbox, the Sync issues
panel, the dialogs and menus that check ``required_role`` — reads the registry instead
of keeping its own list of kinds.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, TypeVar, Union

from pydantic import Field, TypeAdapter

from .base import BaseCommand, Command

_C = TypeVar("_C", bound=type[BaseCommand])

_REGISTRY: dict[str, type[BaseCommand]] = {}


class DuplicateKind(TypeError):
    pass


def register(cls: _C) -> _C:
    """Class decorator: make ``cls`` a known command kind."""
    command_cls: type[BaseCommand] = cls
    kind = command_cls.model_fields["kind"].default
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__name__} must declare kind: Literal[...] = '...'")
    if kind in _REGISTRY and _REGISTRY[kind] is not cls:
        raise DuplicateKind(f"command kind {kind!r} is registered twice")
    if not cls.action or not cls.label:
        raise TypeError(f"{cls.__name__} must declare its action and label")
    if not cls.online_only and not issubclass(cls, Command):
        raise TypeError(f"{cls.__name__}: only member commands can be queued offline")
    _REGISTRY[kind] = cls
    _adapter.cache_clear()
    return cls


def kinds(*, queueable: bool | None = None) -> dict[str, type[BaseCommand]]:
    """The registered kinds (only the queueable ones, or only the online-only ones)."""
    return {
        kind: cls for kind, cls in sorted(_REGISTRY.items())
        if queueable is None or queueable != cls.online_only
    }


def command_class(kind: str) -> type[BaseCommand]:
    return _REGISTRY[kind]


def union(*, queueable: bool | None = None) -> Any:
    """A pydantic discriminated union of the registered kinds (for request schemas)."""
    classes = tuple(kinds(queueable=queueable).values())
    if len(classes) == 1:
        return Annotated[classes[0], Field(discriminator="kind")]
    return Annotated[Union[classes], Field(discriminator="kind")]  # noqa: UP007  # built at run time


@functools.cache
def _adapter(queueable: bool | None) -> TypeAdapter[BaseCommand]:
    return TypeAdapter(union(queueable=queueable))


def parse_any(data: dict[str, Any] | str | bytes) -> BaseCommand:
    """Any registered command from its JSON payload (raises pydantic.ValidationError)."""
    adapter = _adapter(None)
    if isinstance(data, (str, bytes)):
        return adapter.validate_json(data)
    return adapter.validate_python(data)


def parse_command(data: dict[str, Any] | str | bytes) -> Command:
    """A queueable (member) command from its JSON payload (raises
    pydantic.ValidationError; an online-only kind is an unknown kind here)."""
    adapter = _adapter(True)
    command = adapter.validate_json(data) if isinstance(data, (str, bytes)) else adapter.validate_python(data)
    assert isinstance(command, Command)
    return command

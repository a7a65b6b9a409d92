"""Every change a person can make, as a named, serialisable command (shared by the
workstation's outbox and the server, which runs them authoritatively).

Importing this package imports every command module, so that each kind is registered
(``registry.register``) before anything builds a schema or parses a payload.
"""

from typing import TYPE_CHECKING

from . import (
    member,  # noqa: F401  (registers its kinds)
    registry,
)
from .base import Actor, BaseCommand, Command, NotPermitted, Rejected, UserCommand, role_permits
from .member import AddressIn, AdjustPoints, SetEmailPreference, UpdateContact
from .registry import command_class, kinds, parse_any, parse_command, register, union
from .runner import CommandResult, OpIdReused, Status, execute

if TYPE_CHECKING:
    QueueableCommand = Command
    AnyCommand = BaseCommand
else:
    #: Request-body types: the kinds a workstation may queue (``POST /sync/commands``)
    #: and every kind (``POST /commands``).
    QueueableCommand = union(queueable=True)
    AnyCommand = union()

__all__ = [
    "Actor",
    "AddressIn",
    "AdjustPoints",
    "AnyCommand",
    "BaseCommand",
    "Command",
    "CommandResult",
    "NotPermitted",
    "OpIdReused",
    "QueueableCommand",
    "Rejected",
    "SetEmailPreference",
    "Status",
    "UpdateContact",
    "UserCommand",
    "command_class",
    "execute",
    "kinds",
    "parse_any",
    "parse_command",
    "register",
    "registry",
    "role_permits",
]

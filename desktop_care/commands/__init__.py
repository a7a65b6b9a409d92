"""Every change a person can make, as a named, serialisable command (shared by the
workstation's outbox and the server, which runs them authoritatively)."""

from .base import Actor, Command, Rejected
from .member import AddressIn, AdjustPoints, BlockForPayment, SetEmailPreference, UpdateContact
from .runner import CommandResult, OpIdReused, Status, execute, parse_command

__all__ = [
    "Actor",
    "AddressIn",
    "AdjustPoints",
    "BlockForPayment",
    "Command",
    "CommandResult",
    "OpIdReused",
    "Rejected",
    "SetEmailPreference",
    "Status",
    "UpdateContact",
    "execute",
    "parse_command",
]

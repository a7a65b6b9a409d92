"""Every change a person can make, as a named, serialisable command (shared by the
workstation's outbox and the server, which runs them authoritatively)."""

from .accounts import CancelInvitation, InviteUser, PortalRole, ResendInvitation, ResetPassword
from .base import Actor, Command, Rejected
from .member import AddressIn, AdjustPoints, SetEmailPreference, UpdateContact
from .runner import CommandResult, OpIdReused, Status, execute, parse_command

__all__ = [
    "Actor",
    "AddressIn",
    "AdjustPoints",
    "CancelInvitation",
    "InviteUser",
    "PortalRole",
    "ResendInvitation",
    "ResetPassword",
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

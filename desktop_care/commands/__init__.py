"""Every change a person can make, as a named, serialisable command (shared by the
workstation's outbox and the server, which runs them authoritatively).

Importing this package imports every command module, so that each kind is registered
(``registry.register``) before anything builds a schema or parses a payload.
"""

from typing import TYPE_CHECKING

from ..models import load_all
from . import (  # noqa: F401
    accounts,
    add_member,
    animals,
    courses,
    fraud,
    member,
    merge,
    orders,
    payments,
    registry,
    status,
    tickets,
    user,
)
from .accounts import CancelInvitation, InviteUser, PortalRole, ResendInvitation, ResetPassword
from .add_member import AddMember
from .animals import AnswerTransfer, CancelTransfer, CorrectAnimal, RegisterAnimal, TransferAnimal
from .base import (
    Actor,
    BaseCommand,
    Command,
    NotPermitted,
    RecordCommand,
    Rejected,
    SettingCommand,
    UserCommand,
    role_permits,
)
from .fraud import AddBlock, LiftBlock
from .member import AddressIn, AdjustPoints, BlockForPayment, SetEmailPreference, UpdateContact
from .merge import MergeInfo, MergeMembers, MergePlan, UndoMerge
from .on_behalf import ActOnBehalf
from .orders import EmailInvoice, MarkOrderExported, OpenCheckout, Outcome, PlaceRenewal, RecordPayment
from .payments import (
    DecideRefund,
    IssueCreditNote,
    RecordManualPayment,
    RecordRefundOutcome,
    RefundPayment,
    SetRefundApprovalThreshold,
)
from .registry import command_class, kinds, parse_any, parse_command, register, union
from .runner import CommandResult, OpIdReused, ProvisionalMember, Status, execute
from .status import ChangeStatus
from .tickets import (
    AddNote,
    Assign,
    ChangeTicketState,
    ContactUs,
    MemberMessage,
    MergeTicket,
    OpenTicket,
    Reply,
    SetPriority,
    UndoTicketMerge,
)

# The commands reach every table (a merge re-points every member reference): every model.
load_all()

if TYPE_CHECKING:
    QueueableCommand = Command
    AnyCommand = BaseCommand
else:
    #: Request-body types: the kinds a workstation may queue (``POST /sync/commands``)
    #: and every kind (``POST /commands``).
    QueueableCommand = union(queueable=True)
    AnyCommand = union()

__all__ = [
    "ActOnBehalf",
    "Actor",
    "AddBlock",
    "AddMember",
    "AddNote",
    "AddressIn",
    "AdjustPoints",
    "AnswerTransfer",
    "AnyCommand",
    "Assign",
    "BaseCommand",
    "BlockForPayment",
    "CancelInvitation",
    "CancelTransfer",
    "ChangeStatus",
    "ChangeTicketState",
    "Command",
    "CommandResult",
    "ContactUs",
    "CorrectAnimal",
    "DecideRefund",
    "EmailInvoice",
    "InviteUser",
    "IssueCreditNote",
    "LiftBlock",
    "MarkOrderExported",
    "MemberMessage",
    "MergeInfo",
    "MergeMembers",
    "MergePlan",
    "MergeTicket",
    "NotPermitted",
    "OpIdReused",
    "OpenCheckout",
    "OpenTicket",
    "Outcome",
    "PlaceRenewal",
    "PortalRole",
    "ProvisionalMember",
    "QueueableCommand",
    "RecordCommand",
    "RecordManualPayment",
    "RecordPayment",
    "RecordRefundOutcome",
    "RefundPayment",
    "RegisterAnimal",
    "Rejected",
    "Reply",
    "ResendInvitation",
    "ResetPassword",
    "SetEmailPreference",
    "SetPriority",
    "SetRefundApprovalThreshold",
    "SettingCommand",
    "Status",
    "TransferAnimal",
    "UndoMerge",
    "UndoTicketMerge",
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

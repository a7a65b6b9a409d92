"""One mapping from what went wrong to what a person is told and can do.

Every view that shows a failure asks :func:`describe` instead of inspecting exception
types itself, so "the server can't be reached" reads the same everywhere.
"""

from __future__ import annotations

import enum
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..embedded import EmbeddedServerError
from ..sync.api_client import (
    ApiError,
    Conflict,
    Forbidden,
    NotFound,
    ServerBusy,
    ServerError,
    TimedOut,
    TlsFailed,
    Unauthorized,
    Unreachable,
    ValidationFailed,
)


class Action(enum.Enum):
    """What the person can do about a problem."""

    NONE = "none"
    SIGN_IN_AGAIN = "sign in again"
    FIX_FIELDS = "fix the fields"
    RELOAD = "reload and compare"
    RETRY_LATER = "retry later"
    CHECK_CONNECTION = "check the connection"
    REPORT = "report a bug"


@dataclass(frozen=True)
class Problem:
    text: str
    action: Action = Action.NONE
    #: For :attr:`Action.FIX_FIELDS`: field name → message.
    fields: Mapping[str, str] = field(default_factory=dict)
    #: A copyable report for unexpected errors (bugs); empty for known ones.
    details: str = ""

    @property
    def is_bug(self) -> bool:
        return self.action is Action.REPORT

    @property
    def retryable(self) -> bool:
        return self.action in (Action.RETRY_LATER, Action.CHECK_CONNECTION)


def sentence(text: str) -> str:
    """``"wrong username or password"`` → ``"Wrong username or password."``"""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else f"{text}."


def describe(exc: BaseException) -> Problem:
    """The plain-words problem for an exception raised by an op."""
    if isinstance(exc, Unreachable):
        return Problem(
            f"The server at {exc.url} can't be reached. Check the address and your network "
            "connection.",
            Action.CHECK_CONNECTION,
        )
    if isinstance(exc, TimedOut):
        return Problem(f"The server at {exc.url} did not answer in time. Please try again.",
                       Action.CHECK_CONNECTION)
    if isinstance(exc, TlsFailed):  # before the generic ApiError: never "retry later"
        return Problem(exc.message)
    if isinstance(exc, Unauthorized):
        return Problem("Your session has ended. Please sign in again.", Action.SIGN_IN_AGAIN)
    if isinstance(exc, Forbidden):
        return Problem(sentence(exc.message))
    if isinstance(exc, NotFound):
        return Problem(sentence(exc.message))
    if isinstance(exc, ValidationFailed):
        return Problem(sentence(exc.message), Action.FIX_FIELDS, exc.fields)
    if isinstance(exc, Conflict):
        return Problem(f"{sentence(exc.message)} Reload to see the latest version.", Action.RELOAD)
    if isinstance(exc, ServerBusy):
        return Problem("The server is busy. Your work is kept; please try again in a moment.",
                       Action.RETRY_LATER)
    if isinstance(exc, ServerError):
        return Problem(sentence(exc.message), Action.RETRY_LATER)
    if isinstance(exc, ApiError):
        return Problem(sentence(exc.message))
    if isinstance(exc, EmbeddedServerError):
        return Problem(str(exc), Action.REPORT, details=_log_excerpt(exc))
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return Problem(f"{sentence(exc.strerror)}{where}")
    return Problem(
        "Something went wrong inside the app. The details below help the developers fix it.",
        Action.REPORT,
        details="".join(traceback.format_exception(exc)),
    )


def _log_excerpt(exc: EmbeddedServerError, max_chars: int = 6000) -> str:
    try:
        return exc.log_path.read_text(errors="replace")[-max_chars:]
    except OSError:
        return ""

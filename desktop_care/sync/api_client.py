"""The workstation's REST client for the central (or embedded) server.

Every call returns the same pydantic classes the server answers with
(:mod:`desktop_care.schemas`), or raises one of the typed errors below, each with a
``message`` in plain words. The UI maps error *types* to what a person can do
(:mod:`desktop_care.ui.errors`); nothing above this module sees ``requests``.

Retries: idempotent calls (GET) are retried with exponential backoff on connection
failures, read time-outs and 502/503/504 (honouring ``Retry-After``). Anything else,
above all ``POST /auth/login``, is sent exactly once.

Threads: a :class:`requests.Session` is not safe to share between threads, so each
thread that uses an :class:`ApiClient` gets its own session (and connection pool); the
bearer token is shared by all of them.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ValidationError

from .. import __version__, config
from ..models.search_sort import MemberSort
from ..schemas import (
    AccountActionOut,
    AnimalDetail,
    AnimalList,
    CompactFeedPage,
    DuplicateCheckIn,
    DuplicateList,
    FeedChange,
    FeedPage,
    FraudBlockPage,
    FraudStopOut,
    Health,
    HistoryPage,
    LedgerPage,
    LoginRequest,
    LoginResponse,
    MemberCourses,
    MemberDetail,
    MemberPage,
    OnBehalfOut,
    OnBehalfSettings,
    OnBehalfState,
    OrderList,
    PointsPage,
    RefundList,
    StaffPublic,
    TicketDetail,
    TicketPage,
    TimelineKind,
    TimelinePage,
    UserPage,
)

if TYPE_CHECKING:
    import requests

    from ..command_schemas import BulkPlanOut, BulkRowIn, BulkRunOut
    from ..commands import BaseCommand, Command, CommandResult
    from ..commands.merge import MergeInfo, MergePlan

ModelT = TypeVar("ModelT", bound=BaseModel)

#: How many times an idempotent call is retried by default.
DEFAULT_RETRIES = 3


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A call to the server failed; ``message`` says why in plain words."""

    default_message = "The server could not complete the request."

    def __init__(self, message: str | None = None, *, status: int | None = None) -> None:
        self.message = message or self.default_message
        self.status = status
        super().__init__(self.message)


class Unauthorized(ApiError):
    """401: no token, an expired or revoked one, or a wrong password at sign-in."""

    default_message = "Your session has ended. Please sign in again."


class Forbidden(ApiError):
    """403: signed in, but not allowed (or the account is locked or disabled)."""

    default_message = "You are not allowed to do this."


class NotFound(ApiError):
    default_message = "It no longer exists."


class ValidationFailed(ApiError):
    """422: the request was refused because of the fields named in ``fields``."""

    default_message = "Some of the values are not valid."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = 422,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.fields: dict[str, str] = dict(fields or {})


class Conflict(ApiError):
    """409/412: someone else changed the same data first."""

    default_message = "Someone else changed this in the meantime."


class ServerBusy(ApiError):
    """429/503: the server asks us to come back later; nothing was done."""

    default_message = "The server is busy. Please try again in a moment."

    def __init__(
        self, message: str | None = None, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx, or an answer the client cannot understand: a fault on the server side."""

    default_message = "The server ran into a problem. Please try again later."


class Unreachable(ApiError):
    """No connection: refused, unknown host, network down, or no answer to connect."""

    def __init__(self, url: str, message: str | None = None) -> None:
        self.url = url
        super().__init__(message or f"The server at {url} can't be reached.")


class TlsFailed(ApiError):
    """No secure connection could be made (https): the message says why."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(message)


class CertificateNotTrusted(TlsFailed):
    """The server's certificate did not pass verification (unknown authority, another
    name, expired...); never retried, never treated as "offline"."""


class InsecureServerUrl(ValueError):
    """Plain ``http://`` to another computer without the person's explicit permission."""


class TimedOut(ApiError):
    """Connected, but the server did not answer in time."""

    def __init__(self, url: str, message: str | None = None) -> None:
        self.url = url
        super().__init__(message or f"The server at {url} did not answer in time.")


# --------------------------------------------------------------------------- helpers


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this computer (``localhost``, 127.0.0.0/8, ``::1``)."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_server_url(text: str) -> str:
    """``"host:8000/"`` → ``"https://host:8000"`` (``http://`` for this computer's own
    addresses); ValueError (in plain words) if unusable."""
    url = text.strip()
    if not url:
        raise ValueError("Enter the server address.")
    if "://" not in url:
        url = f"http://{url}" if is_loopback(urlsplit(f"//{url}").hostname) else f"https://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("The server address must start with http:// or https://.")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError("The port in the server address is not a number.") from None
    if not parts.hostname or parts.query or parts.fragment:
        raise ValueError("That is not a server address (e.g. https://care.example.org).")
    return url.rstrip("/")


def check_transport(url: str, transport: config.Transport) -> None:
    """Refuse plain ``http://`` to another computer unless the person allowed it
    (:class:`InsecureServerUrl`, in plain words); ``url`` is a normalised one."""
    parts = urlsplit(url)
    if parts.scheme == "https" or is_loopback(parts.hostname) or transport.allow_insecure_http:
        return
    raise InsecureServerUrl(
        f"Plain http:// would send passwords and member data unencrypted to {parts.hostname}. Use https:// "
        "(or, only on a network you trust, start the app with --allow-insecure-http)."
    )


def tls_context(transport: config.Transport) -> ssl.SSLContext:
    """Verifies certificates against the system's trust store plus ``transport.ca_file``."""
    context = ssl.create_default_context()
    if transport.ca_file is not None:
        context.load_verify_locations(cafile=str(transport.ca_file))
    return context


def _error_body(response: requests.Response) -> tuple[str | None, dict[str, str]]:
    """``(detail, fields)`` from an error answer: our ``ErrorDetail`` shape, or
    FastAPI's default ``{"detail": [{"loc": [...], "msg": ...}]}``."""
    try:
        body = response.json()
    except ValueError:
        return None, {}
    if not isinstance(body, dict):
        return None, {}
    detail = body.get("detail")
    fields = {str(k): str(v) for k, v in (body.get("fields") or {}).items()}
    if isinstance(detail, list):  # FastAPI's own validation error shape
        for item in detail:
            if isinstance(item, dict) and item.get("loc"):
                fields.setdefault(str(item["loc"][-1]), str(item.get("msg", "Not valid")))
        detail = None
    return (detail if isinstance(detail, str) and detail else None), fields


def _fields_of(exc: ValidationError) -> dict[str, str]:
    """Field name → message of a pydantic validation error."""
    return {str(err["loc"][-1]): err["msg"] for err in exc.errors() if err["loc"]}


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def error_for_response(response: requests.Response) -> ApiError:
    """The typed error for an unsuccessful answer."""
    status = response.status_code
    detail, fields = _error_body(response)
    if status == 401:
        return Unauthorized(detail, status=status)
    if status == 403:
        return Forbidden(detail, status=status)
    if status == 404:
        return NotFound(detail, status=status)
    if status in (409, 412):
        return Conflict(detail, status=status)
    if status == 422 or (status == 400 and fields):
        return ValidationFailed(detail, status=status, fields=fields)
    if status in (429, 503):
        return ServerBusy(detail, status=status, retry_after=_retry_after(response))
    if status >= 500:
        return ServerError(detail, status=status)
    return ApiError(detail or f"The server refused the request ({status}).", status=status)


#: OpenSSL's verification results, in words a person can act on.
_UNKNOWN_AUTHORITY = {2, 18, 19, 20, 21}  # unable to get issuer, self-signed, unable to verify the first
_NAME_MISMATCH = {62, 64}  # hostname / IP address mismatch
_EXPIRED, _NOT_YET_VALID = 10, 9


def _verification_failure(exc: BaseException) -> ssl.SSLCertVerificationError | ssl.SSLError | None:
    """The ``ssl`` error at the bottom of requests' and urllib3's wrappers, if any."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        todo += [arg for arg in current.args if isinstance(arg, BaseException)]
        todo += [e for e in (getattr(current, "reason", None), current.__cause__, current.__context__)
                 if isinstance(e, BaseException)]
    return None


def _tls_error(exc: requests.RequestException, server: str) -> TlsFailed:
    failure = _verification_failure(exc)
    host = urlsplit(server).hostname or server
    lead = "The server's certificate is not trusted:"  # the server is named where this shows
    if isinstance(failure, ssl.SSLCertVerificationError):
        code = failure.verify_code
        if code in _UNKNOWN_AUTHORITY:
            why = ("no certificate authority this computer trusts has signed it. If your organisation runs its "
                   "own certificate authority, start the app with --ca-file FILE (its certificate, PEM).")
        elif code in _NAME_MISMATCH:
            why = f"it was issued for another name than {host}. Check the server address."
        elif code == _EXPIRED:
            why = "it has expired (or this computer's clock is wrong)."
        elif code == _NOT_YET_VALID:
            why = "it is not valid yet (or this computer's clock is wrong)."
        else:
            why = f"{failure.verify_message or failure.reason}."
        return CertificateNotTrusted(server, f"{lead} {why}")
    return TlsFailed(
        server,
        f"A secure connection (https) to {server} could not be made: the server did not answer in TLS there "
        f"({getattr(failure, 'reason', None) or 'no TLS'}). If it serves plain http://, use that address.",
    )


def _network_error(exc: requests.RequestException, server: str) -> ApiError:
    """The typed error for a request that got no answer."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ReadTimeoutError

    if isinstance(exc, requests.exceptions.SSLError):
        return _tls_error(exc, server)
    if isinstance(exc, requests.ConnectTimeout):
        return Unreachable(server)
    if isinstance(exc, requests.ReadTimeout):
        return TimedOut(server)
    reason = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else None
    if isinstance(reason, ReadTimeoutError):
        return TimedOut(server)
    if isinstance(reason, ConnectTimeoutError) or isinstance(exc, requests.ConnectionError):
        return Unreachable(server)
    return ApiError(f"The request to {server} failed: {exc}")


# --------------------------------------------------------------------------- client


class ApiClient:
    """A client of one server's ``/api/v1``; ``token`` is the staff bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeouts: config.Timeouts = config.TIMEOUTS,
        retries: int = DEFAULT_RETRIES,
        backoff: float = 0.25,
        transport: config.Transport | None = None,
    ) -> None:
        self.base_url = normalize_server_url(base_url)
        self.transport = transport if transport is not None else config.transport()
        check_transport(self.base_url, self.transport)
        self.api_url = f"{self.base_url}{config.API_PREFIX}"
        self._tls: ssl.SSLContext | None = None
        self.token = token
        self.timeouts = timeouts
        self._retries = retries
        self._backoff = backoff
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ApiClient({self.base_url!r}, signed_in={self.token is not None})"

    def retarget(self, base_url: str, token: str | None, *, retries: int | None = None) -> None:
        """Point this client (and everything holding it) at ``base_url`` with ``token``
        (and ``retries``, when given, for the connections made from now on): the embedded
        server's address is known only once it answers, after the window opened on the
        local replica. The token is set first, so a call racing with this one goes with
        the new token or to the old address (which does not answer)."""
        url = normalize_server_url(base_url)
        check_transport(url, self.transport)
        self.token = token
        if retries is not None:
            self._retries = retries
            self._local = threading.local()  # each thread's next call makes a session with them
        self.api_url = f"{url}{config.API_PREFIX}"
        self.base_url = url

    # ----------------------------------------------------------------- endpoints

    def health(self) -> Health:
        return self._call("GET", "/health", Health)

    def login(self, username: str, password: str, *, remember: bool = False) -> LoginResponse:
        """Sign in; on success the client uses the new token for every later call. With
        ``remember`` the answer carries a remembered sign-in (for the keyring only)."""
        try:
            body = LoginRequest(username=username, password=password, remember=remember)
        except ValidationError as exc:
            raise ValidationFailed(status=None, fields=_fields_of(exc)) from None
        response = self._call("POST", "/auth/login", LoginResponse, json=body.model_dump())
        self.token = response.access_token
        return response

    def resume(self, remember_token: str) -> LoginResponse:
        """Sign in with a remembered sign-in (``POST /auth/resume``); 401 when it ended."""
        response = self._call("POST", "/auth/resume", LoginResponse, json={"remember_token": remember_token})
        self.token = response.access_token
        return response

    def me(self) -> StaffPublic:
        return self._call("GET", "/auth/me", StaffPublic)

    def logout(self, remember_token: str | None = None) -> None:
        """End the session on the server (if it is still valid), and this computer's
        remembered sign-in ``remember_token`` with it, and forget the token."""
        try:
            if self.token is not None:
                self._send("POST", "/auth/logout", json={"remember_token": remember_token})
        except Unauthorized:
            pass
        finally:
            self.token = None

    def search_members(
        self, q: str, limit: int = 50, cursor: str | None = None, sort: MemberSort | None = None
    ) -> MemberPage:
        params: dict[str, str | int] = {"q": q, "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        if sort is not None:
            params["sort"] = sort.value
        return self._call("GET", "/members", MemberPage, params=params)

    def member(self, member_id: int) -> MemberDetail:
        return self._call("GET", f"/members/{int(member_id)}", MemberDetail)

    def likely_duplicates(self, check: DuplicateCheckIn) -> DuplicateList:
        """Members who may be the person about to be registered (``POST
        /members/likely-duplicates``; reads only)."""
        return self._call("POST", "/members/likely-duplicates", DuplicateList, json=check.model_dump())

    def invite_staff(self, email: str, display_name: str, role: str) -> AccountActionOut:
        """Invite a person as staff (``POST /staff/invitations``; Society Admin only):
        they get an e-mail with a link to choose their password."""
        body = {"email": email, "display_name": display_name, "role": role}
        return self._call("POST", "/staff/invitations", AccountActionOut, json=body)

    def list_users(
        self,
        q: str = "",
        *,
        roles: Sequence[str] = (),
        states: Sequence[str] = (),
        limit: int = 50,
        cursor: str | None = None,
        sort: str | None = None,
    ) -> UserPage:
        """One page of the Society Users list (``GET /users``), by id or by ``sort``."""
        params: dict[str, str | int | list[str]] = {"q": q, "limit": limit}
        if sort:
            params["sort"] = sort
        if roles:
            params["role"] = list(roles)
        if states:
            params["state"] = list(states)
        if cursor is not None:
            params["cursor"] = cursor
        return self._call("GET", "/users", UserPage, params=params)

    def list_tickets(
        self,
        q: str = "",
        *,
        view: str = "all",
        queue: str | None = None,
        states: str = "open",
        sort: str = "due",
        limit: int = 50,
        cursor: str | None = None,
    ) -> TicketPage:
        """One page of a ticket queue (``GET /tickets``)."""
        params: dict[str, str | int] = {"q": q, "view": view, "states": states, "sort": sort, "limit": limit}
        if queue:
            params["queue"] = queue
        if cursor is not None:
            params["cursor"] = cursor
        return self._call("GET", "/tickets", TicketPage, params=params)

    def member_tickets(self, member_id: int, limit: int = 50, cursor: str | None = None) -> TicketPage:
        """The member's tickets, newest first (``GET /members/{id}/tickets``)."""
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return self._call("GET", f"/members/{int(member_id)}/tickets", TicketPage, params=params)

    def ticket(self, ticket_id: int) -> TicketDetail:
        """One ticket with its thread (``GET /tickets/{id}``)."""
        return self._call("GET", f"/tickets/{int(ticket_id)}", TicketDetail)

    def fraud_blocks(self, q: str = "", *, kind: str | None = None, state: str = "active", sort: str = "-created",
                     limit: int = 50, cursor: str | None = None) -> FraudBlockPage:
        """One page of fraud-stop blocks, newest first or by ``sort``
        (``GET /fraud-blocks``); the cursor is the ``next_cursor`` of the page before."""
        params: dict[str, str | int] = {"q": q, "state": state, "sort": sort, "limit": limit}
        if kind:
            params["kind"] = kind
        if cursor is not None:
            params["cursor"] = cursor
        return self._call("GET", "/fraud-blocks", FraudBlockPage, params=params)

    def fraud_stop(self, member_id: int, order_id: int | None = None) -> FraudStopOut:
        """What a FRAUD-STOP on the member (or one of its orders) would block."""
        params: dict[str, str | int] = {} if order_id is None else {"order_id": int(order_id)}
        return self._call("GET", f"/members/{int(member_id)}/fraud-stop", FraudStopOut, params=params)

    def merge_plan(self, merged_id: int, survivor_id: int) -> MergePlan:
        """What merging ``merged_id`` into ``survivor_id`` would do, or why it can't."""
        from ..commands.merge import MergePlan  # the command classes load after the first screen (decision 0044)

        return self._call("GET", f"/members/{int(merged_id)}/merge-plan", MergePlan,
                          params={"into": int(survivor_id)})

    def merges(self, member_id: int) -> list[MergeInfo]:
        """The merges the member took part in, each saying whether it can be undone."""
        from ..commands.merge import MergeInfo

        response = self._send("GET", f"/members/{int(member_id)}/merges")
        return [MergeInfo.model_validate(item) for item in response.json()]

    def member_points(self, member_id: int, limit: int = 50, cursor: str | None = None) -> PointsPage:
        """The member's points ledger, newest first (``GET /members/{id}/points``)."""
        params: dict[str, str | int] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return self._call("GET", f"/members/{int(member_id)}/points", PointsPage, params=params)

    def member_history(self, member_id: int, *, actions: Sequence[str] = (), q: str = "", limit: int = 50,
                       cursor: str | None = None) -> HistoryPage:
        """Audited actions on the member's account, newest first (``GET /members/{id}/history``)."""
        params: list[tuple[str, str | int]] = [("limit", limit), *(("action", a) for a in actions)]
        if q:
            params.append(("q", q))
        if cursor:
            params.append(("cursor", cursor))
        return self._call("GET", f"/members/{int(member_id)}/history", HistoryPage, params=params)

    def member_timeline(self, member_id: int, *, kinds: Sequence[TimelineKind] = (), limit: int = 50,
                        cursor: str | None = None) -> TimelinePage:
        """Everything that happened to the member, newest first (``GET /members/{id}/timeline``)."""
        params: list[tuple[str, str | int]] = [("limit", limit), *(("kind", k.value) for k in kinds)]
        if cursor:
            params.append(("cursor", cursor))
        return self._call("GET", f"/members/{int(member_id)}/timeline", TimelinePage, params=params)

    def member_orders(self, member_id: int) -> OrderList:
        """Every order of the member, newest first (``GET /members/{id}/orders``)."""
        return self._call("GET", f"/members/{int(member_id)}/orders", OrderList)

    def member_ledger(self, member_id: int, limit: int = 50, cursor: str | None = None) -> LedgerPage:
        """The member's account transactions, newest first, with running balances
        (``GET /members/{id}/ledger``)."""
        params: dict[str, str | int] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        return self._call("GET", f"/members/{int(member_id)}/ledger", LedgerPage, params=params)

    def member_refunds(self, member_id: int, limit: int = 50) -> RefundList:
        """The member's refunds, newest first (``GET /members/{id}/refunds``)."""
        return self._call("GET", f"/members/{int(member_id)}/refunds", RefundList, params={"limit": limit})

    def refunds_awaiting_approval(self, limit: int = 50) -> RefundList:
        """Every refund waiting for a second staff member, oldest first
        (``GET /refunds/awaiting-approval``)."""
        return self._call("GET", "/refunds/awaiting-approval", RefundList, params={"limit": limit})

    def member_courses(self, member_id: int) -> MemberCourses:
        """The member's course registrations, waiting-list places and e-learning
        (``GET /members/{id}/courses``)."""
        return self._call("GET", f"/members/{int(member_id)}/courses", MemberCourses)
    def member_animals(self, member_id: int) -> AnimalList:
        """The member's animals and open transfers (``GET /members/{id}/animals``)."""
        return self._call("GET", f"/members/{int(member_id)}/animals", AnimalList)

    def animal(self, reg_no: str) -> AnimalDetail:
        """One animal by registration number, with its history (``GET /animals/{reg_no}``)."""
        return self._call("GET", f"/animals/{quote(reg_no.strip()[:30], safe='')}", AnimalDetail)

    def changes(self, after: int, limit: int = 1000) -> FeedPage:
        """One page of the change feed after ``after`` (``GET /sync/changes``)."""
        response = self._send("GET", "/sync/changes", params={"after": int(after), "limit": int(limit)})
        # Parsed change by change rather than in one call: validating a whole page of
        # thousands of members holds the GIL for tens of milliseconds, which the GUI
        # thread would feel as a stall while a background sync runs.
        try:
            body = response.json()
            return FeedPage.model_construct(
                changes=[FeedChange.model_validate(change) for change in body["changes"]],
                cursor=int(body["cursor"]),
                has_more=bool(body["has_more"]),
                latest=int(body["latest"]) if body.get("latest") is not None else None,
                epoch=str(body["epoch"]) if body.get("epoch") is not None else None,
            )
        except (ValueError, TypeError, KeyError, ValidationError) as exc:
            raise ServerError(
                f"The server at {self.base_url} sent an answer this app does not understand."
            ) from exc

    def compact_changes(self, after: int, limit: int = 5000) -> CompactFeedPage:
        """One page of the change feed after ``after`` as arrays (``GET
        /sync/changes/compact``): what a first sync pulls. The rows are checked for their
        shape here and their values by the store that writes them."""
        response = self._send("GET", "/sync/changes/compact", params={"after": int(after), "limit": int(limit)})
        try:
            body = response.json()
            page = CompactFeedPage.model_construct(
                member_columns=_str_list(body["member_columns"]),
                search_columns=_str_list(body["search_columns"]),
                address_columns=_str_list(body["address_columns"]),
                members=_rows(body["members"], len(body["member_columns"]) + len(body["search_columns"])),
                addresses=_rows(body["addresses"], len(body["address_columns"])),
                deleted=[int(member_id) for member_id in body["deleted"]],
                size=int(body["size"]),
                cursor=int(body["cursor"]),
                has_more=bool(body["has_more"]),
                latest=int(body["latest"]) if body.get("latest") is not None else None,
                epoch=str(body["epoch"]) if body.get("epoch") is not None else None,
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise ServerError(
                f"The server at {self.base_url} sent an answer this app does not understand."
            ) from exc
        return page

    def push(self, commands: Sequence[Command]) -> list[CommandResult]:
        """Run ``commands`` on the server (``POST /sync/commands``), one result each, in order.

        Unlike other POSTs this is re-sent after a connection failure or a time-out: each
        command carries its ``op_id``, so a command the server already ran comes back as
        ``duplicate`` and is not applied again.
        """
        from ..command_schemas import CommandBatchResult

        body = {"commands": [command.payload() for command in commands]}
        return self._post_replay_safe("/sync/commands", CommandBatchResult, body).results

    def run_command(self, command: BaseCommand) -> CommandResult:
        """Run one command now (``POST /commands``): its result, whatever the status.

        Like :meth:`push`, re-sent after a connection failure or a time-out (the op_id
        makes a repeat a ``duplicate``). Raises :class:`Forbidden` when the signed-in
        role may not run this kind.
        """
        from ..commands import CommandResult

        return self._post_replay_safe("/commands", CommandResult, {"command": command.payload()})

    # ----------------------------------------------------------------- acting on behalf

    def act_on_behalf(self, member_id: int, reason: str, user_id: int | None = None) -> OnBehalfOut:
        """A one-time token to open the portal on the member's behalf (not re-sent: a
        repeat would open a second session). Raises :class:`Forbidden` with the reason
        when the member may not be acted for, :class:`ValidationFailed` for the reason."""
        body: dict[str, Any] = {"reason": reason}
        if user_id is not None:
            body["user_id"] = user_id
        return self._call("POST", f"/members/{int(member_id)}/on-behalf", OnBehalfOut, json=body)

    def end_on_behalf(self, session_id: str, why: str = "view_closed") -> OnBehalfState:
        return self._call("POST", f"/on-behalf/{session_id}/end", OnBehalfState, json={"why": why})

    def on_behalf_state(self, session_id: str) -> OnBehalfState:
        return self._call("GET", f"/on-behalf/{session_id}", OnBehalfState)

    def on_behalf_settings(self) -> OnBehalfSettings:
        return self._call("GET", "/settings/on-behalf", OnBehalfSettings)

    def set_on_behalf_settings(self, notify_member: bool) -> OnBehalfSettings:
        return self._call("PUT", "/settings/on-behalf", OnBehalfSettings, json={"notify_member": notify_member})
    def bulk_invite_dry_run(self, content: bytes, filename: str = "") -> BulkPlanOut:
        """What inviting the rows of this CSV file would do (``POST
        /bulk-invitations/dry-run``); nothing is written."""
        from ..command_schemas import BulkPlanOut

        body = {"filename": filename[-255:], "content_base64": base64.b64encode(content).decode("ascii")}
        return self._call("POST", "/bulk-invitations/dry-run", BulkPlanOut, json=body)

    def bulk_invite_run(self, rows: Sequence[BulkRowIn]) -> BulkRunOut:
        """Invite one chunk of rows (``POST /bulk-invitations/run``). Re-sent after a
        connection failure or a time-out: each row's op id comes from its member and
        e-mail, so a repeat invites nobody twice."""
        from ..command_schemas import BulkRunOut

        body = {"rows": [row.model_dump() for row in rows]}
        return self._post_replay_safe("/bulk-invitations/run", BulkRunOut, body)

    def close(self) -> None:
        """Close every thread's connection pool."""
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    # ----------------------------------------------------------------- plumbing

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            from .transport import new_session

            session = new_session(self._retries, self._backoff, self._tls_context(), f"desktop-care/{__version__}")
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            try:
                self._tls = tls_context(self.transport)
            except (OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
                raise TlsFailed(
                    self.base_url,
                    f"The certificate authority file {self.transport.ca_file} cannot be used ({reason}). "
                    "Give the CA's certificate in PEM form with --ca-file.",
                ) from exc
        return self._tls

    def _post_replay_safe(self, path: str, model: type[ModelT], body: dict[str, Any]) -> ModelT:
        """POST commands, re-sent after a connection failure or time-out: their op_ids
        make a repeat harmless."""
        for attempt in range(self._retries + 1):
            try:
                return self._call("POST", path, model, json=body)
            except (Unreachable, TimedOut):
                if attempt >= self._retries:
                    raise
                time.sleep(min(5.0, self._backoff * (2**attempt)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, method: str, path: str, model: type[ModelT], **kwargs: Any) -> ModelT:
        response = self._send(method, path, **kwargs)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise ServerError(
                f"The server at {self.base_url} sent an answer this app does not understand."
            ) from exc

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        import requests

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self._session().request(
                method,
                f"{self.api_url}{path}",
                headers=headers,
                timeout=(self.timeouts.connect, self.timeouts.read),
                **kwargs,
            )
        except requests.RequestException as exc:
            raise _network_error(exc, self.base_url) from exc
        if not response.ok:
            raise error_for_response(response)
        return response


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError("expected a list of names")
    return value


def _rows(value: Any, width: int) -> list[list[Any]]:
    """``value`` if it is a list of rows of ``width`` values each."""
    if not isinstance(value, list) or not all(isinstance(row, list) and len(row) == width for row in value):
        raise TypeError(f"expected rows of {width} values")
    return value

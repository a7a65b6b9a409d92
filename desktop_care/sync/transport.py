"""The HTTP transport under :class:`~desktop_care.sync.api_client.ApiClient`: a
``requests`` session with our retry policy and TLS context.

Apart from the client because ``requests`` and urllib3 take a tenth of a second to load,
which the first screen (on the local replica) does not need: they load with a client's
first request (docs/decisions/0044).
"""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

#: Methods that may be sent again after a connection failure.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _TlsAdapter(HTTPAdapter):
    """Requests' adapter, verifying with our SSL context (the system's trust store, not
    the certificate bundle that ships with requests)."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)


class IdempotentRetry(Retry):
    """urllib3 ``Retry`` that never re-sends a non-idempotent request.

    Plain ``Retry`` re-sends any method after a *connection* error; for a sign-in or a
    command we rather report the failure and let the person decide.
    """

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if error is not None and (method or "").upper() not in IDEMPOTENT_METHODS:
            raise MaxRetryError(_pool, url, error) from error  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)


def retry_policy(retries: int, backoff: float) -> Retry:
    return IdempotentRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        backoff_factor=backoff,
        backoff_max=5.0,
        status_forcelist=(502, 503, 504),
        allowed_methods=IDEMPOTENT_METHODS,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def new_session(retries: int, backoff: float, tls: ssl.SSLContext, user_agent: str) -> requests.Session:
    """A session for one thread: ``retries`` with ``backoff`` for idempotent calls, https
    verified with ``tls``."""
    session = requests.Session()
    retry = retry_policy(retries, backoff)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", _TlsAdapter(tls, max_retries=retry))
    session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    return session

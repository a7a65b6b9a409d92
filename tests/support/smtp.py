"""A real SMTP server (aiosmtpd) on a loopback port that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.servers import free_port

LINK = re.compile(r"https?://[^\s\"<>]+")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    def links(self) -> list[str]:
        return LINK.findall(self.text)


@dataclass
class SmtpSink:
    """What an SMTP server on 127.0.0.1:``port`` received; ``refuse_next`` makes it
    answer the next N messages with a temporary failure (451)."""

    port: int = 0
    messages: list[Received] = field(default_factory=list)
    refuse_next: int = 0
    logins: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._cond:
            if self.refuse_next > 0:
                self.refuse_next -= 1
                return "451 4.3.0 try again later"
            message = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
            self._cond.notify_all()
        return "250 OK"

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 20.0) -> Received:
        """The first message received that satisfies ``predicate`` (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for received in self.messages:
                    if predicate(received):
                        return received
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such message within {timeout}s; got {[m.subject for m in self.messages]}")
                self._cond.wait(left)

    def to(self, address: str, subject_contains: str = "", timeout: float = 20.0) -> Received:
        return self.wait_for(lambda m: address in m.rcpt_tos and subject_contains in m.subject, timeout)

    def count_to(self, address: str) -> int:
        with self._cond:
            return sum(address in m.rcpt_tos for m in self.messages)


def _authenticator(sink: SmtpSink, username: str, password: str) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword) and data.login.decode() == username and data.password.decode() == password:
            sink.logins.append(username)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return check


def start_smtp(*, tls_context: ssl.SSLContext | None = None, username: str = "", password: str = "") -> tuple[
    SmtpSink, Controller
]:
    sink = SmtpSink(port=free_port())
    kwargs: dict[str, Any] = {}
    if tls_context is not None:
        kwargs.update(tls_context=tls_context, require_starttls=True)
    if username:
        kwargs.update(authenticator=_authenticator(sink, username, password), auth_required=True,
                      auth_require_tls=tls_context is not None)
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, **kwargs)
    controller.start()
    return sink, controller

"""The background sender: a thread in the server process that delivers the outbox.

Delivery is by SMTP when ``--smtp-url`` is given (``smtp://`` plain, ``smtp+starttls://``
STARTTLS required, ``smtps://`` TLS from the start; ``user:password@`` logs in, and the
password may come from ``DESKTOP_CARE_SMTP_PASSWORD`` instead of the URL), otherwise
into a Maildir under the server's data directory (the embedded default).

Several server processes may run senders on one database: a message is *claimed* with
a conditional UPDATE (queued → sending, with a deadline), so only one delivers it; a
claim whose process died lapses at its deadline and the message is tried again.
Temporary failures are retried with a doubling delay; permanent ones (a 5xx answer) and
the last attempt mark the message failed. The last error is kept on the row.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import mailbox
import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine, event, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from desktop_care.models import MailMessage, MailState, utcnow
from desktop_care.models.mail import QUEUED_KEY

from .render import render

log = logging.getLogger(__name__)

SMTP_PASSWORD_ENV = "DESKTOP_CARE_SMTP_PASSWORD"
#: Attempts before a message is marked failed.
MAX_ATTEMPTS = 6
#: A claim lapses after this long (the sender died while delivering).
CLAIM_TIMEOUT = dt.timedelta(minutes=5)
#: The longest wait between two attempts.
MAX_RETRY_DELAY = dt.timedelta(hours=1)
SMTP_TIMEOUT = 30.0
_SCHEMES = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}


class SmtpUrlError(ValueError):
    """An --smtp-url the server cannot use (the message says what to change)."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    #: "plain", "starttls" or "tls".
    security: str
    username: str = ""
    password: str = field(default="", repr=False)


def parse_smtp_url(url: str, *, password: str | None = None) -> SmtpTarget:
    """``smtp[+starttls|s]://[user[:password]@]host[:port]``; ``password`` (from the
    environment) is used when the URL has none."""
    parts = urlsplit(url)
    security = _SCHEMES.get(parts.scheme)
    if security is None:
        raise SmtpUrlError(f"must start with smtp://, smtp+starttls:// or smtps://, not {url.split(':', 1)[0]!r}")
    if not parts.hostname:
        raise SmtpUrlError("names no host (smtp://user:password@host:port)")
    try:
        port = parts.port or (465 if security == "tls" else 587 if security == "starttls" else 25)
    except ValueError:
        raise SmtpUrlError("has a port that is not a number from 1 to 65535") from None
    username = unquote(parts.username or "")
    secret = unquote(parts.password) if parts.password is not None else (password or "")
    if username and not secret:
        raise SmtpUrlError(f"names user {username!r} but no password (in the URL or ${SMTP_PASSWORD_ENV})")
    return SmtpTarget(parts.hostname, port, security, username, secret)


@dataclass(frozen=True)
class MailSettings:
    """How the server sends mail."""

    #: Where links in the messages point: the server's public address.
    public_url: str
    #: The From address.
    sender: str = "desktop_care <no-reply@desktop-care.invalid>"
    #: SMTP server; None delivers into ``maildir``.
    smtp: SmtpTarget | None = None
    maildir: Path | None = None
    #: Delay before the second attempt; each next one waits twice as long.
    retry_delay: dt.timedelta = dt.timedelta(seconds=30)
    #: How often the sender looks for due messages when nothing wakes it.
    poll_interval: float = 5.0


class PermanentFailure(Exception):
    """The receiving side refused the message for good (5xx)."""


class MailSender:
    """The sender thread of one server process (``start``/``stop``; ``wake`` after a
    commit that queued mail)."""

    def __init__(self, engine: Engine, settings: MailSettings) -> None:
        self.settings = settings
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mail-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=SMTP_TIMEOUT + 5)

    def wake(self) -> None:
        self._wake.set()

    def watch(self, factory: sessionmaker[Session]) -> None:
        """Wake up after each commit of ``factory``'s sessions that queued mail."""

        def after_commit(session: Session) -> None:
            if session.info.pop(QUEUED_KEY, False):
                self.wake()

        def after_rollback(session: Session) -> None:
            session.info.pop(QUEUED_KEY, None)

        event.listen(factory, "after_commit", after_commit)
        event.listen(factory, "after_soft_rollback", lambda s, t: after_rollback(s))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.deliver_due()
            except Exception:  # the database is away: try again later
                log.exception("mail sender: cannot read the outbox")
                worked = False
            if not worked:
                self._wake.wait(self.settings.poll_interval)
                self._wake.clear()

    # ------------------------------------------------------------------ delivery

    def deliver_due(self) -> bool:
        """Deliver one due message, if any; True if there was one."""
        claimed = self._claim()
        if claimed is None:
            return False
        message_id, attempt = claimed
        with self._sessions() as session:
            row = session.get(MailMessage, message_id)
            assert row is not None
            try:
                rendered = render(row.template, row.context, portal_url=self.settings.public_url)
                row.subject = rendered.subject[:300]
                self._deliver(self._email(row, rendered.subject, rendered.text, rendered.html))
            except PermanentFailure as exc:
                self._finish(row, MailState.FAILED, str(exc))
            except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                if attempt >= MAX_ATTEMPTS:
                    self._finish(row, MailState.FAILED, error)
                else:
                    delay = min(self.settings.retry_delay * (2 ** (attempt - 1)), MAX_RETRY_DELAY)
                    row.state, row.last_error, row.next_attempt_at = MailState.QUEUED, error, utcnow() + delay
                    log.warning("mail %s: attempt %d failed (%s); next in %s", row.message_id, attempt, error, delay)
            except Exception as exc:  # a template bug: retrying will not help
                log.exception("mail %s cannot be rendered", row.message_id)
                self._finish(row, MailState.FAILED, f"{type(exc).__name__}: {exc}")
            else:
                self._finish(row, MailState.SENT, row.last_error)  # an earlier attempt's error stays on record
            session.commit()
        return True

    def _claim(self) -> tuple[int, int] | None:
        """Take the oldest due message: one conditional UPDATE, so two senders never
        take the same one (the loser gets nothing and looks again)."""
        now = utcnow()
        due = or_(MailMessage.state == MailState.QUEUED, MailMessage.state == MailState.SENDING) & (
            MailMessage.next_attempt_at <= now
        )
        oldest = select(MailMessage.id).where(due).order_by(MailMessage.id).limit(1).scalar_subquery()
        with self._sessions() as session, session.begin():
            row = session.execute(
                update(MailMessage)
                .where(MailMessage.id == oldest, due)
                .values(state=MailState.SENDING, attempts=MailMessage.attempts + 1,
                        next_attempt_at=now + CLAIM_TIMEOUT)
                .returning(MailMessage.id, MailMessage.attempts)
                .execution_options(synchronize_session=False)
            ).one_or_none()
        if row is None:
            return None
        return int(row[0]), int(row[1])

    def _finish(self, row: MailMessage, state: MailState, error: str) -> None:
        row.state = state
        row.last_error = error
        if state == MailState.SENT:
            row.sent_at = utcnow()
        # The one-time link's token has done its work (or never will): not kept at rest.
        row.context = {key: ("" if key in row.secret_keys else value) for key, value in row.context.items()}
        if state == MailState.FAILED:
            log.error("mail %s to %s failed: %s", row.message_id, row.to_address, error)

    def _email(self, row: MailMessage, subject: str, text: str, html: str) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.settings.sender
        message["To"] = email.utils.formataddr((row.to_name, row.to_address)) if row.to_name else row.to_address
        message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = row.message_id
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    def _deliver(self, message: EmailMessage) -> None:
        target = self.settings.smtp
        if target is None:
            self._to_maildir(message)
            return
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if target.security == "tls":
            client = smtplib.SMTP_SSL(target.host, target.port, timeout=SMTP_TIMEOUT, context=context)
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=SMTP_TIMEOUT)
        try:
            client.ehlo()
            if target.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if target.username:
                client.login(target.username, target.password)
            client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if all(code >= 500 for code in codes):
                raise PermanentFailure(f"recipient refused: {exc.recipients}") from None
            raise
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            if exc.smtp_code >= 500:
                raise PermanentFailure(f"{type(exc).__name__}: {exc.smtp_code} {exc.smtp_error!r}") from None
            raise
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _to_maildir(self, message: EmailMessage) -> None:
        assert self.settings.maildir is not None
        box = mailbox.Maildir(str(self.settings.maildir), create=True)
        box.add(message)
        box.close()

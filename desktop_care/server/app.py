"""The central server's FastAPI application factory."""

from __future__ import annotations

import datetime as dt
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from desktop_care import __version__, config
from desktop_care.config import API_PREFIX

from . import portal
from .accounts import install_bootstrap_token
from .api import router
from .db import make_engine, upgrade
from .errors import install_error_handlers
from .mail import MailSender, MailSettings, parse_smtp_url
from .mail.sender import SMTP_PASSWORD_ENV

#: Environment of a server process: its database and, optionally, the bootstrap token
#: that signs in the demo administrator (how the embedded app signs in).
DATABASE_URL_ENV = "DESKTOP_CARE_DATABASE_URL"
BOOTSTRAP_TOKEN_ENV = "DESKTOP_CARE_BOOTSTRAP_TOKEN"


def create_app(
    database_url: str, *, bootstrap_token: str | None = None, migrate: bool = True, mail: MailSettings | None = None
) -> FastAPI:
    """The API and the member portal on the database at ``database_url``, migrated to
    the newest schema unless ``migrate`` is false (the CLI migrates once before
    starting workers). A mail sender delivers the outbox with ``mail`` (default: into
    the Maildir ``mail/`` of the data directory, links to http://127.0.0.1:8080)."""
    engine = make_engine(database_url)
    if migrate:
        upgrade(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    if bootstrap_token:
        with sessions.begin() as session:
            install_bootstrap_token(session, bootstrap_token)
    sender = MailSender(engine, mail or MailSettings(public_url="http://127.0.0.1:8080"))
    if sender.settings.smtp is None and sender.settings.maildir is None:
        sender = MailSender(engine, replace(sender.settings, maildir=config.data_dir() / "mail"))
    sender.watch(sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything built so far (modules, the app, the engine) lives as long as the
        # process: freeze it, so the collector's full passes walk only what requests
        # allocate (a full pass over the start-up heap costs ~60 ms of one request).
        gc.collect()
        gc.freeze()
        sender.start()
        yield
        sender.stop()
        engine.dispose()

    app = FastAPI(
        title="desktop_care server",
        version=__version__,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.mail_sender = sender
    install_error_handlers(app)
    app.include_router(router, prefix=API_PREFIX)
    portal.install(app)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes (``serve --workers N``): the CLI has
    already migrated the database and installed any bootstrap token."""
    return create_app(os.environ[DATABASE_URL_ENV], migrate=False, mail=mail_settings_from_env())


#: How ``serve --workers N`` hands the mail settings to its worker processes.
PUBLIC_URL_ENV = "DESKTOP_CARE_PUBLIC_URL"
SMTP_URL_ENV = "DESKTOP_CARE_SMTP_URL"
MAIL_FROM_ENV = "DESKTOP_CARE_MAIL_FROM"
MAIL_RETRY_ENV = "DESKTOP_CARE_MAIL_RETRY_SECONDS"


def mail_settings(
    public_url: str, smtp_url: str | None = None, sender: str | None = None, retry_seconds: float | None = None
) -> MailSettings:
    """Mail settings from the CLI's options (raises SmtpUrlError for a bad URL)."""
    smtp = parse_smtp_url(smtp_url, password=os.environ.get(SMTP_PASSWORD_ENV)) if smtp_url else None
    settings = MailSettings(public_url=public_url, smtp=smtp,
                            maildir=None if smtp else config.data_dir() / "mail")
    if sender:
        settings = replace(settings, sender=sender)
    if retry_seconds is not None:
        settings = replace(settings, retry_delay=dt.timedelta(seconds=retry_seconds))
    return settings


def mail_settings_from_env() -> MailSettings:
    retry = os.environ.get(MAIL_RETRY_ENV)
    return mail_settings(os.environ.get(PUBLIC_URL_ENV, "http://127.0.0.1:8080"), os.environ.get(SMTP_URL_ENV),
                         os.environ.get(MAIL_FROM_ENV), float(retry) if retry else None)

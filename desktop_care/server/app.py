"""The central server's FastAPI application factory."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from desktop_care import __version__
from desktop_care.config import API_PREFIX

from .accounts import install_bootstrap_token
from .api import router
from .db import make_engine, upgrade
from .errors import install_error_handlers

#: Environment of a server process: its database and, optionally, the bootstrap token
#: that signs in the demo administrator (how the embedded app signs in).
DATABASE_URL_ENV = "DESKTOP_CARE_DATABASE_URL"
BOOTSTRAP_TOKEN_ENV = "DESKTOP_CARE_BOOTSTRAP_TOKEN"


def create_app(database_url: str, *, bootstrap_token: str | None = None, migrate: bool = True) -> FastAPI:
    """The API on the database at ``database_url``, migrated to the newest schema
    unless ``migrate`` is false (the CLI migrates once before starting workers)."""
    engine = make_engine(database_url)
    if migrate:
        upgrade(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    if bootstrap_token:
        with sessions.begin() as session:
            install_bootstrap_token(session, bootstrap_token)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything built so far (modules, the app, the engine) lives as long as the
        # process: freeze it, so the collector's full passes walk only what requests
        # allocate (a full pass over the start-up heap costs ~60 ms of one request).
        gc.collect()
        gc.freeze()
        yield
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
    install_error_handlers(app)
    app.include_router(router, prefix=API_PREFIX)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes (``serve --workers N``): the CLI has
    already migrated the database and installed any bootstrap token."""
    return create_app(os.environ[DATABASE_URL_ENV], migrate=False)

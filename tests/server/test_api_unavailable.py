"""When the database goes away, the server says so plainly (503) instead of failing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, make_url, text

from tests.support.servers import PG_ENV, DatabaseFactory, start_server


@pytest.mark.expect_log("desktop_care.server.errors", r"^database error on GET /api/v1/health")
def test_health_is_503_while_the_database_is_gone(databases: DatabaseFactory, tmp_path: Path) -> None:
    url = databases.create("postgres")
    server = start_server(url, tmp_path)
    try:
        assert requests.get(f"{server.api}/health", timeout=10).status_code == 200
        admin = create_engine(os.environ[PG_ENV], isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()

        response = requests.get(f"{server.api}/health", timeout=10)
        assert response.status_code == 503
        assert response.json() == {"detail": "the database is not available; try again shortly", "fields": {}}
    finally:
        server.stop()

"""The embedded (local) server: started as a child process, reused on the next run."""

from __future__ import annotations

import pytest

from desktop_care import config
from desktop_care.embedded import EmbeddedServer, EmbeddedServerError
from desktop_care.sync.api_client import ApiClient, Unauthorized, Unreachable
from tests.support.servers import free_port

SEED = 30


def test_start_serves_signs_in_the_demo_admin_and_a_second_run_reuses_the_data() -> None:
    first = EmbeddedServer(seed_members=SEED)
    url = first.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        client = ApiClient(url, token=first.token)
        assert client.me().username == "demo-admin"
        page = client.search_members("", limit=100)
        assert page.total == SEED
        numbers = [m.member_no for m in page.items]
        old_token = first.token
    finally:
        first.stop()
    assert not first.running and first.url is None
    with pytest.raises(Unreachable):
        ApiClient(url, retries=0).health()
    assert "starting the embedded server" in (config.log_dir() / "embedded-server.log").read_text()

    second = EmbeddedServer(seed_members=SEED)
    with second:
        assert second.token != old_token
        client = ApiClient(second.url or "", token=second.token)
        page = client.search_members("", limit=100)
        assert page.total == SEED  # not seeded again
        assert [m.member_no for m in page.items] == numbers
        with pytest.raises(Unauthorized):  # the previous run's token was revoked when it stopped
            ApiClient(second.url or "", token=old_token).me()


def test_a_server_that_cannot_start_is_reported_with_its_log() -> None:
    nowhere = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"  # nothing listens there
    server = EmbeddedServer(database_url=nowhere, seed_members=1, startup_timeout=60)
    with pytest.raises(EmbeddedServerError) as caught:
        server.start()
    assert "The local server stopped while starting" in str(caught.value)
    assert caught.value.log_path.exists()
    assert not server.running

"""UI tests: the real widgets against the real server, with the app's style sheet
applied (a style sheet Qt cannot parse fails the tests through its warning)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_care.ui import collector, message, ops
from desktop_care.ui.resources import apply_look
from desktop_care.ui.session import StaffSession
from tests.support.servers import LiveServer
from tests.ui.arrange import make_members, signed_in_client, staff  # noqa: F401 (fixtures)

_HERE = Path(__file__).parent


#: Noise of Qt's offscreen platform plugin: it cannot raise windows or pass on size
#: hints (message boxes have fixed-size layouts); says nothing about the app.
#: QtWebEngine without a GPU says once that it has none (QT.md: harmless).
OFFSCREEN_NOISE = (r"This plugin does not support (propagateSizeHints|raise)\(\)|QRhiGles2: Failed to create"
                   r"|Failed to create RHI for backend|GPUInfo not initialized")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@pytest.fixture(scope="session", autouse=True)
def _app_look(qapp) -> None:
    """The app's look, and its garbage collection on the GUI thread only (as ``run``)."""
    apply_look(qapp)
    collector.install(qapp)


@pytest.fixture(autouse=True)
def _ops_finish() -> Iterator[None]:
    """No op of one test runs on into the next."""
    yield
    assert ops.wait_for_idle(30_000), "an op was still running 30 s after the test"


@pytest.fixture
def messages() -> Iterator[list[message.Message]]:
    """The messages shown to the person during the test."""
    seen: list[message.Message] = []
    message.bridge.shown.connect(seen.append)
    yield seen
    message.bridge.shown.disconnect(seen.append)


@pytest.fixture
def session(sqlite_server: LiveServer) -> StaffSession:
    client = signed_in_client(sqlite_server)
    return StaffSession(client, client.me())


@pytest.fixture
def screenshot():
    """``screenshot(widget, name)`` saves ``widget`` as ``name.png`` in
    ``$DESKTOP_CARE_TEST_SHOTS`` when that is set (to look at a screen), else nothing."""
    import os

    folder = os.environ.get("DESKTOP_CARE_TEST_SHOTS")

    def save(widget, name: str) -> None:  # type: ignore[no-untyped-def]
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            assert widget.grab().save(str(Path(folder) / f"{name}.png"))

    return save

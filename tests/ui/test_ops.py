"""Ops run work off the GUI thread and bring the outcome back to it."""

from __future__ import annotations

import logging
import threading

import pytest

from desktop_care.sync.api_client import ServerBusy
from desktop_care.ui import message
from desktop_care.ui.ops import Generation, Op
from desktop_care.ui.qt import QWidget


def test_work_runs_off_the_gui_thread_and_the_result_comes_back_on_it(qtbot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    gui_thread = threading.current_thread()
    seen: dict[str, object] = {}

    def work() -> int:
        seen["worker"] = threading.current_thread()
        return 42

    def done(value: int) -> None:
        seen["callback"] = threading.current_thread()
        seen["value"] = value

    Op(parent, work).success(done).finally_(lambda: seen.setdefault("finally", True)).run()
    qtbot.waitUntil(lambda: "finally" in seen)
    assert seen["value"] == 42
    assert seen["worker"] is not gui_thread
    assert seen["callback"] is gui_thread


@pytest.mark.expect_log("desktop_care.ui.message", r"^The server is busy")
def test_failures_go_to_the_message_bridge_by_default(qtbot, messages) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)

    def work() -> None:
        raise ServerBusy()

    with qtbot.waitSignal(message.bridge.shown):
        Op(parent, work).run()
    assert messages[-1].level is message.Level.WARNING
    assert "The server is busy" in messages[-1].text
    box = parent.findChild(QWidget, "messageBox")
    assert box is not None and box.isVisible() and not box.isModal()


@pytest.mark.expect_log("desktop_care.ui.message", r"^Something went wrong inside the app", level=logging.ERROR)
def test_a_bug_in_an_op_is_reported_with_its_traceback(qtbot, messages) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)

    def work() -> None:
        raise KeyError("member_no")

    with qtbot.waitSignal(message.bridge.shown):
        Op(parent, work).run()
    assert messages[-1].level is message.Level.ERROR
    assert "Something went wrong" in messages[-1].text
    assert "KeyError: 'member_no'" in messages[-1].details


def test_a_failure_callback_takes_the_failure_instead(qtbot, messages) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    failures: list[BaseException] = []

    def work() -> None:
        raise ValueError("bad")

    Op(parent, work).failure(failures.append).run()
    qtbot.waitUntil(lambda: bool(failures))
    assert isinstance(failures[0], ValueError)
    assert messages == []


def test_results_for_a_parent_that_is_gone_are_dropped(qtbot) -> None:
    parent = QWidget()
    release = threading.Event()
    delivered: list[int] = []
    Op(parent, lambda: release.wait(5) and 1).success(delivered.append).run()
    parent.deleteLater()
    qtbot.waitUntil(lambda: not _alive(parent))
    release.set()
    witness = QWidget()
    qtbot.addWidget(witness)
    later: list[int] = []
    Op(witness, lambda: 2).success(later.append).run()  # queued after the first one
    qtbot.waitUntil(lambda: bool(later))
    assert delivered == []


def test_a_generation_drops_superseded_results(qtbot) -> None:
    parent = QWidget()
    qtbot.addWidget(parent)
    generation = Generation()
    shown: list[str] = []
    slow_may_finish = threading.Event()

    first = generation.next()
    Op(parent, lambda: slow_may_finish.wait(5) and "old").success(generation.guard(first, shown.append)).run()
    second = generation.next()
    Op(parent, lambda: "new").success(generation.guard(second, shown.append)).run()
    qtbot.waitUntil(lambda: shown == ["new"])
    slow_may_finish.set()
    done: list[bool] = []
    Op(parent, lambda: slow_may_finish.wait(5)).success(done.append).run()
    qtbot.waitUntil(lambda: bool(done))
    assert shown == ["new"]


def _alive(widget: QWidget) -> bool:
    from desktop_care.ui.qt import is_alive

    return is_alive(widget)

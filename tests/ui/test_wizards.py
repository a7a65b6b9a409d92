"""The Change status, Merge and Undo merge wizards from the member details, against the
real server: every page, Back and Next, the messages under the pages, the result, and
what the server has afterwards. ``WIZARD_SHOTS=DIR`` saves a PNG of every page."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from desktop_care.commands import ChangeStatus, MergeMembers
from desktop_care.models import (
    AccountTransaction,
    Member,
    MemberStatus,
    StatusAction,
    TxnStatus,
)
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import QRadioButton, Qt, QWidget
from desktop_care.ui.wizards.host import StepPage, WizardHost
from desktop_care.ui.wizards.merge import (
    ChooseMergePage,
    ComparePage,
    MergeConfirmPage,
    PickPage,
)
from desktop_care.ui.wizards.status import ActionPage, ReasonPage
from tests.support.servers import LiveServer
from tests.sync.workstations import server_member as on_server
from tests.ui import test_editing
from tests.ui.arrange import (
    FullMember,
    add_full_member,
    server_session,
    signed_in_client,
    unique,
)
from tests.ui.test_editing import opened

window = test_editing.window  # the same window fixture: a main window whose syncer starts stopped


def shot(widget: QWidget, name: str) -> None:
    where = os.environ.get("WIZARD_SHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        assert widget.grab().save(str(Path(where) / f"{name}.png"))


def page(host: WizardHost) -> StepPage:
    current = host.currentPage()
    assert isinstance(current, StepPage)
    return current


def next_(qtbot, host: WizardHost) -> None:
    qtbot.mouseClick(host.button(host.WizardButton.NextButton), Qt.MouseButton.LeftButton)


def confirm(qtbot, host: WizardHost) -> None:
    qtbot.mouseClick(host.button(host.WizardButton.CommitButton), Qt.MouseButton.LeftButton)


def wizard_of(qtbot, window: MainWindow, member_id: int, which: str) -> WizardHost:
    details = opened(qtbot, window, member_id)
    button = details.wizard_buttons[which]
    assert button.isVisible() and button.isEnabled(), button.toolTip()
    assert button.focusPolicy() & Qt.FocusPolicy.TabFocus and "&" in button.text()  # keyboard reachable
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    host = details.wizard
    assert host is not None
    qtbot.waitExposed(host)
    return host


def test_change_status_walks_every_page_and_the_server_applies_it(
    qtbot, window: MainWindow, sqlite_server: LiveServer
) -> None:
    member = add_full_member(sqlite_server, unique("Statham"))
    host = wizard_of(qtbot, window, member.id, "status")
    action = page(host)
    assert isinstance(action, ActionPage)
    assert set(action.radios) == {"unenroll", "deactivate"}  # only the valid actions
    assert "E-mail opt-in is turned off." in action.notes["unenroll"].text()
    shot(host, "status-1-action")
    next_(qtbot, host)
    assert host.current_step == "action" and action.error_text == "Choose what to do."
    shot(host, "status-1-action-error")
    action.radios["deactivate"].setChecked(True)
    next_(qtbot, host)
    reason = page(host)
    assert isinstance(reason, ReasonPage)
    next_(qtbot, host)
    assert reason.error_text == "Say why, in at least 3 characters."
    shot(host, "status-2-reason-error")
    host.back()
    assert host.current_step == "action" and host.machine.step == "action"
    next_(qtbot, host)
    qtbot.keyClicks(reason.reason, "Dues unpaid since March")
    shot(host, "status-2-reason")
    next_(qtbot, host)
    assert host.current_step == "summary"
    assert "Existing points, e-mail preferences and everything else are kept." in page(host).findChild(
        QWidget, "summaryEffects").text()
    shot(host, "status-3-summary")
    next_(qtbot, host)
    assert host.current_step == "confirm"
    assert page(host).findChild(QWidget, "confirmText").text() == (
        f"Deactivate account Edith {member.last_name} ({member.member_no}): Enrolled → Inactive (deactivated, "
        "on hold). Reason: Dues unpaid since March")
    shot(host, "status-4-confirm")
    confirm(qtbot, host)
    qtbot.waitUntil(lambda: host.machine.succeeded is not None)
    assert host.machine.succeeded and host.current_step == "result"
    assert page(host).findChild(QWidget, "outcomeText").text().startswith(
        f"Edith {member.last_name} ({member.member_no}) will be inactive (deactivated, on hold).")
    assert not host.button(host.WizardButton.BackButton).isVisible()
    shot(host, "status-5-result")
    assert window.workspace.store.pending_count() == 1
    window.workspace.syncer.start()
    qtbot.waitUntil(lambda: window.workspace.pending == 0, timeout=15_000)
    assert on_server(sqlite_server, member.id).status is MemberStatus.DEACTIVATED
    host.close()

    details = window.open_member(member.id)
    qtbot.waitUntil(lambda: details.member is not None and details.member.status is MemberStatus.DEACTIVATED,
                    timeout=15_000)
    again = wizard_of(qtbot, window, member.id, "status")
    only = page(again)
    assert isinstance(only, ActionPage) and set(only.radios) == {"reactivate"} and only.radios["reactivate"].isChecked()
    shot(again, "status-6-deactivated-offers-reactivate")
    again.close()


def test_a_status_changed_meanwhile_elsewhere_lands_in_sync_issues(
    qtbot, window: MainWindow, sqlite_server: LiveServer
) -> None:
    member = add_full_member(sqlite_server, unique("Twodesk"))
    host = wizard_of(qtbot, window, member.id, "status")
    action = page(host)
    assert isinstance(action, ActionPage)
    action.radios["unenroll"].setChecked(True)
    next_(qtbot, host)
    qtbot.keyClicks(page(host).findChild(QWidget, "reasonEdit"), "Moved abroad")
    next_(qtbot, host)
    next_(qtbot, host)
    confirm(qtbot, host)
    qtbot.waitUntil(lambda: host.machine.succeeded is not None)
    assert window.workspace.store.pending_count() == 1  # queued: the syncer is not running (offline-like)
    host.close()
    # Meanwhile, at another desk, someone deactivates the same member.
    other = signed_in_client(sqlite_server)
    seen = on_server(sqlite_server, member.id)
    [result] = other.push([ChangeStatus(member_id=member.id, base_version=seen.version, origin="other-desk",
                                        status_action=StatusAction.DEACTIVATE, reason="dues unpaid")])
    assert result.status.value == "applied"
    window.workspace.syncer.start()
    qtbot.waitUntil(lambda: window.workspace.issue_count == 1, timeout=15_000)
    [issue] = window.workspace.issues()
    assert (issue.kind, issue.status) == ("change_status", "conflict")
    assert issue.theirs["status"] == "deactivated" and issue.mine["values"]["status"] == "inactive"
    assert on_server(sqlite_server, member.id).status is MemberStatus.DEACTIVATED  # nothing overwritten
    panel = window.show_sync_issues()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    panel.select(issue.id)
    assert panel.keep_mine_button.isEnabled() and not panel.edit_button.isEnabled()
    shot(panel, "status-conflict-in-sync-issues")


def mergeable(server: LiveServer, surname: str, email: str | None = None) -> FullMember:
    """A full member with its pending charges settled (pending ones refuse a merge)."""
    member = add_full_member(server, surname)
    with server_session(server) as s:
        row = s.get(Member, member.id)
        assert row is not None
        for txn in s.scalars(select(AccountTransaction).where(AccountTransaction.member_id == member.id,
                                                               AccountTransaction.status == TxnStatus.PENDING)):
            txn.status = TxnStatus.SETTLED
        row.account_balance_cents += row.pending_cents
        row.pending_count = row.pending_cents = 0
        if email is not None:
            row.email = email
        s.commit()
    return member


def _pick(qtbot, host: WizardHost, query: str, rows: int = 1) -> PickPage:
    pick = page(host)
    assert isinstance(pick, PickPage)
    pick.search.set_query(query)
    qtbot.waitUntil(lambda: pick.search.model.rowCount() == rows and not pick.search.model.loading)
    return pick


def test_merge_then_undo_from_the_survivor(qtbot, window: MainWindow, sqlite_server: LiveServer) -> None:
    surname = unique("Mergison")
    current, other = mergeable(sqlite_server, surname), mergeable(sqlite_server, surname, "edith@example.net")
    host = wizard_of(qtbot, window, current.id, "merge")
    pick = _pick(qtbot, host, surname, rows=2)
    shot(host, "merge-1-pick")
    next_(qtbot, host)
    assert pick.error_text == "Find and choose the other member."
    pick.search.table.selectAll()
    next_(qtbot, host)
    assert pick.error_text.startswith("Two members are merged at a time")
    shot(host, "merge-1-pick-two-selected")
    row = next(r for r in range(2) if pick.search.model.summary(r).id == other.id)
    pick.search.table.selectRow(row)
    qtbot.waitUntil(lambda: pick.status.text().startswith("Ready:"))
    shot(host, "merge-1-pick-ready")
    next_(qtbot, host)
    compare = page(host)
    assert isinstance(compare, ComparePage)
    assert compare.emails.isVisible()
    next_(qtbot, host)
    assert compare.error_text == (f"The e-mail addresses differ (edith.{surname.lower()}@example.org and "
                                  "edith@example.net): confirm that both belong to the same person.")
    shot(host, "merge-2-compare-emails-differ")
    compare.emails.setChecked(True)
    next_(qtbot, host)
    assert host.current_step == "plan"
    host.back()
    assert host.current_step == "compare" and compare.emails.isChecked()
    email = compare.combos["email"]
    assert email.currentData() == "survivor"
    email.setCurrentIndex(email.findData("merged"))
    shot(host, "merge-2-compare")
    next_(qtbot, host)
    assert host.current_step == "plan"
    moves = page(host).findChild(QWidget, "planMoves").text()
    assert "Points ledger entries: 1" in moves and "Portal users: 2" in moves and "Account transactions: 3" in moves
    shot(host, "merge-3-plan")
    next_(qtbot, host)
    confirm_page = page(host)
    assert isinstance(confirm_page, MergeConfirmPage)
    qtbot.keyClicks(confirm_page.typed, "123")
    confirm(qtbot, host)
    assert confirm_page.error_text == f"Type the surviving member's ID, {other.member_no}, to confirm."
    shot(host, "merge-4-confirm-error")
    confirm_page.typed.clear()
    qtbot.keyClicks(confirm_page.typed, other.member_no)
    confirm(qtbot, host)
    qtbot.waitUntil(lambda: host.machine.succeeded is not None, timeout=15_000)
    assert host.machine.succeeded, host.machine.outcome
    shot(host, "merge-5-result")
    gone, kept = on_server(sqlite_server, current.id), on_server(sqlite_server, other.id)
    assert (gone.status, gone.merged_into_id, gone.points_balance) == (MemberStatus.MERGED, other.id, 0)
    assert (kept.points_balance, kept.email) == (2500, f"edith.{surname.lower()}@example.org")
    host.close()

    undo = wizard_of(qtbot, window, other.id, "undo")
    choose = page(undo)
    assert isinstance(choose, ChooseMergePage)
    qtbot.waitUntil(lambda: bool(choose.radios))
    assert [r.isChecked() for r in choose.radios.values()] == [True]
    shot(undo, "undo-1-choose")
    next_(qtbot, undo)
    assert undo.current_step == "confirm"
    shot(undo, "undo-2-confirm")
    confirm(qtbot, undo)
    qtbot.waitUntil(lambda: undo.machine.succeeded is not None, timeout=15_000)
    assert undo.machine.succeeded, undo.machine.outcome
    shot(undo, "undo-3-result")
    back, survivor = on_server(sqlite_server, current.id), on_server(sqlite_server, other.id)
    assert (back.status, back.merged_into_id, back.points_balance, survivor.points_balance) == (
        MemberStatus.ENROLLED, None, 1250, 1250)
    undo.close()


def test_a_refused_merge_says_why_and_cancel_changes_nothing(
    qtbot, window: MainWindow, sqlite_server: LiveServer
) -> None:
    surname = unique("Refuso")
    current, closed = mergeable(sqlite_server, surname), mergeable(sqlite_server, surname)
    with server_session(sqlite_server) as s:
        row = s.get(Member, closed.id)
        assert row is not None
        row.status = MemberStatus.INACTIVE
        s.commit()
    host = wizard_of(qtbot, window, current.id, "merge")
    pick = _pick(qtbot, host, closed.member_no)
    pick.search.table.selectRow(0)
    qtbot.waitUntil(lambda: pick.error_text != "")
    assert pick.error_text == (f"The surviving member must be enrolled; Edith {surname} ({closed.member_no}) is "
                               "inactive (un-enrolled).")
    shot(host, "merge-refused")
    next_(qtbot, host)
    assert host.current_step == "pick"
    pick.into_current.setChecked(True)  # the other way round: the closed one is merged into this one
    qtbot.waitUntil(lambda: pick.status.text().startswith("Ready:"))
    next_(qtbot, host)
    assert host.current_step == "compare"
    host.reject()  # Cancel
    assert on_server(sqlite_server, closed.id).status is MemberStatus.INACTIVE
    assert on_server(sqlite_server, current.id).points_balance == 1250


def test_merge_and_undo_are_disabled_offline_with_the_reason(qtbot, window: MainWindow,
                                                            sqlite_server: LiveServer) -> None:
    member: FullMember = add_full_member(sqlite_server, unique("Offlina"))
    details = opened(qtbot, window, member.id)
    assert details.wizard_buttons["merge"].isEnabled()
    window.workspace._online = False  # as after a request that found no server
    assert details.member is not None
    details._loaded(details.member)  # shown again (a refresh), now offline
    assert not details.wizard_buttons["merge"].isEnabled()
    assert details.wizard_buttons["merge"].toolTip() == "Merge members needs the server, and this computer is offline"
    assert not details.wizard_buttons["undo"].isEnabled()
    assert details.wizard_buttons["status"].isEnabled()  # queueable
    shot(details, "details-offline-buttons")
    found = details.findChildren(QRadioButton)
    assert found == []


def test_enroll_of_a_merged_member_undoes_the_merge(qtbot, window: MainWindow, sqlite_server: LiveServer) -> None:
    surname = unique("Reborn")
    merged, survivor = mergeable(sqlite_server, surname), mergeable(sqlite_server, surname)
    client = signed_in_client(sqlite_server)
    plan = client.merge_plan(merged.id, survivor.id)
    result = client.run_command(MergeMembers(
        member_id=merged.id, base_version=plan.merged.version, into_member_id=survivor.id,
        into_base_version=plan.survivor.version, confirm_member_no=survivor.member_no))
    assert result.status.value == "applied", result.reason
    details = opened(qtbot, window, merged.id)
    assert details.member is not None and details.member.status is MemberStatus.MERGED
    assert not details.wizard_buttons["merge"].isEnabled()
    assert "undo that merge" in details.wizard_buttons["merge"].toolTip()
    host = wizard_of(qtbot, window, merged.id, "status")
    action = page(host)
    assert isinstance(action, ActionPage) and set(action.radios) == {"enroll"}
    qtbot.waitUntil(lambda: action.radios["enroll"].isEnabled())  # the server says it can be undone
    assert "The merge that merged this member away is undone" in action.notes["enroll"].text()
    shot(host, "status-merged-enroll-is-undo")
    next_(qtbot, host)
    qtbot.keyClicks(page(host).findChild(QWidget, "reasonEdit"), "Not the same person")
    next_(qtbot, host)
    assert "Points ledger entries move back: 1." in page(host).findChild(QWidget, "summaryEffects").text()
    next_(qtbot, host)
    confirm(qtbot, host)
    qtbot.waitUntil(lambda: host.machine.succeeded is not None, timeout=15_000)
    assert host.machine.succeeded, host.machine.outcome
    back = on_server(sqlite_server, merged.id)
    assert (back.status, back.merged_into_id, back.points_balance) == (MemberStatus.ENROLLED, None, 1250)
    assert on_server(sqlite_server, survivor.id).points_balance == 1250
    host.close()

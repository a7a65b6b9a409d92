"""The wizards' state machines, headless and step by step: every (status, action) pair,
every transition forwards and back, every refusal with its words."""

from __future__ import annotations

import datetime as dt

import pytest

from desktop_care.commands import ChangeStatus, MergeMembers, Status, UndoMerge
from desktop_care.commands.merge import (
    FieldRow,
    MemberSide,
    MergeInfo,
    MergePlan,
    MoveCount,
)
from desktop_care.commands.merge_wizard import MergeWizard, UndoMergeWizard
from desktop_care.commands.runner import CommandResult
from desktop_care.commands.status_wizard import StatusWizard
from desktop_care.commands.wizard import MemberFacts
from desktop_care.models import MemberStatus
from desktop_care.models.status import (
    ACTIONS,
    StatusAction,
    StatusRefused,
    refusal,
    transition,
)

S, A = MemberStatus, StatusAction

#: The whole machine: (status, action) → new status, or None when refused.
EXPECTED: dict[tuple[MemberStatus, StatusAction], MemberStatus | None] = {
    (S.ENROLLED, A.ENROLL): None, (S.ENROLLED, A.UNENROLL): S.INACTIVE,
    (S.ENROLLED, A.DEACTIVATE): S.DEACTIVATED, (S.ENROLLED, A.REACTIVATE): None,
    (S.ACTIVE, A.ENROLL): S.ENROLLED, (S.ACTIVE, A.UNENROLL): S.INACTIVE,
    (S.ACTIVE, A.DEACTIVATE): S.DEACTIVATED, (S.ACTIVE, A.REACTIVATE): None,
    (S.INACTIVE, A.ENROLL): S.ENROLLED, (S.INACTIVE, A.UNENROLL): None,
    (S.INACTIVE, A.DEACTIVATE): None, (S.INACTIVE, A.REACTIVATE): None,
    (S.DEACTIVATED, A.ENROLL): None, (S.DEACTIVATED, A.UNENROLL): None,
    (S.DEACTIVATED, A.DEACTIVATE): None, (S.DEACTIVATED, A.REACTIVATE): S.ENROLLED,
    (S.MERGED, A.ENROLL): S.ENROLLED, (S.MERGED, A.UNENROLL): None,
    (S.MERGED, A.DEACTIVATE): None, (S.MERGED, A.REACTIVATE): None,
}


def facts(status: MemberStatus = S.ENROLLED, **extra: object) -> MemberFacts:
    return MemberFacts(id=7, member_no="1000007", name="Jo Bloggs", status=status, version=3,
                       **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "action"), list(EXPECTED))
def test_every_status_and_action(status: MemberStatus, action: StatusAction) -> None:
    expected = EXPECTED[(status, action)]
    if expected is None:
        assert refusal(status, action)
        with pytest.raises(StatusRefused):
            transition(status, action)
        assert action not in ACTIONS[status]
    else:
        t = transition(status, action, S.ENROLLED)
        assert t.after is expected and action in ACTIONS[status]
        assert t.email_opt_out is (action is A.UNENROLL)
        assert t.status_before_hold == (status if action is A.DEACTIVATE else None)
        assert t.undoes_merge is (status is S.MERGED)


def test_refusals_in_words() -> None:
    assert refusal(S.DEACTIVATED, A.ENROLL) == (
        "Enroll is not possible: the account is deactivated, and Reactivate is the only valid action")
    assert refusal(S.ENROLLED, A.ENROLL) == "the member is already enrolled"
    assert refusal(S.INACTIVE, A.REACTIVATE) == (
        "only a deactivated account can be reactivated; this one is inactive (un-enrolled)")
    assert refusal(S.INACTIVE, A.DEACTIVATE) == (
        "Deactivate account is not possible for a member who is inactive (un-enrolled)")


def test_reactivate_restores_the_status_before_the_hold() -> None:
    hold = transition(S.ACTIVE, A.DEACTIVATE)
    assert (hold.after, hold.status_before_hold) == (S.DEACTIVATED, S.ACTIVE)
    assert transition(S.DEACTIVATED, A.REACTIVATE, S.ACTIVE).after is S.ACTIVE
    assert transition(S.DEACTIVATED, A.REACTIVATE, None).after is S.ENROLLED


def test_status_wizard_walks_forwards_and_back() -> None:
    wizard = StatusWizard(facts(S.ENROLLED))
    assert [o.action for o in wizard.options()] == [A.UNENROLL, A.DEACTIVATE]
    assert wizard.next() == "action" and wizard.error == "Choose what to do."
    wizard.action = A.REACTIVATE  # not offered: the rules refuse it anyway
    assert wizard.next() == "action" and wizard.error == (
        "Reactivate is not possible for a member who is enrolled.")
    wizard.action = A.UNENROLL
    assert wizard.next() == "reason" and wizard.error == ""
    wizard.reason = "  no "
    assert wizard.next() == "reason" and wizard.error == "Say why, in at least 3 characters."
    assert wizard.error_field == "reason"
    wizard.reason = "  Moved   abroad "
    assert wizard.next() == "summary" and wizard.reason == "Moved abroad"
    assert "E-mail opt-in is turned off." in wizard.effects()
    assert wizard.back() == "reason" and wizard.back() == "action" and not wizard.can_go_back
    wizard.action = A.DEACTIVATE
    for expected in ("reason", "summary", "confirm"):
        assert wizard.next() == expected
    assert wizard.confirmation() == (
        "Deactivate account Jo Bloggs (1000007): Enrolled → Inactive (deactivated, on hold). Reason: Moved abroad")
    assert wizard.next() == "result" and wizard.finished and not wizard.can_go_back
    command = wizard.command()
    assert isinstance(command, ChangeStatus) and not wizard.online_only
    assert (command.member_id, command.base_version, command.status_action) == (7, 3, A.DEACTIVATE)
    wizard.finish(None)
    assert wizard.succeeded and wizard.outcome.startswith("Jo Bloggs (1000007) will be inactive (deactivated")


def test_status_wizard_on_a_deactivated_member_offers_only_reactivate() -> None:
    wizard = StatusWizard(facts(S.DEACTIVATED, status_before_hold=S.ACTIVE))
    assert [o.action for o in wizard.options()] == [A.REACTIVATE]
    wizard.action, wizard.reason = A.REACTIVATE, "Dues paid"
    wizard.next(), wizard.next()
    assert wizard.new_status is S.ACTIVE
    wizard.next(), wizard.next()
    wizard.finish(CommandResult(op_id="x", status=Status.REJECTED, reason="changed by someone else since: status"))
    assert wizard.succeeded is False
    assert wizard.outcome == "The server refused it: Changed by someone else since: status"


def _info(refused: str | None = None) -> MergeInfo:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    side = MemberSide(id=9, member_no="1000009", name="Jo Bloggs", status=S.ENROLLED, version=5, email="")
    return MergeInfo(id=4, merged=MemberSide(id=7, member_no="1000007", name="Jo Bloggs", status=S.MERGED,
                                             version=4, email=""),
                     survivor=side, created_at=now, actor_name="ada", undone_at=None,
                     restores=["Points ledger entries move back: 12."], undo_refusal=refused,
                     undo_until=now + dt.timedelta(days=30))


def test_enroll_of_a_merged_member_is_the_merges_undo() -> None:
    offline = StatusWizard(facts(S.MERGED, merged_into_id=9), online=False)
    offline.action = A.ENROLL
    offline.next()
    assert offline.error == ("Enrolling a merged member undoes the merge, which needs the server; this computer "
                             "is offline.")
    wizard = StatusWizard(facts(S.MERGED, merged_into_id=9))
    wizard.action = A.ENROLL
    assert wizard.next() == "action" and wizard.error == "Checking whether the merge can be undone…"
    wizard.merge_loaded = True
    wizard.next()
    assert wizard.error == "No merge of this member is on record, so it cannot be enrolled again."
    wizard.merge = _info("Jo Bloggs (1000009) has changed since the merge: undoing it now would lose that change.")
    wizard.next()
    assert wizard.error.startswith("Jo Bloggs (1000009) has changed since the merge")
    wizard.merge = _info()
    wizard.reason = "Merged by mistake"
    for expected in ("reason", "summary", "confirm", "result"):
        assert wizard.next() == expected
    assert "Points ledger entries move back: 12." in wizard.effects()
    command = wizard.command()
    assert isinstance(command, UndoMerge) and wizard.online_only
    assert (command.member_id, command.merge_id, command.survivor_id) == (7, 4, 9)
    assert wizard.new_status is S.ENROLLED
    wizard.merge = _info().model_copy(update={"merged_status_before": S.ACTIVE})
    assert wizard.new_status is S.ACTIVE  # an undo gives back the status it had, whatever it was
    assert wizard.confirmation() == "Enroll Jo Bloggs (1000007): Merged → Active. Reason: Merged by mistake"


def _plan(emails_differ: bool = False, refusals: list[str] | None = None, merged: int = 7,
          survivor: int = 9) -> MergePlan:
    def side(i: int) -> MemberSide:
        return MemberSide(id=i, member_no=f"100000{i}", name="Jo Bloggs", status=S.ENROLLED, version=i,
                          email=f"jo{i}@example.org")
    return MergePlan(
        merged=side(merged), survivor=side(survivor),
        fields=[FieldRow(field="email", label="E-mail", merged="jo7@example.org", survivor="jo9@example.org",
                         differs=True, choosable=True),
                FieldRow(field="points_balance", label="Points", merged="10", survivor="5", differs=True,
                         choosable=False, result="15")],
        moves=[MoveCount(key="points_entry.member_id", label="points ledger entries", count=2)],
        points_after=15, balance_after_cents=0, emails_differ=emails_differ, refusals=refusals or [])


def test_merge_wizard_every_step_and_refusal() -> None:
    wizard = MergeWizard(facts(S.ENROLLED))
    assert wizard.next() == "pick" and wizard.error == "Find and choose the other member."
    wizard.pick([facts(S.ENROLLED), facts(S.ENROLLED)])
    wizard.next()
    assert wizard.error.startswith("Two members are merged at a time")
    wizard.pick([facts(S.ENROLLED)])
    wizard.next()
    assert wizard.error == "A member cannot be merged into itself."
    other = MemberFacts(id=9, member_no="1000009", name="Jo Bloggs", status=S.ENROLLED, version=9)
    wizard.pick([other])
    assert wizard.pair() == (7, 9)
    wizard.next()
    assert wizard.error == "The server's view of both members has not arrived yet."
    wizard.plan = _plan(refusals=["Jo Bloggs (1000009) belongs to a staff account; staff accounts are never merged."])
    wizard.next()
    assert wizard.error == "Jo Bloggs (1000009) belongs to a staff account; staff accounts are never merged."
    wizard.set_direction("into_current")
    assert wizard.pair() == (9, 7) and wizard.plan is None  # the plan was for the other direction
    wizard.set_direction("into_other")
    wizard.plan = _plan(emails_differ=True)
    assert wizard.next() == "compare"
    assert wizard.next() == "compare" and wizard.error_field == "emails_confirmed"
    wizard.emails_confirmed = True
    with pytest.raises(Exception, match="cannot be chosen"):
        wizard.choose("points_balance", "merged")
    wizard.choose("email", "merged")
    assert wizard.surviving_values() == {"email": "jo7@example.org", "points_balance": "15"}
    assert wizard.next() == "plan" and wizard.next() == "confirm"
    wizard.typed_member_no = "1000007"
    assert wizard.next() == "confirm" and wizard.error == "Type the surviving member's ID, 1000009, to confirm."
    assert wizard.back() == "plan" and wizard.next() == "confirm"
    wizard.typed_member_no = " 1000009 "
    assert wizard.next() == "result"
    command = wizard.command()
    assert isinstance(command, MergeMembers) and wizard.online_only
    assert (command.member_id, command.into_member_id, command.base_version, command.into_base_version) == (7, 9, 7, 9)
    assert command.choices == {"email": "merged"} and command.confirm_different_emails
    wizard.finish(CommandResult(op_id="x", status=Status.APPLIED))
    assert wizard.succeeded and wizard.outcome.startswith("Jo Bloggs (1000007) was merged into Jo Bloggs (1000009).")


def test_undo_merge_wizard() -> None:
    wizard = UndoMergeWizard(facts(S.ENROLLED))
    assert wizard.next() == "choose" and wizard.error == "The member's merges have not arrived yet."
    wizard.merges = []
    wizard.next()
    assert wizard.error == "Jo Bloggs (1000007) has not been merged with anyone."
    wizard.merges = [_info("This merge was already undone on 01 Dec 2026 by ada.")]
    wizard.next()
    assert wizard.error == "Choose the merge to undo."
    wizard.chosen = 4
    wizard.next()
    assert wizard.error == "This merge was already undone on 01 Dec 2026 by ada."
    wizard.merges = [_info()]
    assert wizard.undoable() == wizard.merges
    assert wizard.next() == "confirm" and wizard.next() == "result"
    command = wizard.command()
    assert isinstance(command, UndoMerge) and (command.member_id, command.survivor_id) == (7, 9)

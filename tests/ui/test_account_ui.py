"""Account work from the member's details against the real server: Edit info with every
address kind, Block for payment (queued offline, pending, then on the server), and the
Points and Timeline tabs with their empty and error states.

Set ``DESKTOP_CARE_SHOTS=/some/dir`` to keep a PNG of every screen these tests reach.
"""

from __future__ import annotations

from sqlalchemy import select

from desktop_care.models import Address, AddressKind, AuditEvent, Member
from desktop_care.schemas import TimelineKind
from desktop_care.sync.api_client import ApiClient
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.activity import PointsTab
from desktop_care.ui.members.details_dialog import MemberDetailsDialog
from desktop_care.ui.members.editing import BlockForPaymentDialog, EditContactDialog
from desktop_care.ui.members.timeline import TimelineTab
from desktop_care.ui.qt import QLabel, Qt
from desktop_care.ui.session import StaffSession
from tests.support.servers import LiveServer
from tests.sync.workstations import server_member as on_server
from tests.ui.arrange import FullMember, add_members, server_session, shot, unique
from tests.ui.test_editing import member, opened, window  # noqa: F401 (fixtures)


def fill(editor: EditContactDialog, **values: str) -> None:
    for name, value in values.items():
        edit = editor.fields[name.replace("__", ".")].edit
        edit.setText(value)


def synced(qtbot, window: MainWindow, details: MemberDetailsDialog) -> None:
    window.workspace.syncer.start()
    qtbot.waitUntil(lambda: details.pending_mark == "" and window.workspace.pending == 0, timeout=15_000)


def test_edit_info_sets_postal_and_billing_addresses_and_a_normalised_phone(
    qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer
) -> None:
    details = opened(qtbot, window, member.id)
    editor = details.open_editor(EditContactDialog)
    assert isinstance(editor, EditContactDialog)
    assert editor.fields["phone"].edit.text() == "0131 496 0000"  # national form of the stored +441314960000
    labels = [label.text() for label in editor.findChildren(QLabel)]
    assert "First name *:" in labels and "Town or city *:" in labels and "* required" in labels
    assert "cannot be changed" in labels
    shot(editor, "edit-info")

    fill(editor, phone="0131 496 0999", postal__line1="PO Box 41", postal__city="Kelso", postal__postcode="td57ab",
         billing__line1="3 Rue de la Paix", billing__city="Paris", billing__postcode="75002", billing__country="fr")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: details.pending_mark == "⟳ 1 change waiting to sync")
    assert details.findChild(QLabel, "phone").text() == "0131 496 0999"
    synced(qtbot, window, details)

    on = on_server(sqlite_server, member.id)
    assert on.phone == "+441314960999"
    with server_session(sqlite_server) as session:
        rows = session.scalars(select(Address).where(Address.member_id == member.id)).all()
        kinds = {a.kind: (a.line1, a.postcode, a.country) for a in rows}
    assert kinds[AddressKind.POSTAL] == ("PO Box 41", "TD5 7AB", "GB")
    assert kinds[AddressKind.BILLING] == ("3 Rue de la Paix", "75002", "FR")
    assert window.search_view is not None


def test_edit_info_tells_bad_phones_postcodes_and_missing_lines_under_the_fields(
    qtbot, window: MainWindow, member: FullMember
) -> None:
    details = opened(qtbot, window, member.id)
    editor = details.open_editor(EditContactDialog)
    assert isinstance(editor, EditContactDialog)
    fill(editor, phone="01632 960000", last_name=" ", postal__line1="PO Box 41", postal__postcode="KELSO",
         billing__city="Paris", billing__country="ZZ")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    errors = editor.errors()
    assert errors == {
        "phone": "Phone is not a valid phone number in GB (check the digits and the country code).",
        "last_name": "Last name is required.",
        "postal.city": "Town or city is required.",
        "postal.postcode": "Postcode is not a UK postcode (for example SW1A 1AA).",
        "billing.line1": "Address line 1 is required.",
        "billing.country": "Country must be a two-letter country code such as GB or FR.",
    }
    assert editor.isVisible() and window.workspace.store.pending_count() == 0
    shot(editor, "edit-info-errors")


def test_block_for_payment_is_queued_offline_shown_at_once_and_lifted(
    qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer
) -> None:
    details = opened(qtbot, window, member.id)
    assert details.block_button.text() == "Block for payment…" and details.block_text == ""
    dialog = details.open_editor(BlockForPaymentDialog)
    assert isinstance(dialog, BlockForPaymentDialog)
    explanation = dialog.findChild(QLabel, "blockExplanation").text()
    assert "can still sign in to the portal" in explanation and "renew their membership and pay" in explanation
    assert "not Revoke" in dialog.findChild(QLabel, "notRevoke").text()
    assert "cannot sign in at all, so cannot pay" in dialog.findChild(QLabel, "notRevoke").text()
    assert dialog.findChild(QLabel, "owed").text() == "Account balance: £42.00 · pending 2 (£30.00)"
    shot(dialog, "block-for-payment")

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.errors() == {"reason": "Reason must say why the member is blocked, in at least 3 characters."}
    shot(dialog, "block-for-payment-error")
    dialog.reason.setText("Membership 2026 unpaid")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    # Queued (the syncer is stopped: as offline): pending, and the banner at once.
    qtbot.waitUntil(lambda: details.pending_mark == "⟳ 1 change waiting to sync")
    assert details.block_text == ("Blocked for payment (waiting to sync): Membership 2026 unpaid. "
                                  "The member can sign in to the portal only to renew and pay.")
    assert [c.kind for c in window.workspace.store.queued()] == ["block_for_payment"]
    assert on_server(sqlite_server, member.id).blocked_for_balance is False
    assert details.block_banner is not None and details.block_banner.isVisible()
    assert details.pending_label is not None and details.pending_label.isVisible()
    shot(details, "details-blocked-pending")

    synced(qtbot, window, details)
    on = on_server(sqlite_server, member.id)
    assert (on.blocked_for_balance, on.blocked_reason) == (True, "Membership 2026 unpaid")
    qtbot.waitUntil(lambda: " by " in details.block_text)
    assert details.block_text.startswith("Blocked for payment since ")
    assert details.block_button.text() == "Lift block…"
    assert details.findChild(QLabel, "status").text() == "Enrolled · Blocked for payment"
    shot(details, "details-blocked")

    window.search_view.set_query(member.last_name)
    qtbot.waitUntil(lambda: window.search_view.model.rowCount() == 1)
    status = window.search_view.model.index(0, 3).data()
    assert status == "Enrolled · Blocked for payment"

    lift = details.open_editor(BlockForPaymentDialog)
    assert isinstance(lift, BlockForPaymentDialog) and not lift.blocking
    assert lift.save_button.text() == "Lift block"
    assert "Membership 2026 unpaid" in lift.findChild(QLabel, "blockedSince").text()
    shot(lift, "lift-block")
    lift.reason.setText("Paid by phone")
    qtbot.mouseClick(lift.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: details.block_text == "", timeout=15_000)
    qtbot.waitUntil(lambda: window.workspace.pending == 0, timeout=15_000)
    assert on_server(sqlite_server, member.id).blocked_for_balance is False


def test_points_tab_lists_the_ledger_newest_first_and_follows_an_adjustment(
    qtbot, window: MainWindow, member: FullMember
) -> None:
    details = opened(qtbot, window, member.id)
    details.show_tab("Points")
    tab = details.points_tab
    qtbot.waitUntil(lambda: tab.loaded)
    assert [row[1:] for row in tab.rows()] == [["System", "Base", "+1,250", "joining bonus"]]
    assert tab.count_label.text() == "1 ledger entry"
    shot(details, "points-tab")

    from desktop_care.commands import AdjustPoints
    from desktop_care.models import PointsType

    window.workspace.submit(AdjustPoints(member_id=member.id, delta=-250, points_type=PointsType.REDEMPTION,
                                         reason="Voucher for the show"))
    synced(qtbot, window, details)
    qtbot.waitUntil(lambda: len(tab.rows()) == 2, timeout=15_000)
    name = window.session.staff.display_name or window.session.staff.username
    assert tab.rows()[0][1:] == [name, "Redemption", "-250", "Voucher for the show"]


def test_points_tab_empty_and_unreachable_states(qtbot, sqlite_server: LiveServer, session: StaffSession) -> None:
    [nobody] = add_members(sqlite_server, unique("Empty"), 1)
    tab = PointsTab(session.client, nobody)
    qtbot.addWidget(tab)
    tab.resize(720, 320)
    tab.show()
    tab.ensure_loaded()
    qtbot.waitUntil(lambda: tab.loaded)
    assert tab.state.title.text() == "No points yet." and tab.stack.currentIndex() == 0
    shot(tab, "points-tab-empty")

    gone = ApiClient("http://127.0.0.1:9", retries=0)
    gone.token = "whatever"
    broken = TimelineTab(gone, nobody)
    qtbot.addWidget(broken)
    broken.resize(720, 320)
    broken.show()
    broken.ensure_loaded()
    qtbot.waitUntil(lambda: not broken.loading)
    assert broken.state.title.text() == "The timeline could not be loaded."
    assert "server" in broken.state.body.text().lower()  # it needs the server, and says so
    assert broken.state.retry_button.isVisible()
    shot(broken, "timeline-tab-unreachable")


def test_the_timeline_says_who_and_what_changed_and_a_chip_filters_it(
    qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer
) -> None:
    details = opened(qtbot, window, member.id)
    editor = details.open_editor(EditContactDialog)
    assert isinstance(editor, EditContactDialog)
    fill(editor, email="edith.new@example.org")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: details.pending_mark != "")
    synced(qtbot, window, details)
    with server_session(sqlite_server) as session:
        from desktop_care.models import record

        record(session, actor_user_id=None, actor_name="mailer", action="mail.queued", entity_type="member",
               entity_id=member.id, details={"template": "renewal_reminder", "to": "edith.new@example.org"})
        session.commit()

    details.show_tab("Timeline")
    tab = details.history_tab
    qtbot.waitUntil(lambda: tab.loaded and not tab.loading, timeout=15_000)
    rows = tab.rows()
    mail, edit = rows[0], next(r for r in rows if r[3] == "Edit contact details")
    name = window.session.staff.display_name or window.session.staff.username
    assert mail[1:4] == ["Mail", "mailer", "E-mail “renewal reminder” to edith.new@example.org — queued"]
    assert edit[1:3] == ["Account", name]
    assert edit[4] == f"E-mail: edith.{member.last_name.lower()}@example.org → edith.new@example.org"
    assert window.workspace.store.workstation_id in tab.table.item(rows.index(edit), 0).toolTip()
    shot(details, "timeline-tab")

    qtbot.mouseClick(tab.chips[TimelineKind.MAIL], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.loading and tab.rows() and all(r[1] == "Mail" for r in tab.rows()))
    assert tab.chips[TimelineKind.MAIL].text() == "Mail 1" and not tab.all_chip.isChecked()
    qtbot.mouseClick(tab.chips[TimelineKind.MAIL], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tab.chips[TimelineKind.ANIMALS], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.loading and tab.stack.currentIndex() == 0 and tab.kinds == [TimelineKind.ANIMALS])
    assert tab.state.title.text() == "Nothing of this kind yet."
    shot(details, "timeline-tab-filtered-empty")
    with server_session(sqlite_server) as session:
        audited = session.scalars(select(AuditEvent.origin).where(
            AuditEvent.entity_id == str(member.id), AuditEvent.action == "member.update_contact")).one()
    assert audited == window.workspace.store.workstation_id
    assert isinstance(on_server(sqlite_server, member.id), Member)


def test_the_tabs_and_the_account_actions_answer_the_keyboard(qtbot, window: MainWindow, member: FullMember) -> None:
    details = opened(qtbot, window, member.id)
    details.activateWindow()
    qtbot.waitUntil(details.isActiveWindow)
    qtbot.keyClick(details, Qt.Key.Key_3, Qt.KeyboardModifier.AltModifier)
    assert details.tabs.currentWidget() is details.history_tab
    qtbot.waitUntil(lambda: details.history_tab.loaded)
    qtbot.keyClick(details, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert details.tabs.currentWidget() is details.points_tab
    qtbot.keyClick(details, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    assert isinstance(details.edit_dialog, BlockForPaymentDialog)
    details.edit_dialog.close()
    qtbot.waitUntil(lambda: details.edit_dialog is None)
    details.activateWindow()
    qtbot.waitUntil(details.isActiveWindow)
    qtbot.keyClick(details, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert isinstance(details.edit_dialog, EditContactDialog)
    assert details.block_button.toolTip() == "Block for payment (Ctrl+B)"


def test_a_stale_block_that_conflicts_shows_both_versions_in_sync_issues(
    qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer
) -> None:
    from desktop_care.commands import BlockForPayment
    from desktop_care.ui.sync_view import compare_rows

    details = opened(qtbot, window, member.id)
    assert details.member is not None
    # Someone else blocks the member first, on the server.
    other = signed_in_elsewhere(sqlite_server)
    first = BlockForPayment(member_id=member.id, base_version=details.member.version, blocked=True,
                            reason="Cheque bounced", origin="ws-elsewhere")
    assert other.push([first])[0].status == "applied"
    window.workspace.submit(BlockForPayment(member_id=member.id, base_version=details.member.version,
                                            blocked=True, reason="Membership unpaid"))
    window.workspace.syncer.start()
    qtbot.waitUntil(lambda: window.workspace.issue_count == 1, timeout=15_000)
    [issue] = window.workspace.issues()
    assert issue.status == "conflict"
    rows = compare_rows(issue)
    assert ("Reason for the block", "Membership unpaid", "Cheque bounced") in rows
    assert ("Blocked for payment", "Yes", "Yes") in rows


def signed_in_elsewhere(server: LiveServer) -> ApiClient:
    from tests.ui.arrange import signed_in_client

    return signed_in_client(server)

"""Fraud stop in the console against the real server: the red FRAUD-STOP on a member's
details blocks its last sign-in address in two clicks; the Fraud stop page lists it,
shows bad input under the fields, and lifts it with a reason. Set
``DESKTOP_CARE_SHOTS=/some/dir`` to keep the PNGs."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select

from desktop_care.models import AuditEvent, PortalSession, User, utcnow
from desktop_care.models.fraud import BlockState, FraudBlock
from desktop_care.ui.fraud.dialogs import AddBlockDialog, FraudStopDialog, LiftBlockDialog
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.qt import Qt
from tests.support.servers import LiveServer
from tests.ui.arrange import FullMember, server_session, shot
from tests.ui.test_editing import member, opened, window  # noqa: F401 (fixtures)


def _signed_in_from(server: LiveServer, member_id: int, address: str) -> None:
    """The member's portal user signed in from ``address`` (as the portal records it)."""
    with server_session(server) as db:
        user = db.scalar(select(User).where(User.member_id == member_id).order_by(User.id).limit(1))
        assert user is not None
        now = utcnow()
        db.add(PortalSession(token_hash=f"{random.getrandbits(256):064x}", user_id=user.id,
                             created_at=now - dt.timedelta(hours=1), expires_at=now + dt.timedelta(hours=1),
                             client_address=address))
        db.commit()


def test_fraud_stop_blocks_the_members_address_in_two_clicks_and_the_page_lists_and_lifts_it(
        qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer) -> None:
    address = f"198.51.{random.randint(0, 255)}.{random.randint(1, 254)}"
    _signed_in_from(sqlite_server, member.id, address)
    details = opened(qtbot, window, member.id)
    button = details.fraud_stop_button
    assert button.isVisible() and button.isEnabled() and button.text() == "FRAUD-STOP"
    shot(details, "fraud-stop-button")

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # click one
    dialog = details.fraud_stop_dialog
    assert isinstance(dialog, FraudStopDialog)
    qtbot.waitUntil(lambda: dialog.confirm_button.isEnabled(), timeout=10_000)
    texts = [box.text() for box, _c in dialog.checks if box.isVisible()]
    assert any(t.startswith(f"IP address: {address}/32 — last portal sign-in") for t in texts), texts
    chosen = dialog.chosen()
    assert [(c.kind.value, c.value) for c in chosen] == [("ip", f"{address}/32")]  # its e-mail only by choice
    assert dialog.expiry.currentText().startswith("6 months")
    shot(dialog, "fraud-stop-dialog")
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)  # click two
    qtbot.waitUntil(lambda: dialog.result_text.isVisible(), timeout=10_000)
    assert dialog.result_text.text() == f"Blocked IP address {address}/32."
    shot(dialog, "fraud-stop-done")
    with server_session(sqlite_server) as db:
        block = db.scalar(select(FraudBlock).where(FraudBlock.value == f"{address}/32"))
        assert block is not None and block.state(utcnow()) == BlockState.ACTIVE
        assert block.created_by == window.session.staff.username
        assert block.source == f"FRAUD-STOP on member {member.member_no}"
        assert block.expires_at is not None and block.expires_at - utcnow() > dt.timedelta(days=180)
        block_id = block.id
        audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "fraud.block",
                                                   AuditEvent.entity_id == str(block_id)))
        assert audit is not None and audit.actor_name == window.session.staff.username
    dialog.close()
    details.show_tab("Orders")  # FRAUD-STOP on an order: there for the selected order
    qtbot.waitUntil(lambda: details.orders_tab.loaded, timeout=10_000)
    order_stop = details.orders_tab.fraud_stop_button
    assert order_stop.isVisible() and not order_stop.isEnabled()
    assert order_stop.toolTip() == "Select an order first"
    shot(details, "fraud-stop-orders-tab")

    # The page: found by the address, with who, why and when it expires.
    page = window.show_fraud_stop()
    qtbot.keyClicks(page.search_box, address)
    page.search_now()
    qtbot.waitUntil(lambda: not page.model.searching and page.model.rowCount() == 1, timeout=10_000)
    row = [page.model.data(page.model.index(0, c)) for c in range(page.model.columnCount())]
    assert row[0] == str(block_id) and row[1] == "IP address" and row[2] == f"{address}/32"
    assert row[3] == "Fake or duplicate account" and row[4] == window.session.staff.username
    assert row[7] == "Active" and row[8] == "0"
    shot(window, "fraud-stop-page")

    # Add a block by hand: errors under the fields, nothing sent.
    add = page.open_add()
    assert isinstance(add, AddBlockDialog)
    add.kind.setCurrentIndex(add.kind.findData("ip"))
    qtbot.keyClicks(add.value, "203.0.113.7/24")
    qtbot.mouseClick(add.confirm_button, Qt.MouseButton.LeftButton)
    assert "did you mean 203.0.113.0/24" in add.errors()["value"]
    add.kind.setCurrentIndex(add.kind.findData("card"))
    add.value.setText("4242 4242 4242 4242")
    qtbot.mouseClick(add.confirm_button, Qt.MouseButton.LeftButton)
    assert "looks like a card number" in add.errors()["value"]
    shot(add, "fraud-add-block-errors")
    add.close()

    # Lift it (the console's staff member is a Society Admin) with a reason.
    page.table.selectRow(0)
    assert page.lift_button.isEnabled()
    qtbot.mouseClick(page.lift_button, Qt.MouseButton.LeftButton)
    lift = page.dialog
    assert isinstance(lift, LiftBlockDialog)
    qtbot.mouseClick(lift.confirm_button, Qt.MouseButton.LeftButton)
    assert lift.errors()["reason"]  # a reason is required
    qtbot.keyClicks(lift.reason, "a shared library address")
    qtbot.mouseClick(lift.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: lift.result_text.isVisible(), timeout=10_000)
    assert lift.result_text.text() == f"Block #{block_id} is lifted."
    lift.close()
    page.state_box.setCurrentIndex(page.state_box.findData("all"))
    qtbot.waitUntil(lambda: not page.model.searching and page.model.rowCount() == 1
                    and page.model.block(0).state == BlockState.LIFTED, timeout=10_000)
    assert page.model.data(page.model.index(0, 6)).startswith("Lifted ")
    assert not page.lift_button.isEnabled()

"""Acting on behalf in the real QtWebEngine view against the real server: the token,
the banners (the console's, above the view, and the portal's, in every page), the
e-mail change refused in the page, Sign in as yourself ending the session on the
server, closing the view, one off-the-record profile per session, offline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from desktop_care.models import LineIn, Member, place_order
from desktop_care.ui.main_window import MainWindow
from desktop_care.ui.members.details_dialog import MemberDetailsDialog
from desktop_care.ui.portal import (
    OnBehalfWindow,
    on_behalf_windows,
    start_acting_on_behalf,
)
from desktop_care.ui.qt import Qt, QWebEngineProfile
from desktop_care.ui.session import StaffSession
from desktop_care.ui.workspace import Workspace
from tests.support.servers import LiveServer
from tests.ui.arrange import FullMember, add_full_member, server_session, signed_in_client, unique

LOAD_MS = 20_000


@pytest.fixture
def window(qtbot, sqlite_server: LiveServer) -> Iterator[MainWindow]:
    client = signed_in_client(sqlite_server)
    session = StaffSession(client, client.me())
    workspace = Workspace(session, start=False)
    main = MainWindow(session, workspace=workspace)
    qtbot.addWidget(main)
    main.show()
    yield main
    on_behalf_windows().close_all(client)
    workspace.stop(wait=5.0)


@pytest.fixture
def member(sqlite_server: LiveServer) -> FullMember:
    return add_full_member(sqlite_server, unique("Garnet"))


def js(qtbot, view: OnBehalfWindow, script: str) -> Any:
    """The value of ``script`` in the portal page (waits for the answer)."""
    box: list[Any] = []
    view.page.runJavaScript(script, 0, box.append)
    qtbot.waitUntil(lambda: bool(box), timeout=LOAD_MS)
    return box[0]


def navigate(qtbot, view: OnBehalfWindow, script: str, *, ok: bool = True) -> None:
    """Run ``script`` (which leads to another page) and wait for that page to load
    (QtWebEngine reports a page with an HTTP error status, such as 403, as not ok)."""
    with qtbot.waitSignal(view.view.loadFinished, timeout=LOAD_MS) as loaded:
        view.page.runJavaScript(script, 0)
    assert loaded.args == [ok]


def open_view(qtbot, details: MemberDetailsDialog, reason: str = "Member phoned about the renewal") -> OnBehalfWindow:
    dialog = details.open_act_on_behalf()
    assert dialog is not None
    dialog.reason.edit.setText(reason)
    with qtbot.waitSignal(on_behalf_windows().opened, timeout=LOAD_MS) as opened:
        qtbot.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    view = opened.args[0]
    assert isinstance(view, OnBehalfWindow)
    qtbot.waitUntil(lambda: not view._first, timeout=LOAD_MS)  # the first page loaded
    qtbot.waitUntil(lambda: js(qtbot, view, "document.readyState") == "complete", timeout=LOAD_MS)
    return view


#: The portal's header (#17324d) and its form-error box (#fdecea), as painted.
HEADER, FORM_ERROR = (0x17, 0x32, 0x4D), (0xFD, 0xEC, 0xEA)


def painted(qtbot, view: OnBehalfWindow, color: tuple[int, int, int] = HEADER, x: int = 300) -> None:
    """Wait until the view shows ``color`` somewhere down column ``x``: the page as a
    person sees it (web content paints a little after loadFinished, QT.md)."""
    def shows() -> bool:
        image = view.view.grab().toImage()
        return any(image.pixelColor(x, y).getRgb()[:3] == color for y in range(0, min(400, image.height()), 2))
    qtbot.waitUntil(shows, timeout=LOAD_MS)


def details_of(qtbot, window: MainWindow, member_id: int) -> MemberDetailsDialog:
    details = window.open_member(member_id)
    qtbot.waitUntil(lambda: details.member is not None and not details.loading, timeout=LOAD_MS)
    return details


def test_act_on_behalf_shows_the_portal_as_the_member_with_banners(qtbot, window: MainWindow,
                                                                   member: FullMember, screenshot) -> None:
    details = details_of(qtbot, window, member.id)
    assert details.on_behalf_button.isEnabled()
    dialog = details.open_act_on_behalf()
    assert dialog is not None
    qtbot.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    assert dialog.reason.error.text() == "Give the reason for acting on the member's behalf."
    screenshot(dialog, "act-on-behalf-dialog-blank-reason")
    dialog.close()

    view = open_view(qtbot, details)
    name = f"Edith {member.last_name}"
    staff_name = window.session.staff.display_name or window.session.staff.username
    assert js(qtbot, view, "location.pathname") == "/portal/account"
    banner = js(qtbot, view, "document.getElementById('on-behalf-banner').innerText")
    assert f"{staff_name} acting on behalf of {name}" in " ".join(banner.split())
    assert view.banner_text.text() == f"Desktop Care · {staff_name} acting on behalf of {name} · member {member.member_no}"
    assert view.windowTitle() == f"Acting on behalf of {name} ({member.member_no}) — Desktop Care"
    assert "ends by" in view.status_text.text()
    # The console's main window says it too.
    assert window.windowTitle().endswith(f"— Acting on behalf of {name}")
    assert window.on_behalf.label.isVisible() and window.on_behalf.label.text() == f"Acting on behalf of {name}"
    assert view.profile.isOffTheRecord() and view.profile is not QWebEngineProfile.defaultProfile()
    painted(qtbot, view)
    screenshot(view, "on-behalf-view")
    screenshot(window, "main-window-on-behalf")


def test_the_email_change_is_refused_in_the_page_and_sign_in_as_yourself_ends_the_session(
    qtbot, window: MainWindow, member: FullMember, screenshot
) -> None:
    details = details_of(qtbot, window, member.id)
    view = open_view(qtbot, details)
    navigate(qtbot, view, "document.querySelector('a[href=\"/portal/profile\"]').click()")
    assert js(qtbot, view, "document.querySelector('h1').innerText") == "My profile"
    assert js(qtbot, view, "document.getElementById('on-behalf-banner') !== null") is True
    navigate(qtbot, view, "document.getElementById('email').value = 'taken.over@example.org';"
                          "document.getElementById('update-profile').click()", ok=False)
    refusal = js(qtbot, view, "document.querySelector('.form-error').innerText")
    assert "cannot change the member's e-mail address while acting on their behalf" in refusal
    assert js(qtbot, view, "document.getElementById('email-error').innerText") == \
        "Only the member can change their e-mail address."
    on_server = window.session.client.member(member.id)
    assert on_server.email == f"edith.{member.last_name.lower()}@example.org"
    painted(qtbot, view, FORM_ERROR)
    screenshot(view, "on-behalf-email-refused")

    shown = view.view.grab().toImage()
    navigate(qtbot, view, "document.querySelector('a[href=\"/portal/password\"]').click()", ok=False)
    assert "use Reset password in the console" in js(qtbot, view, "document.querySelector('.form-error').innerText")
    assert js(qtbot, view, "document.getElementById('current_password') === null") is True
    qtbot.waitUntil(lambda: view.view.grab().toImage() != shown, timeout=LOAD_MS)  # the new page, painted
    painted(qtbot, view, FORM_ERROR)
    screenshot(view, "on-behalf-password-refused")

    session_id = view.session_id
    with qtbot.waitSignal(on_behalf_windows().returned, timeout=LOAD_MS):
        qtbot.mouseClick(view.yourself_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.session.client.on_behalf_state(session_id).live, timeout=LOAD_MS)
    state = window.session.client.on_behalf_state(session_id)
    assert state.end_reason == "sign_in_as_yourself" and state.ended_at is not None
    assert "Acting on behalf" not in window.windowTitle() and not window.on_behalf.label.isVisible()
    assert window.open_member(member.id) is details  # back at the member's details
    history = window.session.client.member_history(member.id)
    actions = {(e.action, e.impersonation_id) for e in history.items}
    assert {("on_behalf.start", session_id), ("on_behalf.refused", session_id),
            ("on_behalf.end", session_id)} <= actions
    # The member's Timeline shows them, with the staff member as the real actor; the
    # session is one entry (its start, saying how it ended).
    details.show_tab("Timeline")
    qtbot.waitUntil(lambda: details.history_tab.loaded and details.history_tab.table.rowCount() > 0,
                    timeout=LOAD_MS)
    rows = details.history_tab.rows()
    staff_name = window.session.staff.display_name or window.session.staff.username
    assert any(r[1:5] == ["On behalf", staff_name + " (on behalf)", "Refused while acting on behalf",
                          "Not allowed to change the e-mail address"] for r in rows)
    started = [r for r in rows if r[3] == "Acted on behalf: Member phoned about the renewal"]
    assert len(started) == 1 and started[0][2] == staff_name + " (on behalf)"
    assert started[0][4].startswith("Reason: Member phoned about the renewal; Ended ")
    assert started[0][4].endswith(" by Sign in as yourself")
    assert not any("ended" in r[3].lower() for r in rows)  # the end is not a second entry


def test_the_portal_banner_button_and_closing_the_view_end_the_session(qtbot, window: MainWindow,
                                                                       member: FullMember) -> None:
    details = details_of(qtbot, window, member.id)
    view = open_view(qtbot, details)
    first = view.session_id
    with qtbot.waitSignal(view.ended, timeout=LOAD_MS) as ended:
        view.page.runJavaScript("document.getElementById('sign-in-as-yourself').click()", 0)
    assert ended.args == ["sign_in_as_yourself"]
    assert window.session.client.on_behalf_state(first).end_reason == "sign_in_as_yourself"

    again = open_view(qtbot, details, "Second call")
    second = again.session_id
    with qtbot.waitSignal(again.ended, timeout=LOAD_MS) as closed:
        again.close()
    assert closed.args == ["view_closed"]
    qtbot.waitUntil(lambda: not window.session.client.on_behalf_state(second).live, timeout=LOAD_MS)
    assert window.session.client.on_behalf_state(second).end_reason == "view_closed"


def test_two_sessions_never_share_cookies(qtbot, window: MainWindow, sqlite_server: LiveServer) -> None:
    one, two = add_full_member(sqlite_server, unique("Amber")), add_full_member(sqlite_server, unique("Beryl"))
    first = open_view(qtbot, details_of(qtbot, window, one.id))
    second = open_view(qtbot, details_of(qtbot, window, two.id))
    assert first.profile is not second.profile
    navigate(qtbot, first, "location.reload()")
    assert js(qtbot, first, "document.getElementById('member-no').innerText") == one.member_no
    assert js(qtbot, second, "document.getElementById('member-no').innerText") == two.member_no


def test_add_a_customer_can_go_straight_to_acting_on_behalf(qtbot, window: MainWindow, member: FullMember) -> None:
    opened: list[OnBehalfWindow] = []
    start_acting_on_behalf(window.session.client, member.id, "New customer registered by phone",
                           on_open=opened.append)
    qtbot.waitUntil(lambda: bool(opened), timeout=LOAD_MS)
    qtbot.waitUntil(lambda: not opened[0]._first, timeout=LOAD_MS)
    assert js(qtbot, opened[0], "location.pathname") == "/portal/account"


def test_staff_cannot_act_on_behalf_offline_and_refusals_are_shown(qtbot, window: MainWindow,
                                                                    member: FullMember) -> None:
    details = details_of(qtbot, window, member.id)
    window.workspace._online = False
    details._enable_on_behalf()
    assert not details.on_behalf_button.isEnabled()
    assert details.on_behalf_button.toolTip() == "Act on behalf needs the server, and this computer is offline"
    window.workspace._online = True
    details._enable_on_behalf()
    assert details.on_behalf_button.isEnabled()


def test_sign_out_in_the_banner_ends_the_session_and_signs_out_of_the_console(
    qtbot, window: MainWindow, member: FullMember
) -> None:
    view = open_view(qtbot, details_of(qtbot, window, member.id))
    session_id = view.session_id
    with qtbot.waitSignal(window.sign_out_requested, timeout=LOAD_MS):
        qtbot.mouseClick(view.sign_out_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.session.client.on_behalf_state(session_id).live, timeout=LOAD_MS)
    assert window.session.client.on_behalf_state(session_id).end_reason == "sign_out"


def _orders_for(server: LiveServer, member_id: int, *amounts: int) -> list[tuple[int, str]]:
    """Unpaid orders of the member's (id, order number), one per amount in pence."""
    with server_session(server) as session:
        member = session.get(Member, member_id)
        assert member is not None
        orders = [place_order(session, member, [LineIn(f"Show entry fee {n + 1}", cents)], registrants=[member])
                  for n, cents in enumerate(amounts)]
        session.commit()
        return [(order.id, order.order_no) for order in orders]


def _pay_in_view(qtbot, view: OnBehalfWindow, order_id: int, button: str) -> str:
    """Open the order in the view, Pay, confirm, press ``button`` on the provider's
    checkout page; the heading of the page the member comes back to."""
    navigate(qtbot, view, f"location.href = '/portal/orders/{order_id}'")
    navigate(qtbot, view, "document.getElementById('pay').click()")
    assert js(qtbot, view, "document.querySelector('h1').innerText") == "Pay for this order"
    navigate(qtbot, view, "document.getElementById('confirm-pay').click()")
    assert js(qtbot, view, "location.pathname").startswith("/test-provider/checkout/")
    # The banner is the portal's: the provider's hosted page is not ours to mark.
    navigate(qtbot, view, f"document.getElementById('{button}').click()")
    assert js(qtbot, view, "document.getElementById('on-behalf-banner') !== null") is True
    heading: str = js(qtbot, view, "document.querySelector('h1').innerText")
    return heading


def test_staff_pay_an_order_for_the_member_in_the_view_paid_declined_and_cancelled(
    qtbot, window: MainWindow, member: FullMember, sqlite_server: LiveServer, screenshot
) -> None:
    paid, declined, cancelled = _orders_for(sqlite_server, member.id, 2500, 3200, 1800)
    view = open_view(qtbot, details_of(qtbot, window, member.id), "Member asked us to take the show fees")

    assert _pay_in_view(qtbot, view, paid[0], "pay") == "Thank you for your payment"
    painted(qtbot, view)
    screenshot(view, "on-behalf-paid")
    assert _pay_in_view(qtbot, view, declined[0], "decline") == "Your payment was declined"
    assert js(qtbot, view, "document.getElementById('try-again') !== null") is True
    assert _pay_in_view(qtbot, view, cancelled[0], "cancel") == "You cancelled the payment"
    assert cancelled[1] in js(qtbot, view, "document.getElementById('payment-result').innerText")

    # What the member's account shows in the console: the payment taken (pending until
    # it settles), nothing for the declined or cancelled orders.
    def orders_now() -> dict[str, str]:
        return {o.order_no: o.state for o in window.session.client.member_orders(member.id).items}
    qtbot.waitUntil(lambda: orders_now()[paid[1]] == "paid", timeout=LOAD_MS)
    assert orders_now()[declined[1]] == orders_now()[cancelled[1]] == "unpaid"
    # Each step is the staff member's, in this session, in the member's History.
    session_id = view.session_id
    history = window.session.client.member_history(member.id)
    checkouts = [e for e in history.items if e.action == "order.checkout_opened"]
    assert len(checkouts) == 3
    assert {(e.actor_username, e.impersonation_id) for e in checkouts} == {(window.session.staff.username,
                                                                            session_id)}

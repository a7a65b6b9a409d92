"""Member search and details over HTTP against the real server (SQLite and PostgreSQL)."""

from __future__ import annotations

import requests
from sqlalchemy.orm import Session

from desktop_care.models import MemberStatus, PointsType, TxnStatus, UserRole, UserState, add_points, post_transaction
from desktop_care.schemas import MemberDetail, MemberPage
from tests.support.servers import LiveServer

from .conftest import make_member, make_portal_user, unique


def search(server: LiveServer, auth: dict[str, str], **params: object) -> requests.Response:
    return requests.get(f"{server.api}/members", params=params, headers=auth, timeout=10)


def test_search_finds_members_by_name_and_pages_through_them(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    surname = unique("Zyx")
    made = [make_member(db, f"Anna{i}", surname, postcodes=[f"ZZ{i} 9AA"]) for i in range(5)]
    make_member(db, "Somebody", unique("Other"))

    first = search(server, auth, q=surname.lower(), limit=2)
    assert first.status_code == 200, first.text
    page = MemberPage.model_validate(first.json())
    assert (page.total, page.total_exact) == (5, True)
    assert [item.id for item in page.items] == [m.id for m in made[:2]]
    assert page.items[0].name == f"Anna0 {surname}"
    assert page.items[0].postcode == "ZZ0 9AA"

    seen = [item.id for item in page.items]
    while page.next_cursor:
        page = MemberPage.model_validate(search(server, auth, q=surname, limit=2, cursor=page.next_cursor).json())
        seen += [item.id for item in page.items]
    assert seen == [m.id for m in made]


def test_search_by_member_id_puts_the_exact_match_first(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    base = unique("")[:6]
    digits = str(int(base, 16) % 10**6).rjust(6, "1")
    longer = make_member(db, "Longer", "Number", member_no=f"{digits}0")
    exact = make_member(db, "Exact", "Number", member_no=digits)
    page = MemberPage.model_validate(search(server, auth, q=digits).json())
    assert [item.id for item in page.items][:2] == [exact.id, longer.id]


def test_a_member_id_with_letters_is_found_exactly_and_by_prefix_in_any_case(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    # Members imported from a legacy society keep IDs such as "M12376948".
    digits = str(int(unique("")[:6], 16) % 10**6).rjust(6, "7")
    legacy = make_member(db, "Legacy", "Imported", member_no=f"LX{digits}")
    longer = make_member(db, "Legacy", "Longer", member_no=f"LX{digits}5")
    for typed in (f"LX{digits}", f"lx{digits}", f" Lx{digits} "):
        page = MemberPage.model_validate(search(server, auth, q=typed).json())
        assert [item.id for item in page.items] == [legacy.id, longer.id], typed
        assert page.items[0].member_no == f"LX{digits}"  # shown as stored
        assert (page.total, page.total_exact) == (2, True)
    page = MemberPage.model_validate(search(server, auth, q=f"lx{digits[:4]}").json())
    assert [item.id for item in page.items] == [legacy.id, longer.id]


def test_a_term_matching_member_ids_and_text_is_counted_once_and_paged_in_order(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    # "qv…" starts three member IDs and occurs in two names; one member has both.
    token = unique("qv")[:9].lower()
    by_id = [make_member(db, "Ida", f"Number{i}", member_no=f"{token}{i}") for i in range(3)]
    by_name = [make_member(db, f"{token}name", "Text"), make_member(db, "Both", f"{token}x", member_no=f"{token}9")]
    expected = sorted(m.id for m in [*by_id, *by_name])
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, object] = {"q": token, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = MemberPage.model_validate(search(server, auth, **params).json())
        assert (page.total, page.total_exact) == (5, True)
        seen += [item.id for item in page.items]
        if not (cursor := page.next_cursor):
            break
    assert seen == expected


def test_a_nul_or_other_control_character_in_the_search_separates_words(
    server: LiveServer, auth: dict[str, str], db: Session
) -> None:
    """Found by trying: "vivi<NUL>" answered 503 "database not available"."""
    surname = unique("Nul")
    made = make_member(db, "Vivienne", surname)
    for q in (f"vivienne\x00{surname}", f"\x00{surname}\x1b", f"{surname}\x7f"):
        response = search(server, auth, q=q)
        assert response.status_code == 200, response.text
        assert [item.id for item in MemberPage.model_validate(response.json()).items] == [made.id]
    assert search(server, auth, q="\x00", limit=1).status_code == 200
    assert search(server, auth, cursor="\x00").status_code == 422


def test_member_details(server: LiveServer, auth: dict[str, str], db: Session) -> None:
    member = make_member(db, "Détail", unique("Person"), postcodes=["DT1 1AA", "DT2 2BB"], email="d@example.org")
    add_points(db, member, 750, PointsType.BASE, "joining")
    post_transaction(db, member, 4500, "Annual membership")
    post_transaction(db, member, 1500, "Registration: Bramble", TxnStatus.PENDING)
    full = make_portal_user(db, member, UserRole.FULL, display_name="Détail Person")
    standard = make_portal_user(db, member, UserRole.STANDARD, state=UserState.INVITED)
    db.commit()

    response = requests.get(f"{server.api}/members/{member.id}", headers=auth, timeout=10)
    assert response.status_code == 200, response.text
    detail = MemberDetail.model_validate(response.json())
    assert (detail.member_no, detail.logon_id, detail.name) == (member.member_no, member.logon_id, member.display_name)
    assert (detail.points_balance, detail.account_balance_cents, detail.pending_count, detail.pending_cents) == (
        750,
        4500,
        1,
        1500,
    )
    assert [a.postcode for a in detail.addresses] == ["DT1 1AA", "DT2 2BB"]
    assert [(u.id, u.role, u.state) for u in detail.users] == [
        (full.id, UserRole.FULL, UserState.ACTIVE),
        (standard.id, UserRole.STANDARD, UserState.INVITED),
    ]
    assert [(t.amount_cents, t.description) for t in detail.pending_transactions] == [(1500, "Registration: Bramble")]
    assert detail.status == MemberStatus.ENROLLED


def test_unknown_member_is_404(server: LiveServer, auth: dict[str, str]) -> None:
    response = requests.get(f"{server.api}/members/987654321", headers=auth, timeout=10)
    assert response.status_code == 404
    assert response.json() == {"detail": "no member with id 987654321", "fields": {}}


def test_members_need_a_sign_in(server: LiveServer) -> None:
    for url in (f"{server.api}/members", f"{server.api}/members/1"):
        response = requests.get(url, timeout=10)
        assert response.status_code == 401
        assert response.json() == {"detail": "sign in required", "fields": {}}


def test_invalid_parameters_name_the_field(server: LiveServer, auth: dict[str, str]) -> None:
    page_size = "must be a whole number between 1 and 200"
    cases = [
        ({"limit": 0}, "limit", page_size),
        ({"limit": 201}, "limit", page_size),
        ({"limit": "abc"}, "limit", page_size),
        ({"cursor": "not-a-cursor"}, "cursor", "is not a cursor from a previous page"),
        ({"q": "x" * 201}, "q", "must be at most 200 characters"),
    ]
    for params, field, message in cases:
        response = search(server, auth, **params)
        assert response.status_code == 422, params
        assert response.json() == {"detail": f"{field}: {message}", "fields": {field: message}}, params

    response = requests.get(f"{server.api}/members/abc", headers=auth, timeout=10)
    assert response.status_code == 422
    assert response.json()["fields"] == {"member_id": "must be a whole number"}


def test_openapi_has_stable_operation_ids(server: LiveServer) -> None:
    document = requests.get(f"{server.api}/openapi.json", timeout=10).json()
    operations = {
        op["operationId"] for path in document["paths"].values() for op in path.values() if "operationId" in op
    }
    assert operations == {
        "getHealth", "login", "resumeSignIn", "getMe", "logout", "searchMembers", "getMember", "getChanges",
        "getCompactChanges", "runCommands",
            "runCommand", "getMemberPoints", "getMemberHistory", "getMemberTimeline", "listUsers", "getMergePlan", "getMerges",
            "resetPassword", "inviteUser", "resendInvitation", "cancelInvitation", "getMemberMail", "inviteStaff",
            "actOnBehalf", "getOnBehalf", "endOnBehalf", "getOnBehalfSettings", "setOnBehalfSettings",
            "getMemberOrders",
            "findLikelyDuplicates",
            "bulkInviteDryRun", "bulkInviteRun",
            "listTickets", "getTicket", "getMemberTickets",
            "listFraudBlocks", "getFraudStop",
            "getMemberLedger", "getMemberRefunds", "getRefundsAwaitingApproval", "getRefundSettings",
            "getMemberCourses",
            "getMemberAnimals", "registerAnimal", "getAnimal", "correctAnimal", "transferAnimal",
    }

"""Bulk invite against the real server on SQLite and PostgreSQL: a 10,000-row file
with 5% bad rows of each kind (every good row invited once, every bad row reported
with its row number, a second run invites nobody), a run stopped between chunks and
completed by running the file again, files that cannot be read, the permissions, and
the mail as a real SMTP server receives it."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from desktop_care.commands import InviteUser
from desktop_care.commands.bulk_invite import row_op_id
from desktop_care.models import (
    AuditEvent,
    MailMessage,
    MemberStatus,
    User,
    UserRole,
    UserState,
)
from desktop_care.models.tokens import TokenPurpose, UserToken
from tests.server.conftest import make_member, staff_headers, unique
from tests.support.bulk_files import BulkCase, arrange_bulk, csv_bytes
from tests.support.servers import LiveServer, start_server
from tests.support.smtp import SmtpSink

CHUNK = 500


@pytest.fixture(scope="module")
def bulk_server(databases, backend, tmp_path_factory) -> Iterator[LiveServer]:
    """A server of its own: the thousands of invitations' mail stays out of the others' way."""
    srv = start_server(databases.create(backend), tmp_path_factory.mktemp(f"bulk-{backend}"))
    yield srv
    srv.stop()


@pytest.fixture
def bulk_db(bulk_server: LiveServer) -> Iterator[Session]:
    with Session(bulk_server.engine(), expire_on_commit=False) as session:
        yield session


def dry_run(server: LiveServer, headers: dict[str, str], content: bytes, filename: str = "people.csv"
            ) -> requests.Response:
    body = {"filename": filename, "content_base64": base64.b64encode(content).decode()}
    return requests.post(f"{server.api}/bulk-invitations/dry-run", json=body, headers=headers, timeout=120)


def planned(server: LiveServer, headers: dict[str, str], content: bytes) -> dict:
    response = dry_run(server, headers, content)
    assert response.status_code == 200, response.text
    return response.json()


def run_rows(server: LiveServer, headers: dict[str, str], rows: list[dict], *, chunks: int | None = None
             ) -> list[dict]:
    """Send the rows to invite in chunks (as the dialog does); ``chunks``: stop after so
    many (Cancel)."""
    results: list[dict] = []
    for n, start in enumerate(range(0, len(rows), CHUNK)):
        if chunks is not None and n >= chunks:
            break
        body = {"rows": [{k: r[k] for k in ("row", "member_id", "email", "role", "name")}
                         for r in rows[start:start + CHUNK]]}
        response = requests.post(f"{server.api}/bulk-invitations/run", json=body, headers=headers, timeout=120)
        assert response.status_code == 200, response.text
        results += response.json()["results"]
    return results


def to_invite(plan: dict) -> list[dict]:
    return [row for row in plan["rows"] if row["action"] == "invite"]


def invited_count(db: Session, case: BulkCase) -> tuple[int, int, int, int]:
    """Users, invitation links, queued mails and audited invitations for the good rows."""
    db.expire_all()
    emails = [email for _member, email in case.good.values()]
    users = [u for part in range(0, len(emails), 500)
             for u in db.scalars(select(User.id).where(User.username.in_(emails[part:part + 500])))]
    links = mails = 0
    for part in range(0, len(users), 500):
        ids = users[part:part + 500]
        links += db.scalar(select(func.count()).select_from(UserToken).where(
            UserToken.user_id.in_(ids), UserToken.purpose == TokenPurpose.INVITATION)) or 0
        mails += db.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.user_id.in_(ids))) or 0
    audited = db.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "member.invite_user", AuditEvent.details["to"].as_string().like(f"%{case.tag}%")))
    return len(users), links, mails, audited or 0


def test_a_2000_row_file_invites_every_good_row_once_and_reports_every_bad_one(
    bulk_server: LiveServer, bulk_db: Session
) -> None:
    # 2,000 rows: four chunks, every kind of bad row 100 times (bench/bulk_invite.py runs 10,000).
    case = arrange_bulk(bulk_db, 2_000)
    headers = staff_headers(bulk_server, bulk_db)
    plan = planned(bulk_server, headers, case.content)

    assert (plan["total"], plan["to_invite"], plan["errors"]) == (2_000, len(case.good), len(case.bad))
    assert (plan["encoding"], plan["delimiter"]) == ("UTF-8", "comma")
    reported = {row["row"]: row["error"] for row in plan["rows"]}
    assert reported == {row: (code.value if code else None) for row, code in case.expected.items()}
    assert len(case.bad) == 7 * 100  # 5% of each of the seven kinds
    duplicate = next(row for row in plan["rows"] if row["error"] == "duplicate")
    assert "already in row" in duplicate["message"]

    results = run_rows(bulk_server, headers, to_invite(plan))
    assert [r["row"] for r in results] == sorted(case.good)
    assert {r["outcome"] for r in results} == {"invited"}
    n = len(case.good)
    assert invited_count(bulk_db, case) == (n, n, n, n)

    # The same file again: the dry run finds them all invited, and a run invites nobody.
    again = planned(bulk_server, headers, case.content)
    assert again["to_invite"] == 0
    assert {row["error"] for row in again["rows"] if row["row"] in case.good} == {"already_invited"}
    repeat = run_rows(bulk_server, headers, to_invite(plan))  # the first plan's rows, sent again
    assert {r["outcome"] for r in repeat} == {"already_done"}
    assert invited_count(bulk_db, case) == (n, n, n, n)

    # Each row was run as its InviteUser command: the same command sent again is a duplicate.
    first = next(r for r in to_invite(plan) if r["name"])
    member_id, _email = case.good[first["row"]]
    command = InviteUser(op_id=row_op_id(member_id, first["email"]), member_id=member_id, email=first["email"],
                         display_name=first["name"], role=first["role"])
    again_one = requests.post(f"{bulk_server.api}/commands", json={"command": command.payload()}, headers=headers,
                              timeout=30).json()
    assert (again_one["status"], again_one["original_status"]) == ("duplicate", "applied")


def test_a_run_stopped_between_chunks_leaves_whole_rows_and_a_rerun_completes_it(
    bulk_server: LiveServer, bulk_db: Session
) -> None:
    case = arrange_bulk(bulk_db, 1_500, seed=11)
    headers = staff_headers(bulk_server, bulk_db)
    rows = to_invite(planned(bulk_server, headers, case.content))
    assert len(rows) > CHUNK

    done = run_rows(bulk_server, headers, rows, chunks=1)  # Cancel after the first chunk
    assert len(done) == CHUNK and {r["outcome"] for r in done} == {"invited"}
    users, links, mails, audited = invited_count(bulk_db, case)
    assert users == links == mails == audited == CHUNK  # each row whole: user, link, mail, audit

    rest = to_invite(planned(bulk_server, headers, case.content))
    assert [r["row"] for r in rest] == [r["row"] for r in rows[CHUNK:]]
    assert {r["outcome"] for r in run_rows(bulk_server, headers, rest)} == {"invited"}
    n = len(case.good)
    assert invited_count(bulk_db, case) == (n, n, n, n)


def test_bad_rows_in_a_run_are_reported_and_never_stop_the_good_ones(server: LiveServer, db: Session) -> None:
    headers = staff_headers(server, db)
    open_member = make_member(db, "Open", "Account")
    closed = make_member(db, "Closed", "Account", status=MemberStatus.INACTIVE)
    taken = f"{unique('taken')}@example.org"
    db.add(User(username=taken, email=taken, role=UserRole.FULL, state=UserState.ACTIVE))
    db.commit()
    good = f"{unique('good')}@example.org"
    rows = [
        {"row": 2, "member_id": closed.member_no, "email": f"{unique('c')}@example.org", "role": "Full", "name": ""},
        {"row": 3, "member_id": open_member.member_no, "email": taken, "role": "full", "name": "T"},
        {"row": 4, "member_id": open_member.member_no, "email": "nope", "role": "full", "name": ""},
        {"row": 5, "member_id": "missing-no", "email": f"{unique('m')}@example.org", "role": "full", "name": ""},
        {"row": 6, "member_id": open_member.member_no, "email": good, "role": "Standard", "name": ""},
        {"row": 7, "member_id": open_member.member_no, "email": good.upper(), "role": "Full", "name": ""},
    ]
    results = {r["row"]: r for r in run_rows(server, headers, rows)}
    assert {row: (r["outcome"], r["error"]) for row, r in results.items()} == {
        2: ("error", "member_closed"), 3: ("error", "already_user"), 4: ("error", "bad_email"),
        5: ("error", "unknown_member"), 6: ("invited", None),
        7: ("error", "duplicate"),  # the address of row 6 in other case
    }
    assert "inactive" in results[2]["message"]
    db.expire_all()
    user = db.scalar(select(User).where(User.username == good.lower()))
    assert user is not None and user.state == UserState.INVITED and user.member_id == open_member.id
    assert user.role == UserRole.STANDARD and user.display_name == "Open Account"  # no name: the member's


@pytest.mark.parametrize(("content", "says"), [
    (b"\r\n \r\n", "empty"),
    (b"member_id,email\r\n1,a@example.org\r\n", "no 'role' column"),
    (b"PK\x03\x04\x14\x00\x00\x00", "spreadsheet (.xlsx)"),
    (b"member_id,email,role\r\n", "no one to invite"),
    (b"\xef\xbb\xbfmember_id,email,role\r\n1,\xff\xfe,full\r\n", "says it is UTF-8"),
    (b"member_id,email,role\r\n1,a\x81\x8d@example.org,full\r\n", "neither UTF-8 nor Windows-1252"),
])
def test_a_file_that_cannot_be_read_gets_a_422_saying_why(
    server: LiveServer, db: Session, content: bytes, says: str
) -> None:
    response = dry_run(server, staff_headers(server, db), content)
    assert response.status_code == 422
    message = response.json()["fields"]["content_base64"]
    assert message.startswith("is not a file bulk invite can read: ") and says in message


def test_excel_exports_are_read_whatever_their_encoding_and_delimiter(server: LiveServer, db: Session) -> None:
    headers = staff_headers(server, db)
    member = make_member(db, "Zoë", "Ørsted")
    email = f"{unique('zoe')}@example.org"
    lines = [["Member ID", "E-mail", "Role", "Name"], [member.member_no, email, "Full user", "Zoë Ørsted"]]
    for content, encoding, delimiter in [
        (b"\xef\xbb\xbf" + csv_bytes(lines, delimiter=";"), "UTF-8 (with BOM)", "semicolon"),
        (csv_bytes(lines, delimiter=";", encoding="cp1252"), "Windows-1252", "semicolon"),
        (csv_bytes(lines, delimiter="\t", encoding="utf-16"), "UTF-16", "tab"),
        (csv_bytes(lines), "UTF-8", "comma"),
    ]:
        plan = planned(server, headers, content)
        assert (plan["encoding"], plan["delimiter"]) == (encoding, delimiter)
        (row,) = plan["rows"]
        assert (row["row"], row["action"], row["role"], row["name"], row["member_name"]) == (
            2, "invite", "full", "Zoë Ørsted", "Zoë Ørsted"), row


def test_who_may_bulk_invite(server: LiveServer, db: Session) -> None:
    content = csv_bytes([["member_id", "email", "role"], ["1", "a@example.org", "full"]])
    body = {"content_base64": base64.b64encode(content).decode()}
    run = {"rows": [{"row": 2, "member_id": "1", "email": "a@example.org", "role": "full"}]}
    for role in (UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN):
        headers = staff_headers(server, db, role)
        assert requests.post(f"{server.api}/bulk-invitations/dry-run", json=body, headers=headers,
                             timeout=10).status_code == 200
        assert requests.post(f"{server.api}/bulk-invitations/run", json=run, headers=headers,
                             timeout=10).status_code == 200
    for path, payload in (("dry-run", body), ("run", run)):
        assert requests.post(f"{server.api}/bulk-invitations/{path}", json=payload, timeout=10).status_code == 401


def test_a_run_of_more_rows_than_a_chunk_holds_is_refused(server: LiveServer, db: Session) -> None:
    rows = [{"row": n + 2, "member_id": "1", "email": f"a{n}@example.org", "role": "full"} for n in range(501)]
    response = requests.post(f"{server.api}/bulk-invitations/run", json={"rows": rows},
                             headers=staff_headers(server, db), timeout=30)
    assert response.status_code == 422
    assert "rows" in response.json()["fields"]


def test_bulk_invitations_arrive_by_smtp_with_their_links(mail_server: LiveServer, mail_db: Session,
                                                          smtp: SmtpSink) -> None:
    headers = staff_headers(mail_server, mail_db)
    member = make_member(mail_db, "Mary", "Bulk")
    emails = [f"{unique('mb')}@example.org" for _ in range(3)]
    content = csv_bytes([["member_id", "email", "role", "name"],
                         *([member.member_no, e, "Standard", f"Reader {n}"] for n, e in enumerate(emails))])
    results = run_rows(mail_server, headers, to_invite(planned(mail_server, headers, content)))
    assert [r["outcome"] for r in results] == ["invited"] * 3
    for n, email in enumerate(emails):
        received = smtp.to(email)
        assert "Reader" in received.text and f"Reader {n}" in received.text
        assert any("/portal/invitation?token=" in link for link in received.links())
    run_rows(mail_server, headers, to_invite(planned(mail_server, headers, content)))  # nothing left to run
    mail_db.expire_all()
    assert mail_db.scalar(select(func.count()).select_from(MailMessage).where(
        MailMessage.to_address.in_(emails))) == 3

"""Member timeline benchmark: one member with 10,000 audit events, 2,000 account
transactions and 1,000 ticket entries (among 50,000 audit events of other members), on
SQLite and PostgreSQL. It measures the timeline's first page (with its per-kind
counts), a page deep in the stream (by cursor, no counts) and a page of one kind. Each
figure stands beside its floor, measured in the same run: the audit-only History page
of the same member (one source, one index). The ratio is what counts.

    "$(./dev env)/bin/python" bench/timeline.py
    "$(./dev env)/bin/python" bench/timeline.py --backends sqlite --events 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.search import machine
from desktop_care.models import AccountTransaction, AuditEvent, EntryKind, Member, Ticket, TicketEntry, TicketPriority
from desktop_care.models.ledger import TxnKind, TxnStatus
from desktop_care.schemas import TimelineKind
from desktop_care.server.api.member_activity import history
from desktop_care.server.api.timeline import timeline
from desktop_care.server.db import make_engine, upgrade

RESULTS = REPO / "bench" / "results"
RUNS = 15


def seed(session: Session, events: int, txns: int, entries: int, others: int) -> int:
    member = Member(member_no=f"T{uuid.uuid4().int % 10**9:09d}", logon_id=f"bench-{uuid.uuid4().hex}",
                    first_name="Busy", last_name="Timeline", email="busy@example.org")
    session.add(member)
    session.flush()
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    every = max(1, (events + others) // max(events, 1))  # the member's events among the others'
    session.execute(insert(AuditEvent), [
        {"at": start + dt.timedelta(minutes=7 * i), "actor_name": "bench", "action": "member.update_contact",
         "entity_type": "member", "entity_id": str(member.id if i % every == 0 else 10**8 + i),
         "details": {"before": {"phone": ""}, "after": {"phone": f"+44{i}"}}, "client_address": "", "origin": ""}
        for i in range(events + others)])
    session.execute(insert(AccountTransaction), [
        {"member_id": member.id, "amount_cents": 500, "description": f"charge {i}", "status": TxnStatus.SETTLED,
         "kind": TxnKind.CHARGE, "currency": "GBP", "created_at": start + dt.timedelta(minutes=11 * i)}
        for i in range(txns)])
    ticket = Ticket(uid=str(uuid.uuid4()), member_id=member.id, subject="Bench", created_at=start, updated_at=start)
    ticket.set_priority(TicketPriority.NORMAL)
    session.add(ticket)
    session.flush()
    session.execute(insert(TicketEntry), [
        {"ticket_id": ticket.id, "kind": EntryKind.NOTE, "body": f"note {i}", "author_name": "bench",
         "created_at": start + dt.timedelta(minutes=13 * i), "op_id": ""} for i in range(entries)])
    session.commit()
    return member.id


def timed(factory: sessionmaker[Session], call: Callable[[Session], Any]) -> dict[str, Any]:
    samples = []
    for _ in range(RUNS):
        with factory() as session:
            began = time.perf_counter()
            call(session)
            samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {"median_ms": round(statistics.median(samples), 2), "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2)}


def run_backend(url: str, events: int, txns: int, entries: int, others: int) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade(engine)
    factory = sessionmaker(engine)
    with factory() as session:
        member_id = seed(session, events, txns, entries, others)
        deep = None
        page = timeline(member_id, session, None, None, 50, None)  # type: ignore[arg-type]
        for _ in range(40):  # 40 pages in (2,000 entries back), or the last page
            if page.next_cursor is None:
                break
            deep = page.next_cursor
            page = timeline(member_id, session, None, None, 50, deep)  # type: ignore[arg-type]
    figures = {
        "floor_history_first_page": timed(factory, lambda s: history(member_id, s, None, None, "", 50, None)),  # type: ignore[arg-type]
        "timeline_first_page_with_counts": timed(factory, lambda s: timeline(member_id, s, None, None, 50, None)),  # type: ignore[arg-type]
        "timeline_page_2000_back": timed(factory, lambda s: timeline(member_id, s, None, None, 50, deep)),  # type: ignore[arg-type]
        "timeline_money_only_first_page": timed(
            factory, lambda s: timeline(member_id, s, None, [TimelineKind.MONEY], 50, None)),  # type: ignore[arg-type]
    }
    engine.dispose()
    floor = figures["floor_history_first_page"]["median_ms"]
    for figure in figures.values():
        figure["ratio_to_floor"] = round(figure["median_ms"] / floor, 2) if floor else None
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--transactions", type=int, default=2_000)
    parser.add_argument("--entries", type=int, default=1_000)
    parser.add_argument("--others", type=int, default=50_000)
    parser.add_argument("--pg-url", default=os.environ.get("DESKTOP_CARE_TEST_PG_URL",
                                                           "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    info = machine(args.pg_url)
    figures: dict[str, Any] = {}
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                figures[backend] = run_backend(f"sqlite:///{tmp}/timeline.sqlite3", args.events, args.transactions,
                                               args.entries, args.others)
        else:
            name = f"dc_bench_timeline_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
                figures[backend] = run_backend(url, args.events, args.transactions, args.entries, args.others)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        print(backend, json.dumps(figures[backend]), flush=True)
    info["load_average_at_end"] = list(os.getloadavg())
    report = {"date": dt.date.today().isoformat(), "machine": info, "events_of_the_member": args.events,
              "transactions": args.transactions, "ticket_entries": args.entries, "other_audit_events": args.others,
              "runs": RUNS, "results": figures}
    args.output.mkdir(parents=True, exist_ok=True)
    path = args.output / f"timeline-{report['date']}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Ticket queue benchmark: ``GET /api/v1/tickets`` at 1,000,000 tickets.

For each backend (SQLite, PostgreSQL) it seeds demo members (default 10,000: their
staff, names and member IDs) and then bulk-inserts N tickets (default 1,000,000; plain
multi-row INSERTs, not commands: about 15 % open, the rest resolved or closed, over
the four queues, 40 % unassigned, the rest shared by the demo staff, some overdue),
or reuses a database already seeded at that size, then times over the queues — My
tickets, Unassigned, All open, Overdue, each queue, Resolved and closed — with each
sort (due, -due, -priority, -updated, -created, id) and a few text filters:

(a) ``search_tickets`` on a session of that database (the floor), and
(b) ``GET /api/v1/tickets`` against the real server started on a loopback port,

in the same run, and writes p50/p95/max with the machine (and its load average) to
``bench/results/tickets-<date>.md`` and ``.json``. Target: HTTP p95 under 50 ms.
Exits with 1 when it is missed.

    "$(./dev env)/bin/python" bench/tickets.py
    "$(./dev env)/bin/python" bench/tickets.py --tickets 50000 --backends sqlite --repeat 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import platformdirs
import requests
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from desktop_care.models import Member, Ticket, User, UserRole, utcnow
from desktop_care.models.search import normalize
from desktop_care.models.ticket_search import StateGroup, TicketSort, TicketView, search_tickets
from desktop_care.models.tickets import QUEUES, TicketPriority, TicketState
from desktop_care.server.accounts import demo_admin
from desktop_care.server.app import BOOTSTRAP_TOKEN_ENV
from desktop_care.server.db import head_revision, make_engine, upgrade
from desktop_care.server.demo import seed_demo
from tests.support.servers import start_server

TARGET_HTTP_P95_MS = 50.0
PAGE_SIZE = 50
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
RESULTS = REPO / "bench" / "results"
SEED_NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
CHUNK = 20_000
SORTS = ("due", "-due", "-priority", "-updated", "-created", "id")
_SUBJECTS = ("Renewal form not received", "Charged twice for renewal", "Cannot sign in to the portal",
             "Change of name after marriage", "Refund for the cancelled show entry", "Password reset link expired",
             "Question about the points scheme", "Membership card has the wrong address")


def _load(name: str, file: str) -> Any:
    """A sibling bench script as a module, loaded once."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "bench" / file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look themselves up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def _search() -> Any:
    """bench/search.py: ``machine``, ``machine_lines``, ``percentile``."""
    return _load("bench_search", "search.py")


def time_cases(all_cases: list[Case], repeat: int, call: Callable[[Case], int]) -> tuple[list[float], dict[Case, float]]:
    """bench/users.py's: a warm-up, then ``repeat`` rounds of every case in order."""
    timed: tuple[list[float], dict[Case, float]] = _load("bench_users", "users.py").time_cases(all_cases, repeat, call)
    return timed


@dataclass(frozen=True)
class Case:
    view: str = "all"
    queue: str | None = None
    states: str = "open"
    sort: str = "due"
    q: str = ""

    @property
    def label(self) -> str:
        where = {"mine": "My tickets", "unassigned": "Unassigned", "overdue": "Overdue"}.get(self.view, "All")
        if self.queue:
            where = f"Queue {self.queue}"
        if self.states == "done":
            where += " (done)"
        return f"{where} · {self.sort}" + (f" · `{self.q}`" if self.q else "")


def cases(words: list[str]) -> list[Case]:
    found: list[Case] = []
    for sort in SORTS:
        found += [Case("mine", sort=sort), Case("unassigned", sort=sort), Case("all", sort=sort),
                  Case("overdue", sort=sort), Case("all", states="done", sort=sort)]
        found += [Case("all", queue=queue, sort=sort) for queue in QUEUES]
    # Text filters as the queue page sends them: in All open and in Resolved and closed
    # (the page has no "all states" queue), soonest due / last updated first.
    found += [Case("all", q=word) for word in words]
    found += [Case("all", states="done", q=word, sort="-updated") for word in words]
    found += [Case("mine", q=word) for word in words[:4]]
    return found


# --------------------------------------------------------------------------- data


def _database(backend: str, tickets: int, pg_admin_url: str) -> str:
    if backend == "sqlite":
        folder = Path(platformdirs.user_cache_dir("desktop_care")) / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / f'tickets-{tickets}.sqlite3'}"
    name = f"dc_bench_tickets_{tickets}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)


def _rows(rng: random.Random, count: int, members: list[int], staff: list[int], now: dt.datetime) -> list[dict[str, Any]]:
    rows = []
    priorities = list(TicketPriority)
    for _ in range(count):
        created = now - dt.timedelta(minutes=rng.randint(10, 2 * 365 * 24 * 60))
        priority = rng.choice(priorities)
        roll = rng.random()
        state = (TicketState.NEW if roll < 0.05 else TicketState.OPEN if roll < 0.11 else
                 TicketState.PENDING if roll < 0.15 else TicketState.RESOLVED if roll < 0.45 else TicketState.CLOSED)
        # Due times a few business days after opening (not counted per ticket: bulk data).
        first_due = created + dt.timedelta(hours=rng.choice((1, 4, 8, 16)) * 3)
        resolution_due = first_due + dt.timedelta(days=rng.randint(1, 10))
        responded = created + dt.timedelta(hours=rng.randint(1, 48)) if state != TicketState.NEW else None
        if state.is_open and rng.random() < 0.7:  # most open tickets are recent, some overdue
            created = now - dt.timedelta(minutes=rng.randint(10, 14 * 24 * 60))
            first_due = created + dt.timedelta(hours=rng.randint(1, 72))
            resolution_due = first_due + dt.timedelta(days=rng.randint(1, 10))
            responded = None if state == TicketState.NEW else min(now, created + dt.timedelta(hours=2))
        updated = max(created, responded or created)
        subject = rng.choice(_SUBJECTS)
        rows.append({
            "uid": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "member_id": rng.choice(members),
            "subject": subject, "search_text": normalize(subject), "queue": rng.choice(QUEUES),
            "assignee_id": rng.choice(staff) if staff and rng.random() < 0.6 else None,
            "priority": priority, "priority_rank": priority.rank, "state": state, "is_open": state.is_open,
            "created_at": created, "updated_at": updated, "created_by": "bench",
            "first_response_due_at": first_due, "resolution_due_at": resolution_due,
            "first_responded_at": responded,
            "resolved_at": updated if not state.is_open else None,
            "next_due_at": resolution_due if responded else first_due,
        })
    return rows


def prepare(backend: str, tickets: int, members: int, pg_admin_url: str) -> tuple[str, int, float | None]:
    """A database with ``tickets`` tickets (reused when it has them)."""
    url = _database(backend, tickets, pg_admin_url)
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(Ticket)) or 0
        have_members = session.scalar(select(func.count()).select_from(Member)) or 0
    seconds: float | None = None
    if count < tickets:
        started = time.perf_counter()
        if have_members < members:
            print(f"[{backend}] seeding {members:,} demo members", flush=True)
            seed_demo(engine, members - have_members, seed=have_members, now=SEED_NOW)
        with Session(engine) as session:
            admin = demo_admin(session)
            session.commit()
            member_ids = list(session.scalars(select(Member.id)))
            staff = list(session.scalars(select(User.id).where(
                User.role.in_([UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN]))))
            staff += [admin.id] * max(1, len(staff) // 4)  # the bench's own user has a full queue
        rng = random.Random(tickets + count)
        now = utcnow()
        print(f"[{backend}] inserting {tickets - count:,} tickets", flush=True)
        with engine.begin() as conn:
            left = tickets - count
            while left > 0:
                step = min(CHUNK, left)
                conn.execute(insert(Ticket), _rows(rng, step, member_ids, staff, now))
                left -= step
        seconds = time.perf_counter() - started
        print(f"[{backend}]   seeded in {seconds:.0f} s", flush=True)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE" if backend == "postgres" else "ANALYZE"))
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(Ticket)) or 0
    engine.dispose()
    return url, count, seconds


def words(session: Session) -> list[str]:
    """Text filters: a last name, a member ID, a ticket number, subject words."""
    rng = random.Random(11)
    top = session.scalar(select(func.max(Member.id))) or 1
    picked: list[str] = []
    while len(picked) < 4:
        member = session.get(Member, rng.randint(1, top))
        if member is not None:
            picked += [member.last_name, member.member_no]
    # Names and member IDs (a few hundred tickets each), a ticket number, subject words
    # (one ticket in eight), a short word (names starting "jo"), a word and a name
    # together, accents and case, a literal "%", no match.
    return [*picked, f"#{rng.randint(1, 900_000)}", "refund", "portal sign", "jo", f"renewal {picked[0]}",
            "RÉNEWAL", "100%", "zzqxj"]


# --------------------------------------------------------------------------- timing


def summary(samples: list[float]) -> dict[str, float]:
    percentile = _search().percentile
    return {"p50": round(statistics.median(samples), 1), "p95": round(percentile(samples, 95), 1),
            "max": round(max(samples), 1)}


def db_call(engine: Engine, staff_id: int) -> Callable[[Case], int]:
    def call(case: Case) -> int:
        with Session(engine) as session:
            page = search_tickets(session, case.q, view=TicketView(case.view), staff_id=staff_id, queue=case.queue,
                                  states=StateGroup(case.states), sort=TicketSort(case.sort), limit=PAGE_SIZE)
            return len(page.rows)

    return call


def http_call(http: requests.Session, api: str) -> Callable[[Case], int]:
    def call(case: Case) -> int:
        params: dict[str, Any] = {"view": case.view, "states": case.states, "sort": case.sort, "q": case.q,
                                  "limit": PAGE_SIZE}
        if case.queue:
            params["queue"] = case.queue
        response = http.get(f"{api}/tickets", params=params, timeout=30)
        response.raise_for_status()
        return len(response.json()["items"])

    return call


def run_backend(backend: str, tickets: int, members: int, repeat: int, pg_admin_url: str) -> dict[str, Any]:
    url, count, seeded = prepare(backend, tickets, members, pg_admin_url)
    engine = make_engine(url)
    with Session(engine) as session:
        all_cases = cases(words(session))
        admin_id = demo_admin(session).id
        open_count = session.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.state.in_(["new", "open", "pending"]))) or 0
    print(f"[{backend}] {len(all_cases)} queries x {repeat} in the database", flush=True)
    db_samples, db_medians = time_cases(all_cases, repeat, db_call(engine, admin_id))
    token = secrets.token_urlsafe(32)
    os.environ[BOOTSTRAP_TOKEN_ENV] = token
    with tempfile.TemporaryDirectory(prefix="dc-bench-tickets-") as workdir:
        server = start_server(url, Path(workdir), timeout=600)
        try:
            print(f"[{backend}] {len(all_cases)} queries x {repeat} over HTTP ({server.url})", flush=True)
            with requests.Session() as http:
                http.headers["Authorization"] = f"Bearer {token}"
                http_samples, http_medians = time_cases(all_cases, repeat, http_call(http, server.api))
        finally:
            server.stop()
    engine.dispose()
    worst = sorted(http_medians.items(), key=lambda item: -item[1])[:10]
    queue_count = sum(1 for case in all_cases if not case.q) * repeat

    def queues(samples: list[float]) -> list[float]:  # (the samples run case by case, in order)
        return [ms for index, ms in enumerate(samples) if not all_cases[index % len(all_cases)].q]

    def texts(samples: list[float]) -> list[float]:
        return [ms for index, ms in enumerate(samples) if all_cases[index % len(all_cases)].q]

    assert len(queues(http_samples)) == queue_count
    return {
        "backend": backend, "tickets": count, "open_tickets": open_count,
        "seed_seconds": round(seeded, 1) if seeded is not None else None, "schema": head_revision(),
        "cases": len(all_cases), "db": summary(queues(db_samples)), "http": summary(queues(http_samples)),
        "text_db": summary(texts(db_samples)), "text_http": summary(texts(http_samples)),
        "slowest": [{"case": case.label, "http_ms": round(ms, 1), "db_ms": round(db_medians[case], 1)}
                    for case, ms in worst],
    }


def report(results: list[dict[str, Any]], info: dict[str, Any], repeat: int) -> str:
    lines = [
        f"# Ticket queue benchmark, {dt.date.today().isoformat()}",
        "",
        f"Target: HTTP p95 < {TARGET_HTTP_P95_MS:.0f} ms (`GET /api/v1/tickets`, first page of {PAGE_SIZE} with its "
        f"total). {results[0]['cases']} queries: My tickets, Unassigned, All open, Overdue, Resolved and closed and "
        f"each of the {len(QUEUES)} queues, each sorted by {', '.join(SORTS)}; plus text filters (last names, member "
        f"IDs, a ticket number, subject words, a short word, a word and a name, accents, `%`, no match) in All open, "
        f"Resolved and closed (-updated) and My tickets (the first four). Each timed {repeat}× after a warm-up. The floor is "
        "`search_tickets` on a session of the same database in the same run. HTTP from one keep-alive client, "
        "sequential requests, to the real server (one worker) on 127.0.0.1. Tickets bulk-inserted (not commands).",
        "",
        *_search().machine_lines(info),
        "## Results (ms)",
        "",
        "The queues (the target):",
        "",
        "| backend | tickets | open | seeding (s) | floor p50 | floor p95 | floor max | HTTP p50 | HTTP p95 | HTTP max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ok = "ok" if r["http"]["p95"] < TARGET_HTTP_P95_MS else "MISSED"
        seeded = f"{r['seed_seconds']:.0f}" if r["seed_seconds"] is not None else "reused"
        lines.append(
            f"| {r['backend']} | {r['tickets']:,} | {r['open_tickets']:,} | {seeded} | {r['db']['p50']} | "
            f"{r['db']['p95']} | {r['db']['max']} | {r['http']['p50']} | {r['http']['p95']} ({ok}) | {r['http']['max']} |")
    lines += ["", "Text filters (words in the subject or the member's name, a member ID or ticket number), "
              "through the trigram indexes (decision 0034):", "",
              "| backend | floor p50 | floor p95 | HTTP p50 | HTTP p95 | HTTP max |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['backend']} | {r['text_db']['p50']} | {r['text_db']['p95']} | {r['text_http']['p50']} | "
              f"{r['text_http']['p95']} | {r['text_http']['max']} |" for r in results]
    for r in results:
        lines += ["", f"### Slowest queries on {r['backend']} (median ms)", "", "| query | floor | HTTP |",
                  "|---|---:|---:|"]
        lines += [f"| {row['case']} | {row['db_ms']} | {row['http_ms']} |" for row in r["slowest"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("DESKTOP_CARE_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    info = _search().machine(args.pg_url if "postgres" in backends else None)
    results = [run_backend(b, args.tickets, args.members, args.repeat, args.pg_url) for b in backends]
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.output / f"tickets-{dt.date.today().isoformat()}"
    text_report = report(results, info, args.repeat)
    stem.with_suffix(".md").write_text(text_report)
    stem.with_suffix(".json").write_text(json.dumps({"machine": info, "results": results}, indent=2))
    print(text_report)
    return 0 if all(r["http"]["p95"] < TARGET_HTTP_P95_MS for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

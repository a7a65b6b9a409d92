"""Bulk invite benchmark: a 10,000-row CSV file (5% bad rows, of every kind), its dry
run and its run, on SQLite and on PostgreSQL.

For each backend, on a fresh database, it times

(a) the floor: ``read_csv`` + ``plan`` (the dry run) and ``apply_rows`` in chunks of
    200 rows, each chunk one write transaction (``server.transactions.transaction``),
    on a session of that database, in this process;
(b) over HTTP, as the dialog does it: ``POST /bulk-invitations/dry-run`` with the
    file, then ``POST /bulk-invitations/run`` chunk after chunk (200 rows each),
    against the real server started on a loopback port (its mail sender delivering
    the invitations into a Maildir meanwhile, as the embedded default does);

each on its own file of new members (a run cannot be timed twice on the same rows:
the second invites nobody). Then it runs the same file again over HTTP (nobody is
invited; timed too). Writes ``bench/results/bulk-invite-<date>.md`` and ``.json``
with the machine noted. Targets: dry run under 10 s, run under 60 s (HTTP). Exits
with 1 when one is missed.

    "$(./dev env)/bin/python" bench/bulk_invite.py
    "$(./dev env)/bin/python" bench/bulk_invite.py --rows 2000 --backends sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bench.search import machine
from desktop_care.command_schemas import BulkRowIn
from desktop_care.commands import Actor
from desktop_care.commands.bulk_invite import apply_rows, plan, read_csv
from desktop_care.config import Timeouts
from desktop_care.models import UserRole
from desktop_care.server.accounts import create_staff
from desktop_care.server.db import make_engine, upgrade
from desktop_care.server.transactions import transaction
from desktop_care.sync.api_client import ApiClient
from desktop_care.ui.bulk_invite import CHUNK_ROWS
from tests.support.bulk_files import BAD_KINDS, arrange_bulk
from tests.support.servers import start_server

TARGET_DRY_RUN_S = 10.0
TARGET_RUN_S = 60.0
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
RESULTS = REPO / "bench" / "results"
PASSWORD = "bench-password-long"


def _database(backend: str, workdir: Path, pg_admin_url: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bulk.sqlite3'}"
    name = f"dc_bench_bulk_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)


def _drop(backend: str, url: str, pg_admin_url: str) -> None:
    if backend != "postgres":
        return
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def floor(url: str, rows: int, bad_share: float, actor: Actor) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as session:
        case = arrange_bulk(session, rows, bad_share=bad_share, seed=1)
    started = time.perf_counter()
    parsed = read_csv(case.content)
    with sessions() as session:
        plans = plan(session, parsed.rows)
    dry = time.perf_counter() - started
    good = [row for row, p in zip(parsed.rows, plans, strict=True) if p.will_invite]
    started = time.perf_counter()
    invited = 0
    for start in range(0, len(good), CHUNK_ROWS):
        with transaction(sessions, write=True) as session:
            invited += sum(o.outcome == "invited" for o in apply_rows(session, good[start:start + CHUNK_ROWS], actor))
    run = time.perf_counter() - started
    engine.dispose()
    assert invited == len(case.good), (invited, len(case.good))
    return {"dry_run_s": round(dry, 2), "run_s": round(run, 2), "rows": rows, "invited": invited,
            "per_invited_row_ms": round(run / max(invited, 1) * 1000, 2)}


def over_http(url: str, workdir: Path, rows: int, bad_share: float) -> dict[str, Any]:
    engine = make_engine(url)
    with Session(engine) as session:
        case = arrange_bulk(session, rows, bad_share=bad_share, seed=2)
        create_staff(session, "bench-staff", PASSWORD, role=UserRole.SOCIETY_STAFF, display_name="Bench", actor="bench")
        session.commit()
    engine.dispose()
    server = start_server(url, workdir)
    try:
        client = ApiClient(server.url, timeouts=Timeouts(connect=5.0, read=300.0))
        client.login("bench-staff", PASSWORD)
        started = time.perf_counter()
        planned = client.bulk_invite_dry_run(case.content, "bench.csv")
        dry = time.perf_counter() - started
        todo = [BulkRowIn(row=r.row, member_id=r.member_id, email=r.email, role=r.role, name=r.name)
                for r in planned.rows if r.action == "invite"]
        chunk_times: list[float] = []
        invited = 0
        started = time.perf_counter()
        for start in range(0, len(todo), CHUNK_ROWS):
            t = time.perf_counter()
            out = client.bulk_invite_run(todo[start:start + CHUNK_ROWS])
            chunk_times.append(time.perf_counter() - t)
            invited += sum(r.outcome == "invited" for r in out.results)
        run = time.perf_counter() - started
        started = time.perf_counter()
        again = client.bulk_invite_dry_run(case.content, "bench.csv")
        dry_again = time.perf_counter() - started
        started = time.perf_counter()
        repeat = [r for start in range(0, len(todo), CHUNK_ROWS)
                  for r in client.bulk_invite_run(todo[start:start + CHUNK_ROWS]).results]
        run_again = time.perf_counter() - started
        client.close()
    finally:
        server.stop()
    assert invited == len(case.good) and again.to_invite == 0
    assert {r.outcome for r in repeat} == {"already_done"}
    ordered = sorted(chunk_times)
    return {
        "dry_run_s": round(dry, 2), "run_s": round(run, 2), "rows": rows, "invited": invited,
        "errors_reported": planned.errors, "chunks": len(chunk_times),
        "chunk_p50_s": round(ordered[len(ordered) // 2], 2), "chunk_max_s": round(ordered[-1], 2),
        "second_dry_run_s": round(dry_again, 2), "second_run_s": round(run_again, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--bad", type=float, default=0.05, help="share of bad rows in all (spread over every kind)")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=os.environ.get("DESKTOP_CARE_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    info = machine(args.pg_url if "postgres" in backends else None)
    bad_share = args.bad / len(BAD_KINDS)
    actor = Actor(user_id=None, username="bench", role=UserRole.SOCIETY_STAFF)
    results: dict[str, Any] = {}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix=f"bench-bulk-{backend}-") as tmp:
            url = _database(backend, Path(tmp), args.pg_url)
            try:
                upgrade(make_engine(url))
                print(f"[{backend}] floor …", flush=True)
                results.setdefault(backend, {})["floor"] = floor(url, args.rows, bad_share, actor)
                print(f"[{backend}]   {results[backend]['floor']}", flush=True)
                print(f"[{backend}] HTTP …", flush=True)
                results[backend]["http"] = over_http(url, Path(tmp), args.rows, bad_share)
                print(f"[{backend}]   {results[backend]['http']}", flush=True)
            finally:
                _drop(backend, url, args.pg_url)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    missed = [f"{b} {what}" for b, r in results.items() for what, limit in
              (("dry_run_s", TARGET_DRY_RUN_S), ("run_s", TARGET_RUN_S)) if r["http"][what] >= limit]
    date = dt.date.today().isoformat()
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / f"bulk-invite-{date}.json").write_text(json.dumps(
        {"date": date, "rows": args.rows, "bad_share": args.bad, "chunk_rows": CHUNK_ROWS, "machine": info,
         "targets": {"dry_run_s": TARGET_DRY_RUN_S, "run_s": TARGET_RUN_S}, "results": results, "missed": missed},
        indent=2) + "\n")
    lines = [
        f"# Bulk invite benchmark, {date}", "",
        f"A {args.rows:,}-row file, {args.bad:.0%} of its rows bad (spread over the {len(BAD_KINDS)} kinds); "
        f"the run sends the good rows in chunks of {CHUNK_ROWS}, one request and one transaction each, one "
        "after the other, as the dialog does. Targets (HTTP): dry run < "
        f"{TARGET_DRY_RUN_S:.0f} s, run < {TARGET_RUN_S:.0f} s. The floor is the same work in-process on a session "
        "of the database (no HTTP, no JSON, no mail sender).", "",
        "## Machine", "",
        f"- CPU: {info['cpu']}, {info['cores']} cores; RAM {info['ram_gib']} GiB; {info['os']}",
        f"- load average (1, 5, 15 min) at the start {info['load_average_at_start']}, at the end "
        f"{info['load_average_at_end']}",
        f"- Python {info['python']}, SQLite {info['sqlite']}"
        + (f", PostgreSQL {info['postgresql']} ({', '.join(f'{k}={v}' for k, v in info['postgresql_settings'].items())})"
           if "postgresql" in info else ""),
        "", "## Results (seconds)", "",
        "| backend | rows | invited | errors | floor dry run | floor run | HTTP dry run | HTTP run | chunk p50 / max "
        "| same file again: dry run / run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, r in results.items():
        f, h = r["floor"], r["http"]
        mark = {what: " (MISSED)" if h[what] >= limit else "" for what, limit in
                (("dry_run_s", TARGET_DRY_RUN_S), ("run_s", TARGET_RUN_S))}
        lines.append(f"| {backend} | {h['rows']:,} | {h['invited']:,} | {h['errors_reported']:,} | {f['dry_run_s']} | "
                     f"{f['run_s']} | {h['dry_run_s']}{mark['dry_run_s']} | {h['run_s']}{mark['run_s']} | "
                     f"{h['chunk_p50_s']} / {h['chunk_max_s']} | {h['second_dry_run_s']} / {h['second_run_s']} |")
    (args.output / f"bulk-invite-{date}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

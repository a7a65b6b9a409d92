"""Portal page render benchmark: the sign-in page, signing in, My orders and an order's
details, each rendered by the real server (one worker, on a loopback port) for several
members at once, on SQLite and on PostgreSQL. Target: p95 under 150 ms for the pages
(signing in also hashes the password with argon2 and is reported on its own).

Each simulated member is a thread with its own cookies: sign in, then open My orders and
one of their orders again and again. The database holds demo members (with their demo
orders) plus the benchmark's members, each with orders as contact and as registrant.

    "$(./dev env)/bin/python" bench/portal.py
    "$(./dev env)/bin/python" bench/portal.py --backends sqlite --members 8 --rounds 10
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.search import machine
from desktop_care.models import (
    LineIn,
    Member,
    User,
    UserCredential,
    UserRole,
    UserState,
    place_order,
)
from desktop_care.server.db import make_engine, upgrade
from desktop_care.server.demo import seed_demo
from desktop_care.server.security import hash_password
from tests.support.servers import start_server

TARGET_MS = 150.0
RESULTS = REPO / "bench" / "results"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
PASSWORD = "bench portal password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("sign-in page", "sign in (argon2)", "my orders", "order detail")


def database(backend: str, pg_admin: str, root: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{root / 'portal-bench.sqlite3'}", None
    name = f"dc_bench_portal_{uuid.uuid4().hex[:8]}"
    with create_engine(pg_admin, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(pg_admin).set(database=name).render_as_string(hide_password=False), name


def arrange(url: str, demo_members: int, members: int) -> list[tuple[str, int]]:
    """Demo data plus ``members`` portal users with orders; (username, an order id) each."""
    engine = make_engine(url)
    upgrade(engine)
    seed_demo(engine, demo_members, seed=11)
    out = []
    password_hash = hash_password(PASSWORD)
    with Session(engine) as session:
        people = []
        for n in range(members):
            member = Member(member_no=f"P{uuid.uuid4().int % 10**9:09d}", logon_id=f"bench-portal-{uuid.uuid4().hex}",
                            first_name=f"Bench{n}", last_name="Portal", email=f"bench{n}@example.org")
            session.add(member)
            session.flush()
            user = User(username=f"bench-portal-{n}-{uuid.uuid4().hex[:6]}", email=member.email,
                        display_name=member.display_name, role=UserRole.FULL, state=UserState.ACTIVE,
                        member_id=member.id)
            session.add(user)
            session.flush()
            session.add(UserCredential(user_id=user.id, password_hash=password_hash))
            people.append((member, user))
        for index, (member, user) in enumerate(people):
            orders = [place_order(session, member, [LineIn("Herd book registration", 2500), LineIn("Postage", 350)])
                      for _ in range(6)]
            friend = people[(index + 1) % len(people)][0]
            place_order(session, friend, [LineIn("Course: Judging basics", 9500)], registrants=[member])
            out.append((user.username, orders[0].id))
        session.commit()
    engine.dispose()
    return out


def member_run(base: str, username: str, order_id: int, rounds: int, times: dict[str, list[float]],
               lock: threading.Lock, errors: list[str], signed_in: threading.Barrier | None = None) -> None:
    http = requests.Session()

    def timed(page: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        answer = http.request(method, base + path, timeout=60, **kwargs)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code != 200:
            errors.append(f"{page}: {answer.status_code}")
        with lock:
            times[page].append(elapsed)
        return answer

    form = timed("sign-in page", "GET", "/portal/sign-in")
    token = _CSRF.search(form.text)
    assert token is not None
    timed("sign in (argon2)", "POST", "/portal/sign-in",
          data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
    if signed_in is not None:
        # Every member signs in first: argon2 hashing then does not sit under the page figures.
        signed_in.wait()
    for _ in range(rounds):
        timed("my orders", "GET", "/portal/orders")
        timed("order detail", "GET", f"/portal/orders/{order_id}")
    anonymous = requests.Session()
    for _ in range(max(1, rounds // 4)):
        started = time.perf_counter()
        answer = anonymous.get(base + "/portal/sign-in", timeout=60)
        with lock:
            times["sign-in page"].append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            errors.append(f"sign-in page: {answer.status_code}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(backend: str, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    url, pg_name = database(backend, args.pg_url, root)
    try:
        started = time.monotonic()
        people = arrange(url, args.demo_members, args.members)
        seeding = time.monotonic() - started
        server = start_server(url, root / f"server-{backend}")
        try:
            times: dict[str, list[float]] = {page: [] for page in PAGES}
            lock, errors = threading.Lock(), []
            # Warm up: one member's pages once.
            member_run(server.url, people[0][0], people[0][1], 2, {p: [] for p in PAGES}, lock, errors)
            barrier = threading.Barrier(len(people))
            threads = [threading.Thread(target=member_run,
                                        args=(server.url, u, o, args.rounds, times, lock, errors, barrier))
                       for u, o in people]
            wall = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.monotonic() - wall
        finally:
            server.stop()
        pages = {page: {"n": len(v), "p50": round(statistics.median(v), 1), "p95": round(percentile(v, 0.95), 1),
                        "max": round(max(v), 1)} for page, v in times.items()}
        requests_made = sum(len(v) for v in times.values())
        return {"backend": backend, "members": args.members, "demo_members": args.demo_members,
                "rounds": args.rounds, "seeding_s": round(seeding, 1), "wall_s": round(wall, 2),
                "requests_per_s": round(requests_made / wall, 1), "errors": errors[:10], "pages": pages}
    finally:
        if pg_name is not None:
            with create_engine(args.pg_url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


def report(results: list[dict[str, Any]], info: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        f"# Portal page render benchmark, {dt.date.today().isoformat()}", "",
        (f"Target: p95 < {TARGET_MS:.0f} ms for the pages. {args.members} members at once (one thread and cookie "
        f"jar each), each signing in and then opening My orders and one order {args.rounds}× each; "
        f"{args.demo_members:,} demo members (with their demo orders) in the database. The real server, one "
        "worker, on 127.0.0.1; requests from the same machine. All members sign in first (argon2, timed on "
        "its own), then the pages are timed."), "",
        ("**The machine was busy** (load average below, on 2 cores): these figures are upper bounds; re-run "
         "on a quiet machine before judging a miss." if info["load_average_at_start"][0] > 2 else
         "The machine was quiet (load average below). With 12 members at once on 2 cores, the server's one "
         "worker and the 12 clients share the same cores."), "",
        "## Machine", "",
        f"- CPU: {info['cpu']}, {info['cores']} cores; RAM {info['ram_gib']} GiB; {info['os']}",
        f"- load average at the start {info['load_average_at_start']}, at the end {info.get('load_average_at_end')}",
        f"- Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {info.get('postgresql', '?')} "
        f"({info.get('postgresql_settings', {})})", "",
        "## Results (ms)", "",
        "| backend | page | requests | p50 | p95 | max |", "|---|---|---:|---:|---:|---:|",
    ]
    for result in results:
        for page, figures in result["pages"].items():
            target = "" if page.startswith("sign in (") else (" (met)" if figures["p95"] < TARGET_MS else " (MISSED)")
            lines.append(f"| {result['backend']} | {page} | {figures['n']} | {figures['p50']} | "
                         f"{figures['p95']}{target} | {figures['max']} |")
    lines += ["", "| backend | wall (s) | requests/s | errors |", "|---|---:|---:|---|"]
    for result in results:
        lines.append(f"| {result['backend']} | {result['wall_s']} | {result['requests_per_s']} | "
                     f"{', '.join(result['errors']) or 'none'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--members", type=int, default=12, help="members signed in at once")
    parser.add_argument("--rounds", type=int, default=15, help="My orders + order detail per member")
    parser.add_argument("--demo-members", type=int, default=3000)
    parser.add_argument("--pg-url", default=os.environ.get("DESKTOP_CARE_TEST_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    info = machine(args.pg_url if "postgres" in backends else None)
    results = []
    with tempfile.TemporaryDirectory(prefix="dc-bench-portal-") as tmp:
        for backend in backends:
            (Path(tmp) / f"server-{backend}").mkdir()
            results.append(run(backend, args, Path(tmp)))
            print(json.dumps(results[-1], indent=1))
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"portal-{dt.date.today().isoformat()}"
    stem.with_suffix(".json").write_text(json.dumps({"machine": info, "results": results}, indent=1) + "\n")
    stem.with_suffix(".md").write_text(report(results, info, args))
    print(f"wrote {stem}.md")


if __name__ == "__main__":
    main()

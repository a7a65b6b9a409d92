"""Society Users page benchmark: ``GET /api/v1/users`` at 100,000 users.

For each backend (SQLite, PostgreSQL) it seeds demo members until there are at least
N users (default 100,000: members' portal users, non-member users, staff), throttles a
few hundred of them, then times over a fixed list of filters

(a) ``search_users`` on a session of that database (the database's own floor), and
(b) ``GET /api/v1/users`` against the real server started on a loopback port,

and writes p50/p95/max with the machine noted to ``bench/results/users-<date>.md`` and
``.json``. Target: HTTP p95 under 50 ms. Exits with 1 when it is missed.

    "$(./dev env)/bin/python" bench/users.py
    "$(./dev env)/bin/python" bench/users.py --users 20000 --backends sqlite --repeat 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.util
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import platformdirs
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from desktop_care.models import SignInThrottle, User, UserRole
from desktop_care.models.user_search import StateFilter, search_users
from desktop_care.server.app import BOOTSTRAP_TOKEN_ENV
from desktop_care.server.db import head_revision, make_engine, upgrade
from desktop_care.server.demo import seed_demo
from tests.support.servers import start_server

TARGET_HTTP_P95_MS = 50.0
PAGE_SIZE = 50
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
RESULTS = REPO / "bench" / "results"
SEED_NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
#: Demo members come with about 0.9 users each: seed in steps of this many.
SEED_STEP = 20_000
LOCKED = 300


def _search() -> Any:
    """bench/search.py (machine facts and the report's Machine section), loaded once."""
    if "bench_search" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_search", REPO / "bench" / "search.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_search"] = module  # its dataclasses look themselves up there
        spec.loader.exec_module(module)
    return sys.modules["bench_search"]


@dataclass(frozen=True)
class Case:
    kind: str
    q: str = ""
    roles: tuple[str, ...] = ()
    states: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        parts = [f"`{self.q}`" if self.q else "(no text)"]
        if self.roles:
            parts.append("role=" + ",".join(self.roles))
        if self.states:
            parts.append("state=" + ",".join(self.states))
        return " ".join(parts)


STAFF = (UserRole.SOCIETY_ADMIN.value, UserRole.SOCIETY_STAFF.value)
FIXED: list[Case] = [
    Case("everyone"),
    *(Case("role/state", roles=r, states=s) for r, s in [
        (STAFF, ()), (("non_member",), ()), (("full", "standard"), ()), ((), ("disabled",)), ((), ("locked",)),
        ((), ("invited",)), ((), ("revoked",)), (STAFF, ("active",)), (("standard",), ("disabled", "revoked")),
    ]),
    *(Case("short", q) for q in ["a", "e", "jo", "an", "1", "@"]),
    *(Case("common", q) for q in ["smith", "jones", "example", "example.org", "son", "john", "sarah", "wood"]),
    *(Case("no-match", q) for q in ["zzqxj", "qxzqxz", "@nowhere.invalid", "99999999999", "xylophonequartz"]),
    *(Case("text+filter", q, r, s) for q, r, s in [
        ("smith", STAFF, ()), ("example", ("non_member",), ()), ("jo", (), ("disabled",)),
        ("smith", (), ("locked",)), ("demo", STAFF, ("active",)),
    ]),
]


def derived(session: Session, seed: int = 7) -> list[Case]:
    """Terms from users picked by a seeded RNG: usernames, names, e-mails, member IDs."""
    rng = random.Random(seed)
    top = session.scalar(select(func.max(User.id))) or 1
    cases: list[Case] = []
    while len(cases) < 40:
        user = session.get(User, rng.randint(1, top))
        if user is None:
            continue
        kind = ("username", "name", "email", "member-id")[len(cases) % 4]
        if kind == "username":
            cases.append(Case(kind, user.username[: rng.randint(4, len(user.username))]))
        elif kind == "name" and user.display_name:
            words = user.display_name.split()
            cases.append(Case(kind, " ".join(w[: rng.randint(2, len(w))] for w in words)))
        elif kind == "email" and user.email:
            start = rng.randint(0, max(0, len(user.email) - 6))
            cases.append(Case(kind, user.email[start : start + rng.randint(5, 12)]))
        elif kind == "member-id" and user.member_id is not None:
            cases.append(Case(kind, str(1_000_000 + user.member_id)))
    return cases


# --------------------------------------------------------------------------- data


def _database(backend: str, users: int, pg_admin_url: str) -> str:
    if backend == "sqlite":
        folder = Path(platformdirs.user_cache_dir("desktop_care")) / "bench"
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / f'users-{users}.sqlite3'}"
    name = f"dc_bench_users_{users}"
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)


def prepare(backend: str, users: int, pg_admin_url: str) -> tuple[str, int, float | None]:
    """A database with at least ``users`` users (reused when it has them)."""
    url = _database(backend, users, pg_admin_url)
    engine = make_engine(url)
    upgrade(engine)
    seconds: float | None = None
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(User)) or 0
    if count < users:
        print(f"[{backend}] seeding until there are {users:,} users (now {count:,})", flush=True)
        started = time.perf_counter()
        while count < users:
            seed_demo(engine, SEED_STEP, seed=count, now=SEED_NOW)
            with Session(engine) as session:
                count = session.scalar(select(func.count()).select_from(User)) or 0
            print(f"[{backend}]   {count:,} users", flush=True)
        with Session(engine) as session:
            picked = session.scalars(select(User.username).order_by(User.id).limit(LOCKED * 97)).all()[::97]
            until = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)  # locked for the whole run
            session.add_all(SignInThrottle(username=u, failures=9, last_failure_at=dt.datetime.now(dt.UTC), blocked_until=until)
                            for u in picked)
            session.commit()
        seconds = time.perf_counter() - started
        if backend == "postgres":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return url, count, seconds


# --------------------------------------------------------------------------- timing


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1),
        "max": round(ordered[-1], 1),
    }


def time_cases(cases: list[Case], repeat: int, call: Callable[[Case], int]) -> tuple[list[float], dict[Case, float]]:
    for case in cases:
        call(case)  # warm-up
    samples: list[float] = []
    per_case: dict[Case, list[float]] = {case: [] for case in cases}
    gc.collect()
    gc.freeze()
    try:
        for _ in range(repeat):
            for case in cases:
                started = time.perf_counter()
                call(case)
                ms = (time.perf_counter() - started) * 1000
                samples.append(ms)
                per_case[case].append(ms)
    finally:
        gc.unfreeze()
    return samples, {case: statistics.median(values) for case, values in per_case.items()}


def db_call(engine: Engine) -> Callable[[Case], int]:
    def call(case: Case) -> int:
        with Session(engine) as session:
            page = search_users(session, case.q, roles=frozenset(UserRole(r) for r in case.roles),
                                states=frozenset(StateFilter(s) for s in case.states), limit=PAGE_SIZE)
            return len(page.rows)

    return call


def http_call(http: requests.Session, api: str) -> Callable[[Case], int]:
    def call(case: Case) -> int:
        params: dict[str, Any] = {"q": case.q, "limit": PAGE_SIZE}
        if case.roles:
            params["role"] = list(case.roles)
        if case.states:
            params["state"] = list(case.states)
        response = http.get(f"{api}/users", params=params, timeout=30)
        response.raise_for_status()
        return len(response.json()["items"])

    return call


def run_backend(backend: str, users: int, repeat: int, pg_admin_url: str) -> dict[str, Any]:
    url, count, seeded = prepare(backend, users, pg_admin_url)
    engine = make_engine(url)
    with Session(engine) as session:
        cases = FIXED + derived(session)
    print(f"[{backend}] {len(cases)} filters x {repeat} in the database", flush=True)
    db_samples, db_slowest = time_cases(cases, repeat, db_call(engine))
    token = secrets.token_urlsafe(32)
    os.environ[BOOTSTRAP_TOKEN_ENV] = token
    with tempfile.TemporaryDirectory(prefix="dc-bench-users-") as workdir:
        server = start_server(url, Path(workdir), timeout=600)
        try:
            print(f"[{backend}] {len(cases)} filters x {repeat} over HTTP ({server.url})", flush=True)
            with requests.Session() as http:
                http.headers["Authorization"] = f"Bearer {token}"
                http_samples, http_slowest = time_cases(cases, repeat, http_call(http, server.api))
        finally:
            server.stop()
    engine.dispose()

    def slowest(medians: dict[Case, float]) -> list[dict[str, Any]]:
        worst = sorted(medians.items(), key=lambda item: -item[1])[:8]
        return [{"case": case.label, "kind": case.kind, "ms": round(ms, 1)} for case, ms in worst]

    return {
        "backend": backend,
        "users": count,
        "seed_seconds": round(seeded, 1) if seeded is not None else None,
        "schema": head_revision(),
        "cases": len(cases),
        "db": summary(db_samples),
        "http": summary(http_samples),
        "slowest_db": slowest(db_slowest),
        "slowest_http": slowest(http_slowest),
    }


def report(results: list[dict[str, Any]], info: dict[str, Any], repeat: int) -> str:
    lines = [
        f"# Society Users search benchmark, {dt.date.today().isoformat()}",
        "",
        f"Target: HTTP p95 < {TARGET_HTTP_P95_MS:.0f} ms (`GET /api/v1/users`, first page of {PAGE_SIZE} with its "
        f"total). {results[0]['cases']} filters (no filter, role and state filters, short, common, no-match and "
        "data-derived text: usernames, names, e-mails, member IDs; text with filters), each timed "
        f"{repeat}× after a warm-up; the database figure is `search_users` on a session of the same database in the "
        "same run (the floor under the HTTP figure). HTTP from one keep-alive client, sequential requests, to the "
        "real server (one worker) on 127.0.0.1.",
        "",
        *_search().machine_lines(info),
        "## Results (ms)",
        "",
        "| backend | users | seeding (s) | DB p50 | DB p95 | DB max | HTTP p50 | HTTP p95 | HTTP max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ok = "ok" if r["http"]["p95"] < TARGET_HTTP_P95_MS else "MISSED"
        seeded = f"{r['seed_seconds']:.0f}" if r["seed_seconds"] is not None else "reused"
        lines.append(
            f"| {r['backend']} | {r['users']:,} | {seeded} | {r['db']['p50']} | {r['db']['p95']} | {r['db']['max']} "
            f"| {r['http']['p50']} | {r['http']['p95']} ({ok}) | {r['http']['max']} |"
        )
    for r in results:
        lines += ["", f"### Slowest filters on {r['backend']} (median ms)", "", "| filter | kind | DB | HTTP |",
                  "|---|---|---:|---:|"]
        http = {row["case"]: row["ms"] for row in r["slowest_http"]}
        for row in r["slowest_db"]:
            lines.append(f"| {row['case']} | {row['kind']} | {row['ms']} | {http.get(row['case'], '')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("DESKTOP_CARE_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    info = _search().machine(args.pg_url if "postgres" in backends else None)
    results = [run_backend(b, args.users, args.repeat, args.pg_url) for b in backends]
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.output / f"users-{dt.date.today().isoformat()}"
    text_report = report(results, info, args.repeat)
    stem.with_suffix(".md").write_text(text_report)
    stem.with_suffix(".json").write_text(json.dumps({"machine": info, "results": results}, indent=2))
    print(text_report)
    return 0 if all(r["http"]["p95"] < TARGET_HTTP_P95_MS for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

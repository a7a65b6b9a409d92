"""Sorted member search benchmark: a sorted page beside the unsorted search, same run.

For each backend it seeds N members (default 1,000,000) with the server's demo seeder
into its own database (``sort-<N>.sqlite3``, ``dc_bench_sort_<N>``; reused when already
seeded), upgrades it (the sort indexes of migration 0022), then times, in the database:

- the **floor**: the unsorted ``search_members`` of each query, first page;
- each sort (ascending and descending) of each query: the first page, and the fifth
  page reached by following the cursors (the fifth alone is timed).

Queries: none (the whole register), a rare term (a surname: a few hundred matches,
sorted in SQL), a common term ("smith": more than the count cap, so the sort index is
walked) and a short prefix ("jo"). The report gives each sort's median beside the
floor's, their ratio, and the query plan of the sorted first page, with the machine's
load at start and end (the machine is shared: the ratios are what count).

    "$(./dev env)/bin/python" bench/sort.py                     # 1M members, both backends
    "$(./dev env)/bin/python" bench/sort.py --members 20000 --backends sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from bench.search import (
    DEFAULT_PG_URL,
    SEED,
    SEED_NOW,
    cache_dir,
    captured_statements,
    machine,
    recreate_database,
    seed_fingerprint,
    seeded_count,
)
from desktop_care.models.search import search_members
from desktop_care.models.search_sort import MemberSort
from desktop_care.server.db import make_engine, upgrade
from desktop_care.server.demo import seed_demo

RESULTS = REPO / "bench" / "results"
PAGE_SIZE = 50
#: The queries: (label, q). The rare surname is picked from the data (see rare_term).
COMMON, SHORT = "smith", "jo"
SORTS = [MemberSort.BALANCE_DESC, MemberSort.BALANCE, MemberSort.POINTS_DESC, MemberSort.NAME,
         MemberSort.NAME_DESC, MemberSort.EMAIL, MemberSort.MEMBER_NO_DESC, MemberSort.STATUS,
         MemberSort.PENDING_DESC, MemberSort.LAST_LOGIN_DESC, MemberSort.LAST_LOGIN]


def database_url(backend: str, members: int, pg_admin_url: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{cache_dir() / f'sort-{members}.sqlite3'}"
    return make_url(pg_admin_url).set(database=f"dc_bench_sort_{members}").render_as_string(hide_password=False)


def prepare(backend: str, members: int, pg_admin_url: str) -> str:
    """A database seeded with ``members`` members (seeded once, then reused), at the head."""
    url = database_url(backend, members, pg_admin_url)
    marker = cache_dir() / f"sort-{backend}-{members}.seeded"
    if seeded_count(url) == members and marker.exists() and marker.read_text().strip() == seed_fingerprint():
        print(f"[{backend}] reusing the database seeded with {members:,} members", flush=True)
        upgrade(url)
        return url
    print(f"[{backend}] seeding {members:,} members", flush=True)
    marker.unlink(missing_ok=True)
    recreate_database(backend, url, pg_admin_url)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        upgrade(engine)
        seed_demo(engine, members, seed=SEED, now=SEED_NOW)
        print(f"[{backend}] seeded in {time.perf_counter() - started:,.0f} s", flush=True)
    finally:
        engine.dispose()
    if backend == "postgres":
        vacuum = create_engine(url, isolation_level="AUTOCOMMIT")
        with vacuum.connect() as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
        vacuum.dispose()
    else:
        with make_engine(url).connect() as conn:
            conn.execute(text("ANALYZE"))
    marker.write_text(seed_fingerprint() + "\n")
    return url


def rare_term(engine: Engine) -> str:
    """A surname a few hundred members share (the same one on every backend)."""
    with engine.connect() as conn:
        return str(conn.execute(text(
            "SELECT last_key FROM member_search GROUP BY last_key HAVING count(*) BETWEEN 100 AND 2000 "
            "ORDER BY last_key LIMIT 1")).scalar_one())


def timed(repeat: int, call: Callable[[], Any]) -> float:
    """Median milliseconds of ``call`` over ``repeat`` runs, after one warm-up."""
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def cursor_of_page(session: Session, q: str, sort: MemberSort | None, page: int) -> str | None:
    cursor = None
    for _ in range(page - 1):
        cursor = search_members(session, q, PAGE_SIZE, cursor, sort=sort).next_cursor
    return cursor


def plan(engine: Engine, backend: str, q: str, sort: MemberSort) -> list[str]:
    """The plans of the statements of a sorted first page (the last two: page and load)."""
    with Session(engine) as session, captured_statements(engine) as statements:
        search_members(session, q, PAGE_SIZE, sort=sort)
    out = []
    with engine.connect() as conn:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT") or "member_search" not in statement:
                continue
            prefix = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            lines = [str(r[-1]) for r in rows]
            out.append(" | ".join(lines))
    return out


def run_backend(backend: str, members: int, repeat: int, pg_url: str) -> dict[str, Any]:
    url = prepare(backend, members, pg_url)
    engine = make_engine(url)
    rare = rare_term(engine)
    queries = {"none": "", "rare": rare, "common": COMMON, "short": SHORT}
    rows: list[dict[str, Any]] = []
    plans: dict[str, list[str]] = {}
    with Session(engine) as session:
        for label, q in queries.items():
            floor = timed(repeat, partial(search_members, session, q, PAGE_SIZE))
            floor_cursor = cursor_of_page(session, q, None, 5)
            floor5 = timed(repeat, partial(search_members, session, q, PAGE_SIZE, floor_cursor))
            for sort in SORTS:
                first = timed(repeat, partial(search_members, session, q, PAGE_SIZE, sort=sort))
                cursor = cursor_of_page(session, q, sort, 5)
                fifth = timed(repeat, partial(search_members, session, q, PAGE_SIZE, cursor, sort=sort))
                rows.append({"query": label, "q": q, "sort": sort.value, "floor_ms": round(floor, 2),
                             "first_ms": round(first, 2), "floor_page5_ms": round(floor5, 2),
                             "page5_ms": round(fifth, 2)})
                print(f"[{backend}] {label:6} {sort.value:12} first {first:7.1f} ms (floor {floor:6.1f}); "
                      f"page 5 {fifth:7.1f} ms (floor {floor5:6.1f})", flush=True)
    for label, q in queries.items():
        for sort in (MemberSort.BALANCE_DESC, MemberSort.NAME):
            plans[f"{label} {sort.value}"] = plan(engine, backend, q, sort)
    engine.dispose()
    return {"backend": backend, "members": members, "rare_term": rare, "rows": rows, "plans": plans}


def markdown(results: list[dict[str, Any]], info: dict[str, Any], repeat: int) -> str:
    lines = [f"# Sorted member search — {dt.date.today().isoformat()}", "",
             f"Median of {repeat} runs after a warm-up, in the database, {PAGE_SIZE} a page; the floor is the "
             "unsorted search of the same query in the same run. Machine: "
             f"{info['cores']} cores, {info['cpu']}; SQLite {info['sqlite']}"
             + (f", PostgreSQL {info['postgresql']}" if "postgresql" in info else "")
             + f"; load average {info['load_average_at_start']} at start, {info['load_average_at_end']} at end "
             "(a shared machine: read the ratios).", ""]
    for result in results:
        lines += [f"## {result['backend']}, {result['members']:,} members (rare term: “{result['rare_term']}”)", "",
                  "| query | sort | first page ms | floor ms | ratio | page 5 ms | floor page 5 ms |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for row in result["rows"]:
            ratio = row["first_ms"] / row["floor_ms"] if row["floor_ms"] else 0.0
            lines.append(f"| {row['query']} | `{row['sort']}` | {row['first_ms']:.1f} | {row['floor_ms']:.1f} | "
                         f"{ratio:.2f} | {row['page5_ms']:.1f} | {row['floor_page5_ms']:.1f} |")
        lines += ["", "Plans of the sorted first page (statements on member_search):", ""]
        for name, found in result["plans"].items():
            lines.append(f"- **{name}**")
            lines += [f"  - `{p}`" for p in found]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg-url", default=os.environ.get("DESKTOP_CARE_TEST_PG_URL", DEFAULT_PG_URL))
    parser.add_argument("--prepare-only", action="store_true", help="seed the databases and stop")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(backends) - {"sqlite", "postgres"} or not backends:
        parser.error("--backends: sqlite,postgres")
    if args.prepare_only:
        for backend in backends:
            prepare(backend, args.members, args.pg_url)
        return 0
    info = machine(args.pg_url if "postgres" in backends else None)
    results = [run_backend(backend, args.members, args.repeat, args.pg_url) for backend in backends]
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.output / f"sort-{dt.date.today().isoformat()}"
    stem.with_suffix(".md").write_text(markdown(results, info, args.repeat))
    stem.with_suffix(".json").write_text(json.dumps({"machine": info, "page_size": PAGE_SIZE, "repeat": args.repeat,
                                                     "results": results}, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {stem}.md and {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

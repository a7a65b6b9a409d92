"""Load test: many workstations pushing and pulling against one server, which crashes.

50 simulated workstations (each its own LocalStore, signed-in ApiClient and Syncer, as
a desk runs them) work for 60 s against one server with 4 worker processes on
PostgreSQL, on loopback. Each round, a workstation queues one points adjustment (+1)
on a member of a shared set and runs a push-then-pull sync. Half-way, the server and
its workers are killed (SIGKILL) and started again on the same port; workstations keep
working offline meanwhile and catch up when it answers.

Then every workstation syncs until its outbox is empty, and the run checks:

* no command lost: every queued op_id was applied by the server, once;
* none duplicated: each member's balance on the server is its opening balance plus
  the number of adjustments queued for it;
* every workstation converges: its replica holds the server's balance for every member.

It reports the p95 of a push (``POST /sync/commands``) and of a pull page
(``GET /sync/changes``), as the workstations' Syncers made them, into bench/results/.

    PYTHONPATH=$PWD "$(./dev env)/bin/python" bench/load.py
    ... bench/load.py --workstations 10 --seconds 20      # a quick look

PostgreSQL comes from DESKTOP_CARE_TEST_PG_URL (``./dev test`` prints the one it uses;
default ``postgresql+psycopg://postgres@127.0.0.1:55432/postgres``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.search import machine, percentile
from desktop_care import config
from desktop_care.commands import AdjustPoints, Command, CommandResult
from desktop_care.models import Member, PointsType
from desktop_care.models.sync import ProcessedCommand, backfill_feed
from desktop_care.schemas import FeedPage
from desktop_care.server.accounts import create_staff
from desktop_care.sync import LocalStore, Syncer
from desktop_care.sync.api_client import ApiClient
from desktop_care.sync.local_store import Author
from tests.support.servers import PG_ENV, DatabaseFactory, LiveServer, start_server
from tests.ui.arrange import add_members

RESULTS = REPO / "bench" / "results"
PASSWORD = "load test password"
OPENING_BALANCE = 0


class TimedClient(ApiClient):
    """The real client, timing each successful push and feed page."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.push_ms: list[float] = []
        self.pull_ms: list[float] = []

    def push(self, commands: Sequence[Command]) -> list[CommandResult]:
        started = time.perf_counter()
        results = super().push(commands)
        self.push_ms.append((time.perf_counter() - started) * 1000)
        return results

    def changes(self, after: int, limit: int = 1000) -> FeedPage:
        started = time.perf_counter()
        page = super().changes(after, limit)
        self.pull_ms.append((time.perf_counter() - started) * 1000)
        return page


@dataclass
class Desk:
    name: str
    store: LocalStore
    client: TimedClient
    syncer: Syncer
    #: Whose changes the desk queues (pushed only under that staff member's session).
    author: Author
    queued: list[AdjustPoints] = field(default_factory=list)
    rounds: int = 0
    failed_rounds: int = 0

    def work(self, members: list[int], stop: threading.Event, rng: random.Random, think: float) -> None:
        while not stop.is_set():
            command = AdjustPoints(member_id=rng.choice(members), delta=1, points_type=PointsType.GOODWILL,
                                   reason=f"load test {self.name}")
            self.store.enqueue(command, self.author)
            self.queued.append(command)
            self.rounds += 1
            if not self.syncer.sync_once():
                self.failed_rounds += 1
            stop.wait(rng.uniform(0, 2 * think))  # think time; ends at once when told to stop

    def drain(self, attempts: int = 30) -> None:
        """Sync until nothing waits and the feed is read to its end (bounded)."""
        for _ in range(attempts):
            if self.syncer.sync_once() and self.store.pending_count() == 0:
                return
            time.sleep(0.2)  # the server may still be starting its workers
        raise AssertionError(f"{self.name}: {self.store.pending_count()} commands still queued")


def run(workstations: int, seconds: float, workers: int, members_count: int, think: float) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="dc-load-"))
    databases = DatabaseFactory(root)
    url = databases.create("postgres")
    (root / "first").mkdir()
    server = start_server(url, root / "first", "--workers", str(workers))
    port = int(server.url.rsplit(":", 1)[1])
    desks: list[Desk] = []
    try:
        members = add_members(server, "Load", members_count)
        with Session(server.engine()) as session:
            backfill_feed(session)
            names = [create_staff(session, f"load.{i:02d}", PASSWORD, display_name=f"Desk {i}", actor="bench").username
                     for i in range(workstations)]
            session.commit()
        for i, username in enumerate(names):
            client = TimedClient(server.url)
            client.timeouts = config.Timeouts(connect=2.0, read=20.0)
            client.login(username, PASSWORD)
            store = LocalStore(root / f"desk-{i:02d}.sqlite3")
            syncer = Syncer(store, client, on_event=lambda event: None, autostart=False)
            desks.append(Desk(f"desk-{i:02d}", store, client, syncer, Author.of(client.me())))
        for desk in desks:  # the directory first, so the timed rounds are the steady state
            desk.drain()
            desk.client.pull_ms.clear()

        stop = threading.Event()
        threads = [threading.Thread(target=desk.work, args=(members, stop, random.Random(i), think), daemon=True)
                   for i, desk in enumerate(desks)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        stop.wait(seconds / 2)
        server.kill()
        killed_at = time.monotonic() - started
        (root / "second").mkdir()
        server = start_server(url, root / "second", "--workers", str(workers), port=port)
        back_at = time.monotonic() - started
        stop.wait(max(0.0, seconds - (time.monotonic() - started)))
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a workstation did not stop"
        for desk in desks:
            desk.drain()
        for desk in desks:  # a second pass: each pulls what the others pushed last
            desk.drain()
        return check(server, desks, members, seconds, killed_at, back_at, workers)
    finally:
        for desk in desks:
            desk.syncer.stop()
            desk.client.close()
            desk.store.close()
        server.stop()
        databases.drop_all()


def check(server: LiveServer, desks: list[Desk], members: list[int], seconds: float, killed_at: float,
          back_at: float, workers: int) -> dict[str, Any]:
    queued = [command for desk in desks for command in desk.queued]
    op_ids = {str(command.op_id) for command in queued}
    assert len(op_ids) == len(queued)
    per_member = Counter(command.member_id for command in queued)
    with Session(server.engine()) as session:
        applied = {row.op_id for row in session.scalars(select(ProcessedCommand).where(
            ProcessedCommand.op_id.in_(list(op_ids)))) if row.result.get("status") == "applied"}
        balances = dict(session.execute(select(Member.id, Member.points_balance).where(Member.id.in_(members))).all())
        processed = session.scalar(select(func.count()).select_from(ProcessedCommand)) or 0
    lost = op_ids - applied
    assert not lost, f"{len(lost)} queued commands were never applied"
    assert processed == len(op_ids), f"{processed} commands processed for {len(op_ids)} queued"
    wrong = {m: (balances[m], OPENING_BALANCE + per_member[m]) for m in members
             if balances[m] != OPENING_BALANCE + per_member[m]}
    assert not wrong, f"balances differ from the adjustments queued (duplicated or lost): {wrong}"
    for desk in desks:
        with desk.store.engine.connect() as conn:
            local = dict(conn.execute(select(Member.id, Member.points_balance).where(Member.id.in_(members))).all())
        assert local == balances, f"{desk.name} did not converge"
    pushes = [ms for desk in desks for ms in desk.client.push_ms]
    pulls = [ms for desk in desks for ms in desk.client.pull_ms]
    return {
        "date": dt.date.today().isoformat(),
        "workstations": len(desks),
        "server_workers": workers,
        "database": "postgresql",
        "seconds": seconds,
        "killed_at_s": round(killed_at, 1),
        "answering_again_at_s": round(back_at, 1),
        "commands": len(queued),
        "rounds": sum(desk.rounds for desk in desks),
        "rounds_failed_while_down": sum(desk.failed_rounds for desk in desks),
        "lost": 0,
        "duplicated": 0,
        "converged": len(desks),
        "push": {"count": len(pushes), "p50_ms": round(sorted(pushes)[len(pushes) // 2], 1),
                 "p95_ms": round(percentile(pushes, 95), 1)},
        "pull_page": {"count": len(pulls), "p50_ms": round(sorted(pulls)[len(pulls) // 2], 1),
                      "p95_ms": round(percentile(pulls, 95), 1)},
        "machine": machine(os.environ.get(PG_ENV)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workstations", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--think", type=float, default=0.5, help="mean pause between a desk's rounds (s)")
    parser.add_argument("--no-save", action="store_true", help="print, do not write bench/results/")
    args = parser.parse_args()
    os.environ.setdefault(PG_ENV, "postgresql+psycopg://postgres@127.0.0.1:55432/postgres")
    report = run(args.workstations, args.seconds, args.workers, args.members, args.think)
    print(json.dumps(report, indent=2))
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"load-{report['date']}.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

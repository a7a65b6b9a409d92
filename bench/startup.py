"""Start-up benchmark: launch to a usable window, launch to the first results, cold and
warm, and resident memory, with 3,000 and 1,000,000 members in the local replica.

The real app (``python -m desktop_care``, the embedded default, offscreen) is launched
as a child process with ``DESKTOP_CARE_STARTUP_MARKS=1``: it writes each point of its
start to stderr with the system's monotonic clock, its resident memory and the CPU
time it has used (``desktop_care/logs.py`` ``mark``), and quits once its first sync
round after the server answered is done (``DESKTOP_CARE_QUIT_AFTER=synced``). Measured from just
before the launch:

- **window**: the main window is shown (its search box answers from the replica);
- **results**: the first page of results is on screen;
- **server**: the embedded server answers (it starts once the first results are on screen);
- **synced**: the first sync round after that is done.

*Cold* is the first launch of a run with no compiled bytecode (a fresh
``PYTHONPYCACHEPREFIX``) and, with ``--drop-caches`` (root), the OS file cache dropped; *warm* is
the median of the launches after one more (which fills the warm bytecode cache, as an
installed app has it: ``PYTHONDONTWRITEBYTECODE`` is dropped from the environment). Each figure stands beside its **floor**, measured
in the same run the same way: a bare ``python -c`` that imports PySide6.QtWidgets and
shows an empty QMainWindow.

The data directories are built once under ``~/.cache/desktop_care/bench/``:
``startup-3000`` by a first start of the app (it seeds 3,000 demo members and pulls them),
``startup-1000000`` from a copy of it whose replica gets 997,000 more members, copies of
the demo members with other ids (the server keeps its 3,000: what is measured is the
app with a 1,000,000-member replica, not a pull of a million).

    .venv/bin/python bench/startup.py                 # both sizes, 3 warm runs each
    .venv/bin/python bench/startup.py --sizes 3000 --runs 5

``--baseline DIR`` also launches the app from another checkout (say main's, from
``git worktree add /tmp/main main``) on the same data, its warm launches interleaved
with this checkout's, so that a change is measured against the code before it under
the same load (a shared machine's load moves a lone figure by several times).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.search import machine, machine_lines

CACHE = Path.home() / ".cache" / "desktop_care" / "bench"
RESULTS = REPO / "bench" / "results"
MARKS = ("window", "results", "server", "synced")
TARGETS = {"window_s": 1.0, "rss_mb": 200.0}
SMALL = 3000

FLOOR = """
import os, sys, time
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
window = QMainWindow()
window.resize(1280, 760)
window.show()
app.processEvents()
rss = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS:'))
print(f"desktop-care-mark window {time.monotonic():.4f} {rss} {rss} {time.process_time():.3f}", file=sys.stderr,
      flush=True)
"""


def drop_file_cache() -> bool:
    """Drop the OS file cache (needs root and a writable /proc/sys); whether it did."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def launch(command: list[str], env: dict[str, str], timeout: float, cwd: Path = REPO) -> dict[str, Any]:
    """Run ``command``; the seconds from launch to each mark and its memory (MB)."""
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=str(cwd))
    marks: dict[str, Any] = {}
    for line in result.stderr.splitlines():
        if line.startswith("desktop-care-mark "):
            name, at, rss, peak, *cpu = line.split()[1:]  # CPU time: not from a baseline before it was added
            marks[name] = {"s": round(float(at) - started, 3), "rss_mb": round(int(rss) / 1024, 1),
                           "peak_mb": round(int(peak) / 1024, 1), **({"cpu_s": float(cpu[0])} if cpu else {})}
    if result.returncode != 0 or "window" not in marks:
        raise RuntimeError(f"{command[-1][:40]!r} exited {result.returncode}: {result.stderr[-3000:]}")
    marks["total_s"] = round(time.monotonic() - started, 3)
    return marks


#: Compiled bytecode of warm launches (as an installed app has it), outside the tree.
WARM_PYCACHE = CACHE / "startup-pycache"


def python_env(pycache: Path | None, **extra: str) -> dict[str, str]:
    """The environment of a launch: bytecode written and read under ``pycache`` (a fresh
    directory: cold; None: the warm one), whatever this shell says."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPYCACHEPREFIX=str(pycache or WARM_PYCACHE), **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def app_env(data_dir: Path, pycache: Path | None, code: Path = REPO) -> dict[str, str]:
    return python_env(pycache, DESKTOP_CARE_DATA_DIR=str(data_dir), DESKTOP_CARE_STARTUP_MARKS="1",
                      DESKTOP_CARE_QUIT_AFTER="synced", PYTHONPATH=str(code))


def run_app(data_dir: Path, pycache: Path | None = None, code: Path = REPO) -> dict[str, Any]:
    """Launch the app of the checkout ``code`` (this one by default) on ``data_dir``."""
    return launch([sys.executable, "-m", "desktop_care"], app_env(data_dir, pycache, code), timeout=900,
                  cwd=code)


def run_floor(pycache: Path | None = None) -> dict[str, Any]:
    return launch([sys.executable, "-c", FLOOR], python_env(pycache), timeout=300)


# --------------------------------------------------------------------------- data


def small_dir() -> Path:
    """A data directory after a first start: 3,000 demo members, pulled, admin remembered."""
    path = CACHE / f"startup-{SMALL}"
    if not (path / "workstation" / "embedded-staff.json").exists():
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        print(f"first start into {path} (seeds {SMALL:,} demo members) ...", flush=True)
        first = run_app(path)
        (path / "first-start.json").write_text(json.dumps(first))
    return path


def big_dir(members: int) -> Path:
    """A copy of the small directory whose replica holds ``members`` members."""
    path = CACHE / f"startup-{members}"
    if (path / "replica.ready").exists():
        return path
    if not (path / "workstation" / "embedded.sqlite3").exists():
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(small_dir(), path)
    print(f"filling the replica in {path} to {members:,} members (goes on from an interrupted fill) ...", flush=True)
    started = time.monotonic()
    _fill_replica(path, members)
    (path / "replica.ready").write_text(f"{members} members, {time.monotonic() - started:.0f} s\n")
    return path


def _check_replica(path: Path, members: int) -> None:
    """Stop when the replica no longer holds ``members`` members: a version whose replica
    fingerprint differed (docs/decisions/0046) dropped it and pulled the server's again."""
    with sqlite3.connect(path / "workstation" / "embedded.sqlite3") as conn:
        have = conn.execute("SELECT count(*) FROM member").fetchone()[0]
    if have < members:
        raise RuntimeError(f"the replica in {path} holds {have:,} members, not {members:,}: it was pulled again; "
                           f"delete the directory to build it anew")


def _fill_replica(path: Path, members: int) -> None:
    os.environ["DESKTOP_CARE_DATA_DIR"] = str(path)
    from desktop_care.embedded import EmbeddedServer
    from desktop_care.schemas import FeedChange, FeedPage, MemberRecord
    from desktop_care.sync.api_client import ApiClient
    from desktop_care.sync.local_store import LocalStore

    server = EmbeddedServer()
    records: list[MemberRecord] = []
    try:
        client = ApiClient(server.start(), token=server.token)
        after = 0
        while True:
            page = client.changes(after, 1000)
            records += [c.member for c in page.changes if c.member is not None]
            if not page.has_more:
                break
            after = page.cursor
    finally:
        server.stop()
    store = LocalStore(path / "workstation" / "embedded.sqlite3")
    with store.engine.connect() as conn:
        have = int(conn.exec_driver_sql("SELECT count(*) FROM member").scalar() or 0)
    member_step = max(r.id for r in records) + 1
    address_step = max((a.id for r in records for a in r.addresses), default=0) + 1
    copy = (have - len(records)) // len(records)  # copies already stored by an interrupted fill
    have = len(records) * (copy + 1)
    while have < members:
        copy += 1
        batch: list[FeedChange] = []
        for record in records:
            if have >= members:
                break
            new_id = record.id + copy * member_step
            clone = record.model_copy(update={
                "id": new_id, "member_no": str(5_000_000 + new_id), "logon_id": f"{record.logon_id}.{copy}",
                "email": f"{copy}.{record.email}" if record.email else "",
                "addresses": [a.model_copy(update={"id": a.id + copy * address_step}) for a in record.addresses],
            })
            batch.append(FeedChange(seq=0, entity="member", id=new_id, deleted=False, member=clone))
            have += 1
        store.apply_feed(FeedPage(changes=batch, cursor=0, has_more=False))  # cursor and epoch stay
        if copy % 20 == 0:
            print(f"  {have:,} members", flush=True)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


# --------------------------------------------------------------------------- report


def median_marks(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (*MARKS, "total_s"):
        if name == "total_s":
            out[name] = round(statistics.median(r[name] for r in runs), 3)
            continue
        present = [r[name] for r in runs if name in r]
        if present:
            out[name] = {key: round(statistics.median(m[key] for m in present), 1 if key.endswith("_mb") else 3)
                         for key in ("s", "rss_mb", "peak_mb", "cpu_s") if all(key in m for m in present)}
    return out


def write_report(result: dict[str, Any], output: Path) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    stem = f"startup-{result['date']}"
    (output / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# Start-up benchmark ({result['date']})", "", *machine_lines(result["machine"]),
             "## Method", "",
             "The real app (embedded default, offscreen) launched as a child process; seconds from just "
             "before the launch to each mark it prints (`desktop_care/logs.py`, `mark`); resident memory "
             "(VmRSS) at the mark; CPU: the CPU time the app's process had used by then (all its threads; "
             "a loaded machine moves it far less than the time since launch). Cold: first launch with no compiled bytecode"
             f"{' and the OS file cache dropped' if result['dropped_file_cache'] else ' (the OS file cache could not be dropped here)'}; "
             f"warm: median of {result['runs']} launches. Floor: a bare `python -c` showing an empty "
             "PySide6 QMainWindow, measured the same way in the same run.", "",
             "## Results", "",
             "| replica | run | window s | results s | server s | synced s | window CPU s | results CPU s "
             "| RSS at results MB | peak by synced MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def cpu(mark: str, marks: dict[str, Any]) -> str:
        return f"{marks[mark]['cpu_s']:.2f}" if "cpu_s" in marks.get(mark, {}) else "—"

    for label, floor in (("cold", result["floor"]["cold"]), ("warm", result["floor"]["warm"])):
        lines.append(f"| floor | {label} | {floor['window']['s']:.2f} | | | | {cpu('window', floor)} | | "
                     f"{floor['window']['rss_mb']:.0f} | |")
    for size, data in result["sizes"].items():
        for name, runs in (("", data), (" (baseline)", data.get("baseline"))):
            if runs is None:
                continue
            for label in ("cold", "warm"):
                m = runs[label]

                def s(mark: str, marks: dict[str, Any] = m) -> str:
                    return f"{marks[mark]['s']:.2f}" if mark in marks else "—"

                peak = m.get("synced", m["results"])["peak_mb"]
                lines.append(f"| {int(size):,}{name} | {label} | {s('window')} | {s('results')} | {s('server')} | "
                             f"{s('synced')} | {cpu('window', m)} | {cpu('results', m)} | "
                             f"{m['results']['rss_mb']:.0f} | {peak:.0f} |")
    lines += ["", "## Against the targets", ""]
    warm_floor = result["floor"]["warm"]["window"]["s"]
    for size, data in result["sizes"].items():
        warm = data["warm"]
        lines.append(f"- {int(size):,} members, warm: window {warm['window']['s']:.2f} s "
                     f"({warm['window']['s'] / warm_floor:.1f}× the floor's {warm_floor:.2f} s), first results "
                     f"{warm['results']['s']:.2f} s (target 1.0 s for a usable window); resident "
                     f"{warm['results']['rss_mb']:.0f} MB at the first results, peak "
                     f"{warm.get('synced', warm['results'])['peak_mb']:.0f} MB by the end of the first sync "
                     f"(target 200 MB)")
        base = data.get("baseline")
        if base is not None:
            lines.append(f"  - the baseline ({result['baseline']}), its warm launches interleaved with these: window "
                         f"{base['warm']['window']['s']:.2f} s, first results {base['warm']['results']['s']:.2f} s, "
                         f"resident {base['warm']['results']['rss_mb']:.0f} MB")
    if result.get("first_start"):
        first = result["first_start"]
        lines += ["", f"The first start ever (seeding {SMALL:,} demo members, then the first pull), when the "
                  f"3,000 directory was built: window {first['window']['s']:.1f} s."]
    (output / f"{stem}.md").write_text("\n".join(lines) + "\n")
    return output / f"{stem}.md"


def _describe_checkout(path: Path) -> str:
    """``path`` and its commit, for the report."""
    found = subprocess.run(["git", "-C", str(path), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return f"{path}" + (f", {found.stdout.strip()[:80]}" if found.returncode == 0 and found.stdout.strip() else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=f"{SMALL},1000000", help="replica sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="warm launches per size")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="also launch the app of this checkout (e.g. main's), interleaved with this one's")
    parser.add_argument("--drop-caches", action="store_true",
                        help="drop the OS file cache before cold launches (root only; slows everything else "
                        "on the machine for a while: not on a shared one)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    dirs = {size: small_dir() if size == SMALL else big_dir(size) for size in sizes}
    info = machine(None)
    result: dict[str, Any] = {"date": dt.date.today().isoformat(), "runs": args.runs, "sizes": {}}
    baseline = args.baseline.resolve() if args.baseline is not None else None
    if baseline is not None:
        result["baseline"] = _describe_checkout(baseline)
    first = CACHE / f"startup-{SMALL}" / "first-start.json"
    if first.exists():
        result["first_start"] = json.loads(first.read_text())
    with tempfile.TemporaryDirectory(prefix="dc-startup-") as tmp:
        result["dropped_file_cache"] = args.drop_caches and drop_file_cache()
        floor_cold = run_floor(Path(tmp) / "floor-pycache")
        run_floor()  # fills the warm bytecode cache (not counted)
        floor_warm = [run_floor() for _ in range(args.runs)]
        result["floor"] = {"cold": floor_cold, "warm": median_marks(floor_warm), "warm_runs": floor_warm}
        print(f"floor: cold {floor_cold['window']['s']:.2f} s, warm {result['floor']['warm']['window']['s']:.2f} s",
              flush=True)
        for size, path in dirs.items():
            if args.drop_caches:
                drop_file_cache()
            cold = run_app(path, Path(tmp) / f"pycache-{size}")
            run_app(path)  # fills the warm bytecode cache (not counted)
            base_cold: dict[str, Any] | None = None
            if baseline is not None:
                base_cold = run_app(path, Path(tmp) / f"baseline-pycache-{size}", code=baseline)
                run_app(path, code=baseline)
            warm, base_warm = [], []
            for _ in range(args.runs):
                if baseline is not None:
                    base_warm.append(run_app(path, code=baseline))
                warm.append(run_app(path))
            _check_replica(path, size)  # a launch that pulled the directory again measured another size
            result["sizes"][str(size)] = {"cold": cold, "warm": median_marks(warm), "warm_runs": warm}
            if base_cold is not None:
                result["sizes"][str(size)]["baseline"] = {"cold": base_cold, "warm": median_marks(base_warm),
                                                          "warm_runs": base_warm}
            m = result["sizes"][str(size)]["warm"]
            print(f"{size:,}: cold window {cold['window']['s']:.2f} s results {cold['results']['s']:.2f} s; "
                  f"warm window {m['window']['s']:.2f} s results {m['results']['s']:.2f} s, "
                  f"RSS {m['results']['rss_mb']:.0f} MB", flush=True)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result["machine"] = info
    print(f"report: {write_report(result, args.output)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Act on behalf benchmark: the time from pressing Act on behalf (the console asks the
server for its one-time token) to the first painted portal page in the embedded
QtWebEngine view (a fresh off-the-record profile each time), against the real server
on SQLite. Target: under 1.5 s. The first run of a process also starts QtWebEngine's
browser process, so it is reported apart ("cold") from the others ("warm").

    "$(./dev env)/bin/python" bench/act_on_behalf.py
    "$(./dev env)/bin/python" bench/act_on_behalf.py --runs 20
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
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.search import machine
from desktop_care.ui.portal import OnBehalfWindow, start_acting_on_behalf
from desktop_care.ui.qt import QApplication, QTimer
from tests.support.servers import start_server
from tests.ui.arrange import add_full_member, signed_in_client

TARGET_S = 1.5
RESULTS = REPO / "bench" / "results"
#: The portal's header colour as painted (#17324d).
HEADER = (0x17, 0x32, 0x4D)


def painted(window: OnBehalfWindow) -> bool:
    image = window.view.grab().toImage()
    return any(image.pixelColor(300, y).getRgb()[:3] == HEADER for y in range(0, min(400, image.height()), 2))


def one_run(app: QApplication, client: Any, member_id: int, timeout: float = 30.0) -> dict[str, float]:
    """Seconds from Act on behalf to: the token, the first page loaded, the page painted."""
    marks: dict[str, float] = {}
    opened: list[OnBehalfWindow] = []
    start = time.perf_counter()

    def on_open(window: OnBehalfWindow) -> None:
        marks["token_s"] = time.perf_counter() - start
        window.first_page.connect(lambda _ok: marks.setdefault("loaded_s", time.perf_counter() - start))
        opened.append(window)

    start_acting_on_behalf(client, member_id, "Benchmark", on_open=on_open)
    poll = QTimer(interval=5)

    def check() -> None:
        if opened and "loaded_s" in marks and "painted_s" not in marks and painted(opened[0]):
            marks["painted_s"] = time.perf_counter() - start

    poll.timeout.connect(check)
    poll.start()
    deadline = time.monotonic() + timeout
    while "painted_s" not in marks:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no painted page within {timeout}s: {marks}")
        app.processEvents()
        time.sleep(0.001)
    poll.stop()
    opened[0].close()
    for _ in range(50):
        app.processEvents()
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args()
    app = QApplication(sys.argv)
    info = machine(None)
    with tempfile.TemporaryDirectory() as workdir:
        server = start_server(f"sqlite:///{workdir}/bench.sqlite3", Path(workdir), timeout=600)
        try:
            client = signed_in_client(server)
            member = add_full_member(server, "Bench")
            runs = [one_run(app, client, member.id) for _ in range(args.runs)]
        finally:
            server.stop()
    warm = [r["painted_s"] for r in runs[1:]]
    summary = {
        "what": "Act on behalf to the first painted portal page (token + exchange + My account + paint)",
        "target_s": TARGET_S,
        "runs": args.runs,
        "cold_s": round(runs[0]["painted_s"], 3),
        "warm_median_s": round(statistics.median(warm), 3),
        "warm_p95_s": round(sorted(warm)[max(0, int(len(warm) * 0.95) - 1)], 3),
        "warm_max_s": round(max(warm), 3),
        "token_median_s": round(statistics.median(r["token_s"] for r in runs[1:]), 3),
        "loaded_median_s": round(statistics.median(r["loaded_s"] for r in runs[1:]), 3),
        "met": max(r["painted_s"] for r in runs) < TARGET_S,
        "every_run": [{k: round(v, 3) for k, v in r.items()} for r in runs],
    }
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {"date": dt.date.today().isoformat(), "machine": info,
              "note": "Other helpers ran tests on the same 2 cores at the time: the machine was loaded.",
              "results": summary}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"act_on_behalf-{result['date']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary | {"every_run": "…"}, indent=2))
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()

"""A workstation in its own process, for the crash tests: opens the store, runs one
sync round and exits. With ``DESKTOP_CARE_CRASH_AT=<point>`` set, the process dies at
that point (``os._exit``: no clean-up, no finally blocks, like a killed app).

    python -m tests.sync.crash_runner STORE_PATH SERVER_URL PAGE_SIZE   (token in DESKTOP_CARE_TOKEN)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from desktop_care import config
from desktop_care.sync import LocalStore, Syncer
from desktop_care.sync.api_client import ApiClient


def main() -> int:
    path, url, page_size = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = LocalStore(path)
    client = ApiClient(url, os.environ["DESKTOP_CARE_TOKEN"], timeouts=config.Timeouts(connect=2.0, read=10.0))
    syncer = Syncer(store, client, on_event=lambda event: None, autostart=False, page_size=page_size, batch_size=3)
    ok = syncer.sync_once()
    print(f"synced={ok} pending={store.pending_count()} cursor={store.cursor()} error={syncer.last_error}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

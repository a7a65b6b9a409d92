"""Runs ``desktop-care`` as a user launches it (``python tests/support/start_probe.py
ARGS``) and prints, when the start reaches its first results on screen, which of our
modules are loaded by then: one JSON line ``{"loaded_at_results": [...]}`` on standard
output. For tests of what a start loads (docs/decisions/0041 and 0044)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop_care import logs

_mark = logs.mark


def _probing_mark(name: str) -> None:
    if name == "results":
        loaded = sorted(m for m in sys.modules if m.startswith("desktop_care"))
        print(json.dumps({"loaded_at_results": loaded}), flush=True)
    _mark(name)


logs.mark = _probing_mark  # before the app's modules take it (from ..logs import mark)

from desktop_care.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

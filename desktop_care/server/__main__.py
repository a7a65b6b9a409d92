"""``python -m desktop_care.server``: the same as ``desktop-care-server``."""

from desktop_care.server.cli import main

raise SystemExit(main())

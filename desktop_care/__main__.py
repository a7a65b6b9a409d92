"""``desktop-care``: the workstation app.

With no options it starts the embedded (local) server and signs in its demo
administrator; ``--server URL`` signs in to a central server instead.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__, config, logs, settings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="desktop-care",
        description="Customer care console for membership organisations. Without --server, "
        "it runs its own local server with demo data.",
    )
    parser.add_argument("--server", metavar="URL",
                        help="sign in to this central server (e.g. https://care.example.org)")
    parser.add_argument("--screenshot", metavar="PATH", type=Path,
                        help="save a picture of the main window once the first results show, then quit")
    parser.add_argument("--search", metavar="TEXT", default="",
                        help="what to search for first (default: all members)")
    parser.add_argument("--ca-file", metavar="FILE", type=Path,
                        help="also trust certificates signed by this certificate authority (PEM), besides the "
                        f"system's (default: ${config.CA_FILE_ENV})")
    parser.add_argument("--allow-insecure-http", action="store_true",
                        help="allow plain http:// to another computer (passwords and member data unencrypted: "
                        "only on a network you trust)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    options = parser.parse_args(argv)
    if options.ca_file is not None and not options.ca_file.is_file():
        parser.error(f"--ca-file: {options.ca_file} is not a file")
    return options


def apply_transport(options: argparse.Namespace, saved: settings.Settings) -> None:
    """File → Settings' CA file and plain-http choice, then ``--ca-file`` and
    ``--allow-insecure-http`` over them, into the transport every client uses."""
    config.set_transport(config.Transport(ca_file=saved.ca_file or config.transport().ca_file,
                                          allow_insecure_http=saved.allow_insecure_http))
    current = config.transport()
    config.set_transport(config.Transport(
        ca_file=options.ca_file.resolve() if options.ca_file is not None else current.ca_file,
        allow_insecure_http=options.allow_insecure_http or current.allow_insecure_http,
    ))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--run-server"]:
        # A frozen build's own executable doubles as the embedded server (see embedded.py).
        from .server.cli import main as server_main

        return int(server_main(args[1:]) or 0)
    options = parse_args(args)
    if options.screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # render without a screen
    logs.setup()
    saved = settings.load()  # once: the transport here, the look and the first server in the app
    apply_transport(options, saved)

    # No cyclic collection while the app's modules load (a tenth or more of their time
    # goes to passes that find almost nothing to free): the GUI thread's collector
    # takes over once the window is up, the start-up heap frozen first (ui/collector.py,
    # docs/decisions/0041).
    gc.disable()
    from .ui.app import Options, run

    return run(Options(server=options.server, screenshot=options.screenshot, search=options.search, settings=saved))


if __name__ == "__main__":
    sys.exit(main())

"""``desktop-care-server``: run, migrate and fill the central server's database.

    desktop-care-server serve [--database-url URL] [--host H] [--port N] [--workers N]
                              [--seed-demo-if-empty N]
    desktop-care-server migrate [--database-url URL]
    desktop-care-server seed-demo --members N [--seed S] [--staff-password P]
    desktop-care-server create-admin --username U --password P [--email E]
                                     [--display-name D] [--role admin|staff]
    desktop-care-server new-feed-epoch [--database-url URL]

``--database-url`` defaults to ``$DESKTOP_CARE_DATABASE_URL``, else the embedded
SQLite database in the user data directory. Bad arguments exit with status 2 and a
message saying what to change.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from desktop_care import __version__, config
from desktop_care.models import Member, UserRole

from .accounts import AccountError, create_staff, install_bootstrap_token
from .app import BOOTSTRAP_TOKEN_ENV, DATABASE_URL_ENV, create_app
from .db import DatabaseUrlError, make_engine, upgrade
from .demo import seed_demo
from .security import MIN_PASSWORD_LENGTH

log = logging.getLogger("desktop_care.server")

EXIT_USAGE = 2
EXIT_FAILURE = 1
_ROLES = {"admin": UserRole.SOCIETY_ADMIN, "staff": UserRole.SOCIETY_STAFF}


class UsageError(Exception):
    """A problem with the command line: printed, exit status 2."""


def _at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {number}")
        return number

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desktop-care-server", description="The desktop_care central server (REST API over SQLite or PostgreSQL)."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_URL_ENV) or None,
        metavar="URL",
        help="sqlite:///PATH or postgresql+psycopg://USER@HOST/DB "
        f"(default: ${DATABASE_URL_ENV}, else the embedded SQLite database)",
    )

    serve = commands.add_parser("serve", parents=[database], help="migrate the database, then serve the API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_at_least(1), default=8080, help="port to listen on (default: 8080)")
    serve.add_argument("--workers", type=_at_least(1), default=1, help="worker processes (default: 1)")
    serve.add_argument(
        "--seed-demo-if-empty", type=_at_least(1), metavar="N", help="add N demo members if there are no members yet"
    )
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])

    commands.add_parser("migrate", parents=[database], help="upgrade the database schema to the newest version")
    commands.add_parser(
        "new-feed-epoch", parents=[database],
        help="after restoring a backup in place: make every workstation pull the directory again",
    )

    seed = commands.add_parser("seed-demo", parents=[database], help="add realistic demo members and staff")
    seed.add_argument("--members", type=_at_least(0), required=True, metavar="N", help="how many members to add")
    seed.add_argument("--seed", type=int, default=0, metavar="S", help="random seed: same seed, same data (default 0)")
    seed.add_argument("--staff-password", metavar="P", help="password for the demo staff (default: none)")

    admin = commands.add_parser("create-admin", parents=[database], help="add a staff account")
    admin.add_argument("--username", required=True, metavar="U")
    admin.add_argument("--password", required=True, metavar="P")
    admin.add_argument("--email", default="", metavar="E")
    admin.add_argument("--display-name", default="", metavar="D")
    admin.add_argument(
        "--role",
        choices=sorted(_ROLES),
        default="admin",
        help="admin (Society Admin, default) or staff (Society Staff)",
    )
    return parser


def _database_url(args: argparse.Namespace) -> str:
    return str(args.database_url or config.embedded_database_url())


def _engine(args: argparse.Namespace) -> Engine:
    try:
        return make_engine(_database_url(args))
    except DatabaseUrlError as exc:
        raise UsageError(f"--database-url: {exc}") from None


def _print_progress(done: int, total: int) -> None:
    if done == total or done % 100_000 == 0:
        print(f"  {done:,} / {total:,} members", file=sys.stderr, flush=True)


def cmd_migrate(args: argparse.Namespace) -> int:
    engine = _engine(args)
    upgrade(engine)
    print(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")
    return 0


def cmd_new_feed_epoch(args: argparse.Namespace) -> int:
    from desktop_care.models.sync import rotate_epoch

    engine = _engine(args)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        epoch = rotate_epoch(session)
    print(f"the change feed's epoch is now {epoch}: workstations will pull the directory again "
          "(their queued changes are kept)")
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    if args.staff_password is not None and len(args.staff_password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"--staff-password: must be at least {MIN_PASSWORD_LENGTH} characters")
    engine = _engine(args)
    upgrade(engine)
    report = seed_demo(
        engine, args.members, seed=args.seed, staff_password=args.staff_password, progress=_print_progress
    )
    staff = f"; staff: {', '.join(report.staff)}" if report.staff else ""
    print(
        f"added {report.members:,} members, {report.users:,} users, {report.points_entries:,} points entries and "
        f"{report.transactions:,} transactions in {report.seconds:.1f} s{staff}"
    )
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    engine = _engine(args)
    upgrade(engine)
    with Session(engine) as session:
        try:
            user = create_staff(
                session,
                args.username,
                args.password,
                role=_ROLES[args.role],
                email=args.email,
                display_name=args.display_name,
                actor=f"cli:{getpass.getuser()}",
            )
        except AccountError as exc:
            raise UsageError(str(exc)) from None
        session.commit()
        print(f"created {user.role.label} {user.username!r} (id {user.id})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    token = os.environ.get(BOOTSTRAP_TOKEN_ENV) or None
    url = _database_url(args)
    engine = _engine(args)
    upgrade(engine)
    with Session(engine) as session:
        if token is not None:
            try:
                install_bootstrap_token(session, token)
            except AccountError as exc:
                raise UsageError(f"{BOOTSTRAP_TOKEN_ENV}: {exc}") from None
            session.commit()
        empty = session.scalar(select(Member.id).limit(1)) is None
    if args.seed_demo_if_empty and empty:
        log.info("the database has no members: adding %d demo members", args.seed_demo_if_empty)
        report = seed_demo(engine, args.seed_demo_if_empty)
        log.info("added %d demo members in %.1f s", report.members, report.seconds)
    engine.dispose()

    if args.workers == 1:
        uvicorn.run(create_app(url, migrate=False), host=args.host, port=args.port, log_level=args.log_level)
    else:
        os.environ[DATABASE_URL_ENV] = url
        uvicorn.run(
            "desktop_care.server.app:create_app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
        )
    return 0


_COMMANDS = {"serve": cmd_serve, "migrate": cmd_migrate, "seed-demo": cmd_seed_demo, "create-admin": cmd_create_admin,
             "new-feed-epoch": cmd_new_feed_epoch}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return _COMMANDS[args.command](args)
    except UsageError as exc:
        parser.error(str(exc))  # exits with status 2
    except OperationalError as exc:
        print(f"{parser.prog}: cannot use the database: {exc.orig}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())

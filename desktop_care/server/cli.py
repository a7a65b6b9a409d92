"""``desktop-care-server``: run, migrate and fill the central server's database.

    desktop-care-server serve [--database-url URL] [--host H] [--port N] [--workers N]
                              [--seed-demo-if-empty N] [--tls-cert FILE --tls-key FILE]
                              [--embedded-by PID] [--smtp-url URL] [--public-url URL]
                              [--mail-from ADDRESS] [--mail-retry-seconds S]
    desktop-care-server migrate [--database-url URL]
    desktop-care-server seed-demo --members N [--seed S] [--staff-password [--password-stdin]]
    desktop-care-server create-admin --username U [--password-stdin] [--email E]
                                     [--display-name D] [--role admin|staff]
    desktop-care-server new-feed-epoch [--database-url URL]

``--database-url`` defaults to ``$DESKTOP_CARE_DATABASE_URL``, else the embedded
SQLite database in the user data directory. Bad arguments exit with status 2 and a
message saying what to change.

No password is ever taken on the command line (every user of the machine can read a
process's arguments): it comes from standard input (``--password-stdin``), from an
environment variable (``$DESKTOP_CARE_ADMIN_PASSWORD`` / ``$DESKTOP_CARE_STAFF_PASSWORD``),
or is typed twice at the terminal.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import signal
import ssl
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from desktop_care import __version__, config
from desktop_care.models import Member, UserRole

from ..seed_progress import FINISHING, MEMBERS, SeedProgress, write_progress
from .accounts import AccountError, create_staff, install_bootstrap_token
from .app import (
    BOOTSTRAP_TOKEN_ENV,
    DATABASE_URL_ENV,
    MAIL_FROM_ENV,
    MAIL_RETRY_ENV,
    PUBLIC_URL_ENV,
    SMTP_URL_ENV,
    create_app,
    mail_settings,
)
from .db import DatabaseUrlError, make_engine, upgrade
from .lifeline import follow_parent
from .mail import SmtpUrlError
from .mail.sender import SMTP_PASSWORD_ENV
from .security import MIN_PASSWORD_LENGTH

log = logging.getLogger("desktop_care.server")

EXIT_USAGE = 2
EXIT_FAILURE = 1
_ROLES = {"admin": UserRole.SOCIETY_ADMIN, "staff": UserRole.SOCIETY_STAFF}

#: Where ``create-admin`` takes the new account's password from, when not asked for it.
ADMIN_PASSWORD_ENV = "DESKTOP_CARE_ADMIN_PASSWORD"
#: Where ``seed-demo --staff-password`` takes the demo staff's password from.
STAFF_PASSWORD_ENV = "DESKTOP_CARE_STAFF_PASSWORD"


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


def _positive_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return number


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
    serve.add_argument(
        "--progress-file", metavar="FILE",
        help="while --seed-demo-if-empty seeds, keep how far it got in FILE (JSON: stage, done, total)",
    )
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--tls-cert", metavar="FILE",
                       help="serve HTTPS with this certificate (PEM, with its intermediate certificates)")
    serve.add_argument("--tls-key", metavar="FILE", help="the private key of --tls-cert (PEM, not encrypted)")
    serve.add_argument(
        "--embedded-by",
        type=_at_least(1),
        metavar="PID",
        help="run as the local server of the desktop app with process id PID: exit when it does (it holds "
        "a pipe on this server's standard input) and keep new files readable by their owner only",
    )
    serve.add_argument(
        "--smtp-url", default=os.environ.get(SMTP_URL_ENV) or None, metavar="URL",
        help="deliver mail by SMTP: smtp://HOST:PORT (plain), smtp+starttls://USER:PASSWORD@HOST:PORT, "
        f"smtps://... (TLS); the password may come from ${SMTP_PASSWORD_ENV} "
        f"(default: ${SMTP_URL_ENV}, else into the Maildir DATA_DIR/mail)",
    )
    serve.add_argument(
        "--public-url", default=os.environ.get(PUBLIC_URL_ENV) or None, metavar="URL",
        help="the server's address as members reach it, for links in e-mails (default: http://HOST:PORT)",
    )
    serve.add_argument("--mail-from", default=os.environ.get(MAIL_FROM_ENV) or None, metavar="ADDRESS",
                       help="the From of e-mails (default: desktop_care <no-reply@desktop-care.invalid>)")
    serve.add_argument("--mail-retry-seconds", type=_positive_seconds, default=None, metavar="S",
                       help="wait before retrying a failed delivery, doubling each time (default: 30)")

    commands.add_parser("migrate", parents=[database], help="upgrade the database schema to the newest version")
    commands.add_parser(
        "new-feed-epoch", parents=[database],
        help="after restoring a backup in place: make every workstation pull the directory again",
    )

    seed = commands.add_parser("seed-demo", parents=[database], help="add realistic demo members and staff")
    seed.add_argument("--members", type=_at_least(0), required=True, metavar="N", help="how many members to add")
    seed.add_argument("--seed", type=int, default=0, metavar="S", help="random seed: same seed, same data (default 0)")
    seed.add_argument(
        "--staff-password",
        nargs="?",
        const=True,
        default=None,
        help=f"give the demo staff a password: from standard input (--password-stdin), ${STAFF_PASSWORD_ENV}, "
        "or typed when asked (default: none, they sign in only by bootstrap token)",
    )
    seed.add_argument("--password-stdin", action="store_true", help="read the staff password from standard input")

    admin = commands.add_parser(
        "create-admin",
        parents=[database],
        help="add a staff account",
        description=f"The password is read from standard input (--password-stdin), ${ADMIN_PASSWORD_ENV}, "
        "or typed twice when asked; never from the command line.",
    )
    admin.add_argument("--username", required=True, metavar="U")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admin.add_argument("--password", help=argparse.SUPPRESS)  # only to refuse it with a reason
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


#: Batches of the first-run seeding with a progress file: about this many reports.
_PROGRESS_STEPS = 30


def _seed_progress(path: str | None, members: int) -> dict[str, Any]:
    """``seed_demo``'s progress arguments for ``serve --progress-file``: smaller batches,
    each reported in the file (one transaction still: a stop leaves no member behind)."""
    if path is None:
        return {}
    target = Path(path)

    def report(done: int, total: int) -> None:
        write_progress(target, SeedProgress(FINISHING if done >= total else MEMBERS, done, total))

    write_progress(target, SeedProgress(MEMBERS, 0, members))
    return {"progress": report, "batch_size": max(100, min(10_000, members // _PROGRESS_STEPS))}


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


def _refuse_password_argument(option: str, environment: str) -> UsageError:
    return UsageError(
        f"{option}: passwords are not taken on the command line (anyone on this computer can read a "
        f"program's arguments). Use --password-stdin, set ${environment}, or leave it out and type the "
        "password when asked."
    )


def read_password(from_stdin: bool, environment: str, prompt: str = "Password: ") -> str:
    """The password from standard input (one line), the environment, or typed twice at
    the terminal (not echoed); UsageError when there is none or the two differ."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n")
        if not password:
            raise UsageError("--password-stdin: standard input was empty; give the password on its first line")
        return password
    password = os.environ.get(environment)
    if password:
        return password
    if not sys.stdin.isatty():
        raise UsageError(
            f"no password given: use --password-stdin, set ${environment}, or run this at a terminal to type it"
        )
    password = getpass.getpass(prompt)
    if getpass.getpass("Again, to be sure: ") != password:
        raise UsageError("the two passwords are not the same; nothing was changed")
    return password


def cmd_seed_demo(args: argparse.Namespace) -> int:
    staff_password: str | None = None
    if isinstance(args.staff_password, str):
        raise _refuse_password_argument("--staff-password", STAFF_PASSWORD_ENV)
    if args.staff_password:
        staff_password = read_password(args.password_stdin, STAFF_PASSWORD_ENV, "Password for the demo staff: ")
        if len(staff_password) < MIN_PASSWORD_LENGTH:
            raise UsageError(f"--staff-password: must be at least {MIN_PASSWORD_LENGTH} characters")
    elif args.password_stdin:
        raise UsageError("--password-stdin: only with --staff-password")
    engine = _engine(args)
    upgrade(engine)
    from .demo import seed_demo  # Faker and the seeder, only when seeding

    report = seed_demo(engine, args.members, seed=args.seed, staff_password=staff_password, progress=_print_progress)
    staff = f"; staff: {', '.join(report.staff)}" if report.staff else ""
    print(
        f"added {report.members:,} members, {report.users:,} users, {report.points_entries:,} points entries and "
        f"{report.transactions:,} transactions in {report.seconds:.1f} s{staff}"
    )
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    if args.password is not None:
        raise _refuse_password_argument("--password", ADMIN_PASSWORD_ENV)
    password = read_password(args.password_stdin, ADMIN_PASSWORD_ENV, "Password for the new account: ")
    engine = _engine(args)
    upgrade(engine)
    with Session(engine) as session:
        try:
            user = create_staff(
                session,
                args.username,
                password,
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


def _tls_options(args: argparse.Namespace) -> dict[str, str]:
    """uvicorn's TLS options, after checking the certificate and key load together."""
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither")
    if args.tls_cert is None:
        return {}
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise UsageError(
            f"--tls-cert/--tls-key: cannot use the certificate {args.tls_cert} with the key {args.tls_key} "
            f"({reason}); both must be PEM files, the key not encrypted and matching the certificate"
        ) from None
    return {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}


class _Stopper:
    """Stops the server when the app that embeds it has gone (see ``lifeline``)."""

    def __init__(self) -> None:
        self.server: Any = None  # the uvicorn.Server, once it runs

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True  # a graceful stop, exit status 0
        else:  # still migrating or seeding: nothing to finish
            os.kill(os.getpid(), signal.SIGTERM)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    tls = _tls_options(args)
    stopper = _Stopper()
    if args.embedded_by is not None:
        os.umask(0o077)  # the database and its WAL/SHM files are the workstation's data
        follow_parent(args.embedded_by, on_gone=stopper.stop)
    token = os.environ.get(BOOTSTRAP_TOKEN_ENV) or None
    url = _database_url(args)
    scheme = "https" if tls else "http"
    public_url = (args.public_url or f"{scheme}://{args.host}:{args.port}").rstrip("/")
    try:
        mail = mail_settings(public_url, args.smtp_url, args.mail_from, args.mail_retry_seconds)
    except SmtpUrlError as exc:
        raise UsageError(f"--smtp-url: {exc}") from None
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
        from .demo import seed_demo  # Faker and the seeder, only when seeding

        report = seed_demo(engine, args.seed_demo_if_empty, **_seed_progress(args.progress_file,
                                                                              args.seed_demo_if_empty))
        log.info("added %d demo members in %.1f s", report.members, report.seconds)
    engine.dispose()

    if args.workers == 1:
        server = uvicorn.Server(
            uvicorn.Config(create_app(url, migrate=False, mail=mail), host=args.host, port=args.port, log_level=args.log_level,
                           **tls)  # type: ignore[arg-type]
        )
        stopper.server = server
        server.run()
    else:
        os.environ[DATABASE_URL_ENV] = url
        os.environ[PUBLIC_URL_ENV] = public_url
        for name, value in ((SMTP_URL_ENV, args.smtp_url), (MAIL_FROM_ENV, args.mail_from),
                            (MAIL_RETRY_ENV, args.mail_retry_seconds)):
            if value is not None:
                os.environ[name] = str(value)
        uvicorn.run(
            "desktop_care.server.app:create_app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level=args.log_level,
            **tls,  # type: ignore[arg-type]
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

"""Demo data: realistic members, portal users, ledgers and staff, fast enough for a million.

Names come from pools built once with Faker in a few locales (so some are accented),
then every row is drawn from those pools with one seeded ``random.Random``: the same
``seed`` (and ``now``) on an empty database gives the same data. Rows go to the
database in batches through the driver's fastest path (``executemany`` on SQLite,
``COPY`` on PostgreSQL), in one transaction, with each member's ``member_search`` row
built in the same pass; the summary columns of a member equal the sums of the ledger
rows written with it (invariant 2).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from faker import Faker
from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.orm import Session

from desktop_care.commands import (
    Actor,
    Command,
    DecideRefund,
    IssueCreditNote,
    RecordManualPayment,
    RefundPayment,
    execute,
)
from desktop_care.models import (
    AccountTransaction,
    AddressKind,
    LineIn,
    Member,
    MemberStatus,
    Order,
    OrderState,
    PaymentMethod,
    PointsType,
    Refund,
    RefundState,
    TxnKind,
    TxnStatus,
    User,
    UserRole,
    UserState,
    place_order,
    post_transaction,
    record,
    utcnow,
)
from desktop_care.models.changefeed import capture_suspended
from desktop_care.models.fraud import BlockKind, BlockReason, FraudBlock, card_key, ip_key, ip_network
from desktop_care.models.search import TRIGRAM_INDEX, normalize, search_values
from desktop_care.models.sync import backfill_feed
from desktop_care.models.tickets import EntryKind, Ticket, TicketEntry, TicketMerge, TicketPriority, TicketState
from desktop_care.models.user_search import user_search_text

from .accounts import DEMO_ADMIN, DEMO_ADMIN_EMAIL, DEMO_ADMIN_NAME, create_staff
from .demo_animals import demo_animals
from .demo_courses import seed_courses

#: Locales of member names, with their weights.
LOCALES = {"en_GB": 70, "fr_FR": 10, "de_DE": 10, "es_ES": 10}
EMAIL_DOMAINS = (
    "example.com", "example.org", "example.net", "mail.example", "post.example",
    "farm.example", "breeders.example", "countryside.example",
)  # fmt: skip
#: UK postcode areas with a post town and county in each, for addresses that agree.
POST_TOWNS = {
    "AB": ("Aberdeen", "Aberdeenshire"), "B": ("Birmingham", "West Midlands"), "BA": ("Bath", "Somerset"),
    "BB": ("Blackburn", "Lancashire"), "BD": ("Bradford", "West Yorkshire"), "BH": ("Bournemouth", "Dorset"),
    "BL": ("Bolton", "Greater Manchester"), "BN": ("Brighton", "East Sussex"), "BS": ("Bristol", "Bristol"),
    "CA": ("Carlisle", "Cumbria"), "CB": ("Cambridge", "Cambridgeshire"), "CF": ("Cardiff", "South Glamorgan"),
    "CH": ("Chester", "Cheshire"), "CM": ("Chelmsford", "Essex"), "CO": ("Colchester", "Essex"),
    "CT": ("Canterbury", "Kent"), "CV": ("Coventry", "West Midlands"), "CW": ("Crewe", "Cheshire"),
    "DD": ("Dundee", "Angus"), "DE": ("Derby", "Derbyshire"), "DG": ("Dumfries", "Dumfriesshire"),
    "DH": ("Durham", "County Durham"), "DL": ("Darlington", "County Durham"), "DN": ("Doncaster", "South Yorkshire"),
    "DT": ("Dorchester", "Dorset"), "EH": ("Edinburgh", "Midlothian"), "EX": ("Exeter", "Devon"),
    "FK": ("Stirling", "Stirlingshire"), "GL": ("Gloucester", "Gloucestershire"), "GU": ("Guildford", "Surrey"),
    "HG": ("Harrogate", "North Yorkshire"), "HR": ("Hereford", "Herefordshire"), "HU": ("Hull", "East Yorkshire"),
    "IP": ("Ipswich", "Suffolk"), "IV": ("Inverness", "Inverness-shire"), "KA": ("Kilmarnock", "Ayrshire"),
    "LA": ("Lancaster", "Lancashire"), "LD": ("Llandrindod Wells", "Powys"), "LE": ("Leicester", "Leicestershire"),
    "LL": ("Llandudno", "Conwy"), "LN": ("Lincoln", "Lincolnshire"), "LS": ("Leeds", "West Yorkshire"),
    "M": ("Manchester", "Greater Manchester"), "NE": ("Newcastle upon Tyne", "Tyne and Wear"),
    "NG": ("Nottingham", "Nottinghamshire"), "NN": ("Northampton", "Northamptonshire"), "NR": ("Norwich", "Norfolk"),
    "OX": ("Oxford", "Oxfordshire"), "PE": ("Peterborough", "Cambridgeshire"), "PH": ("Perth", "Perthshire"),
    "PL": ("Plymouth", "Devon"), "PO": ("Portsmouth", "Hampshire"), "PR": ("Preston", "Lancashire"),
    "RG": ("Reading", "Berkshire"), "S": ("Sheffield", "South Yorkshire"), "SA": ("Swansea", "West Glamorgan"),
    "SN": ("Swindon", "Wiltshire"), "SO": ("Southampton", "Hampshire"), "SP": ("Salisbury", "Wiltshire"),
    "ST": ("Stoke-on-Trent", "Staffordshire"), "SY": ("Shrewsbury", "Shropshire"), "TA": ("Taunton", "Somerset"),
    "TD": ("Galashiels", "Selkirkshire"), "TN": ("Tunbridge Wells", "Kent"), "TQ": ("Torquay", "Devon"),
    "TR": ("Truro", "Cornwall"), "WR": ("Worcester", "Worcestershire"), "YO": ("York", "North Yorkshire"),
}  # fmt: skip
_STREET_NAMES = (
    "High", "Church", "Station", "Mill", "Park", "Victoria", "Green", "Manor", "Kings", "Queens", "School", "Oak",
    "Elm", "Beech", "Willow", "Meadow", "Orchard", "Chapel", "Farm", "Bridge", "Castle", "Albert", "Windsor",
    "Grange", "Springfield", "Richmond", "Heather", "Rowan", "Hawthorn", "Priory", "Abbey", "Market", "Tannery",
)  # fmt: skip
_STREET_KINDS = ("Street", "Road", "Lane", "Close", "Avenue", "Drive", "Way", "Gardens", "Crescent", "Grove", "Row")
_POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_STATUSES = (MemberStatus.ENROLLED, MemberStatus.ACTIVE, MemberStatus.INACTIVE, MemberStatus.MERGED)
_STATUS_WEIGHTS = (82, 9, 7, 2)
_USER_STATES = (UserState.ACTIVE, UserState.INVITED, UserState.DISABLED, UserState.REVOKED)
_USER_STATE_WEIGHTS = (90, 7, 2, 1)
_POINTS_REASONS = {
    PointsType.BASE: ("Annual membership points", "Registration points", "Show entry points"),
    PointsType.BONUS: ("Early renewal bonus", "Referral bonus", "Show champion bonus"),
    PointsType.PROMOTIONAL: ("Spring promotion", "Breed show promotion"),
    PointsType.GOODWILL: ("Goodwill: delayed certificate", "Goodwill: website outage"),
}
_ANIMALS = ("Bramble", "Duchess", "Hector", "Juniper", "Maple", "Nutmeg", "Oakley", "Pippin", "Rosie", "Thistle")
_STAFF_COUNT = 3
_SLUG = re.compile(r"[^a-z0-9]+")

#: Columns written per table, in the order the row tuples below hold them.
MEMBER_COLUMNS = (
    "id", "member_no", "logon_id", "title", "first_name", "last_name", "email", "phone", "email_newsletters",
    "email_offers", "email_event_reminders", "status", "status_before_hold",
    "merged_into_id", "blocked_for_balance", "blocked_reason", "blocked_at", "blocked_by", "points_balance",
    "account_balance_cents", "pending_count", "pending_cents", "last_login_at", "created_at", "updated_at", "version",
    "field_versions",
)  # fmt: skip
ADDRESS_COLUMNS = ("id", "member_id", "kind", "line1", "line2", "city", "region", "postcode", "country")
SEARCH_COLUMNS = ("member_id", "member_no", "text", "first_key", "last_key", "email_key")
USER_COLUMNS = (
    "id", "username", "email", "display_name", "role", "state", "member_id", "last_login_at", "created_at",
    "version", "search_text",
)  # fmt: skip
POINTS_COLUMNS = ("id", "member_id", "delta", "points_type", "reason", "actor_user_id", "created_at")
TXN_COLUMNS = (
    "id", "member_id", "amount_cents", "description", "status", "created_at", "kind", "settled_at", "currency",
    "order_id", "reference", "method", "method_reference", "note", "refund_of_id", "recorded_by",
)  # fmt: skip

#: Tables whose ids the seeder assigns itself (PostgreSQL sequences are moved past them).
_ID_TABLES = ("member", "address", "app_user", "points_entry", "account_txn")


@dataclass(frozen=True)
class SeedReport:
    members: int
    addresses: int
    users: int
    points_entries: int
    transactions: int
    staff: list[str]
    seconds: float


#: Every LEGACY_EVERY-th demo member carries a member ID from a legacy system, with a
#: letter ("M12000250"), as members imported from other societies do.
LEGACY_EVERY = 250


def demo_member_no(member_id: int) -> str:
    """The demo member ID of member ``member_id``: 1000000 + id, or a legacy "M" one."""
    if member_id % LEGACY_EVERY == 0:
        return f"M{12_000_000 + member_id}"
    return str(1_000_000 + member_id)


def _slug(value: str) -> str:
    return _SLUG.sub("", normalize(value))


@dataclass(frozen=True)
class _Person:
    first: str
    last: str
    title: str


class _Pools:
    """Everything drawn from Faker, drawn once."""

    def __init__(self, seed: int, size: int = 600) -> None:
        self.people: list[list[tuple[str, str]]] = []  # per locale: (first name, title)
        self.last_names: list[list[str]] = []
        for locale in LOCALES:
            fake = Faker(locale)
            fake.seed_instance(seed)
            firsts = [(fake.first_name_female(), "Mrs" if i % 3 else "Ms") for i in range(size)]
            firsts += [(fake.first_name_male(), "Mr") for _ in range(size)]
            self.people.append(firsts)
            self.last_names.append([fake.last_name() for _ in range(size)])
        self.streets = [f"{name} {kind}" for name in _STREET_NAMES for kind in _STREET_KINDS]
        self.areas = list(POST_TOWNS)
        self.locale_weights = list(LOCALES.values())


class _Generator:
    """Draws members and their rows; ids continue from those already in the database."""

    def __init__(self, seed: int, now: dt.datetime, timestamp: Callable[[dt.datetime], Any]) -> None:
        self.rng = random.Random(seed)
        self.pools = _Pools(seed)
        self.now = now
        self.next_id = dict.fromkeys(_ID_TABLES, 1)
        self.ts = timestamp
        self.members: list[tuple[Any, ...]] = []
        self.addresses: list[tuple[Any, ...]] = []
        self.search: list[tuple[Any, ...]] = []
        self.users: list[tuple[Any, ...]] = []
        self.points: list[tuple[Any, ...]] = []
        self.txns: list[tuple[Any, ...]] = []
        self.written = dict.fromkeys(
            ("member", "address", "member_search", "app_user", "points_entry", "account_txn"), 0
        )

    def _id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def _ago(self, low_days: float, high_days: float) -> dt.datetime:
        return self.now - dt.timedelta(seconds=self.rng.uniform(low_days * 86400, high_days * 86400))

    def _between(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        return start + (end - start) * self.rng.random()

    def _person(self) -> _Person:
        rng = self.rng
        locale = rng.choices(range(len(self.pools.people)), self.pools.locale_weights)[0]
        first, title = rng.choice(self.pools.people[locale])
        last = rng.choice(self.pools.last_names[locale])
        if rng.random() < 0.05:
            title = "Dr"
        elif rng.random() < 0.2:
            title = ""
        return _Person(first, last, title)

    def _email(self, person: _Person, number: int) -> str:
        rng = self.rng
        first, last = _slug(person.first) or "member", _slug(person.last) or "member"
        local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{first}{last}", f"{last}.{first}"))
        if rng.random() < 0.6:
            local += str(number % 1000 if rng.random() < 0.5 else rng.randint(1, 99))
        return f"{local}@{rng.choice(EMAIL_DOMAINS)}"

    def _phone(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.75:
            return f"07{rng.randint(100, 999)} {rng.randint(0, 999999):06d}"
        if roll < 0.85:
            return f"020 {rng.randint(3000, 8999)} {rng.randint(0, 9999):04d}"
        return f"01{rng.randint(200, 999)} {rng.randint(100000, 999999)}"

    def _address(self, member_id: int, kind: AddressKind) -> str:
        """Add an address row; returns its postcode."""
        rng = self.rng
        letters = _POSTCODE_LETTERS
        area = rng.choice(self.pools.areas)
        town, county = POST_TOWNS[area]
        postcode = f"{area}{rng.randint(1, 29)} {rng.randint(0, 9)}{rng.choice(letters)}{rng.choice(letters)}"
        line2 = f"Flat {rng.randint(1, 40)}" if rng.random() < 0.15 else ""
        line1 = f"{rng.randint(1, 220)} {rng.choice(self.pools.streets)}"
        self.addresses.append((self._id("address"), member_id, kind.value, line1, line2, town, county, postcode, "GB"))
        return postcode

    def member(self) -> None:
        rng, ts = self.rng, self.ts
        member_id = self._id("member")
        member_no = demo_member_no(member_id)
        person = self._person()
        email = self._email(person, member_id)
        phone = self._phone()
        status = rng.choices(_STATUSES, _STATUS_WEIGHTS)[0]
        created = self._ago(30, 3650)
        logon_id = f"{(_slug(person.first) or 'm')[0]}{_slug(person.last)[:30]}{member_no.lower()}"

        postcodes = [self._address(member_id, AddressKind.HOME)]
        if rng.random() < 0.3:
            postcodes.append(self._address(member_id, rng.choice((AddressKind.POSTAL, AddressKind.BILLING))))

        points = balance = pending_count = pending_cents = 0
        last_login: dt.datetime | None = None
        merged_into = None
        if status == MemberStatus.MERGED:
            if member_id > 1:
                merged_into = rng.randint(max(1, member_id - 5000), member_id - 1)
            else:
                status = MemberStatus.ACTIVE
        if status != MemberStatus.MERGED:
            points = self._points(member_id, created)
            balance, pending_count, pending_cents = self._transactions(member_id, created)
            last_login = self._portal_users(member_id, person, email, logon_id, status, created)
            values = search_values(member_no, person.first, person.last, email, phone, postcodes)
            self.search.append((member_id, *(values[column] for column in SEARCH_COLUMNS[1:])))

        opt_in = status in (MemberStatus.ENROLLED, MemberStatus.ACTIVE) and rng.random() < 0.6
        # Most who opted in want everything; some only the newsletter.
        offers = opt_in and rng.random() < 0.7
        blocked = balance > 0 and rng.random() < 0.15
        updated = self._between(created, self.now)
        self.members.append(
            (
                member_id,
                member_no,
                logon_id,
                person.title,
                person.first,
                person.last,
                email,
                phone,
                opt_in,
                offers,
                offers,
                status.value,
                None,  # status_before_hold: no demo member is on hold
                merged_into,
                blocked,
                "Membership renewal unpaid" if blocked else "",
                ts(updated) if blocked else None,
                "Demo Registrar" if blocked else "",
                points,
                balance,
                pending_count,
                pending_cents,
                ts(last_login) if last_login else None,
                ts(created),
                ts(updated),
                1,
                "{}",
            )
        )

    def _points(self, member_id: int, created: dt.datetime) -> int:
        rng, ts = self.rng, self.ts
        total = 0
        at = created
        for _ in range(rng.randint(1, 5)):
            at = self._between(at, self.now)
            if total > 500 and rng.random() < 0.2:
                kind, delta, reason = (
                    PointsType.REDEMPTION,
                    -rng.randint(1, total // 100) * 100,
                    "Redeemed for show entry",
                )
            else:
                kind = rng.choices(
                    (PointsType.BASE, PointsType.BONUS, PointsType.PROMOTIONAL, PointsType.GOODWILL), (70, 15, 10, 5)
                )[0]
                delta, reason = rng.randint(1, 40) * 25, rng.choice(_POINTS_REASONS[kind])
            total += delta
            self.points.append((self._id("points_entry"), member_id, delta, kind.value, reason, None, ts(at)))
        return total

    def _transactions(self, member_id: int, created: dt.datetime) -> tuple[int, int, int]:
        rng, ts = self.rng, self.ts
        balance = pending_count = pending_cents = 0
        at = created
        for year in range(max(created.year, self.now.year - 2), self.now.year + 1):
            fee = rng.choice((4500, 6000, 7500))
            at = max(at, self._between(dt.datetime(year, 1, 1, tzinfo=dt.UTC), self.now))
            self.txns.append(
                (self._id("account_txn"), member_id, fee, f"Annual membership {year}", TxnStatus.SETTLED.value, ts(at),
                 "charge", ts(at), "GBP", None, None, None, "", "", None, "")
            )
            balance += fee
            if rng.random() < 0.9:
                paid_at = self._between(at, self.now)
                self.txns.append(
                    (
                        self._id("account_txn"),
                        member_id,
                        -fee,
                        "Payment received, thank you",
                        TxnStatus.SETTLED.value,
                        ts(paid_at),
                        "payment",
                        ts(paid_at),
                        "GBP",
                        None,
                        None,
                        PaymentMethod.BANK_TRANSFER.value,
                        "",
                        "",
                        None,
                        "Accounts",
                    )
                )
                balance -= fee
        if rng.random() < 0.22:
            for _ in range(rng.randint(1, 3)):
                amount = rng.choice((1500, 2500, 3200))
                description = rng.choice(
                    (f"Registration: {rng.choice(_ANIMALS)}", f"Transfer: {rng.choice(_ANIMALS)}", "Show entry fee")
                )
                self.txns.append(
                    (
                        self._id("account_txn"),
                        member_id,
                        amount,
                        description,
                        TxnStatus.PENDING.value,
                        ts(self._ago(0, 45)),
                        "charge",
                        None,
                        "GBP",
                        None,
                        None,
                        None,
                        "",
                        "",
                        None,
                        "",
                    )
                )
                pending_count += 1
                pending_cents += amount
        return balance, pending_count, pending_cents

    def _portal_users(
        self, member_id: int, person: _Person, email: str, logon_id: str, status: MemberStatus, created: dt.datetime
    ) -> dt.datetime | None:
        """Add the account's portal users; returns the latest sign-in of any of them."""
        rng = self.rng
        if rng.random() >= 0.75:
            return None
        # Inactive accounts cannot sign in: their users last did before deactivation.
        until = max(created, self._ago(60, 400)) if status == MemberStatus.INACTIVE else self.now
        logins = [
            self._user(logon_id, email, f"{person.first} {person.last}", UserRole.FULL, member_id, created, until)
        ]
        if rng.random() < 0.2:
            other = self._person()
            logins.append(
                self._user(
                    f"{logon_id}-{rng.randint(2, 9)}",
                    self._email(other, member_id),
                    f"{other.first} {person.last}",
                    UserRole.STANDARD,
                    member_id,
                    created,
                    until,
                )
            )
        return max((login for login in logins if login is not None), default=None)

    def _user(
        self,
        username: str,
        email: str,
        display_name: str,
        role: UserRole,
        member_id: int | None,
        created: dt.datetime,
        until: dt.datetime,
    ) -> dt.datetime | None:
        """Add a user; returns their last sign-in (None if they never signed in)."""
        rng, ts = self.rng, self.ts
        state = rng.choices(_USER_STATES, _USER_STATE_WEIGHTS)[0]
        since = self._between(created, until)
        last_login = None
        if state != UserState.INVITED:
            recently = max(since, until - dt.timedelta(days=30))
            last_login = self._between(recently if rng.random() < 0.6 else since, until)
        member_no = demo_member_no(member_id) if member_id is not None else None
        self.users.append(
            (
                self._id("app_user"),
                username,
                email,
                display_name,
                role.value,
                state.value,
                member_id,
                ts(last_login) if last_login else None,
                ts(since),
                1,
                user_search_text(username, display_name, email, member_no),
            )
        )
        return last_login

    def non_member_user(self) -> None:
        person = self._person()
        user_id = self.next_id["app_user"]
        username = f"{_slug(person.first)}.{_slug(person.last)}.{user_id}"
        name = f"{person.first} {person.last}"
        self._user(
            username, self._email(person, user_id), name, UserRole.NON_MEMBER, None, self._ago(30, 1500), self.now
        )

    def take(self) -> dict[str, tuple[Sequence[str], list[tuple[Any, ...]]]]:
        """The rows drawn since the last call, by table, parents first."""
        batch: dict[str, tuple[Sequence[str], list[tuple[Any, ...]]]] = {
            "member": (MEMBER_COLUMNS, self.members),
            "address": (ADDRESS_COLUMNS, self.addresses),
            "member_search": (SEARCH_COLUMNS, self.search),
            "app_user": (USER_COLUMNS, self.users),
            "points_entry": (POINTS_COLUMNS, self.points),
            "account_txn": (TXN_COLUMNS, self.txns),
        }
        self.members, self.addresses, self.search, self.users, self.points, self.txns = [], [], [], [], [], []
        for table, (_, rows) in batch.items():
            self.written[table] += len(rows)
        return batch


class _Loader(Protocol):
    def timestamp(self, value: dt.datetime) -> Any: ...

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None: ...

    def finish(self) -> None: ...


@dataclass
class _SqliteLoader:
    connection: Connection

    def timestamp(self, value: dt.datetime) -> str:
        # The storage format of SQLAlchemy's SQLite DateTime: naive UTC, microseconds.
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if rows:
            placeholders = ", ".join("?" * len(columns))
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
            self.connection.connection.dbapi_connection.cursor().executemany(statement, rows)  # type: ignore[union-attr]

    def finish(self) -> None:
        # Merge the FTS5 index's segments into one b-tree: faster queries afterwards.
        self.connection.exec_driver_sql("INSERT INTO member_fts (member_fts) VALUES ('optimize')")


@dataclass
class _PostgresLoader:
    connection: Connection
    rebuild_trigram_index: bool = False
    _dropped: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.rebuild_trigram_index:
            # Building the GIN index once after the load is several times faster than
            # updating it row by row; DDL is transactional, so a failure restores it.
            TRIGRAM_INDEX.drop(self.connection)
            self._dropped = True

    def timestamp(self, value: dt.datetime) -> dt.datetime:
        return value

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        for table in _ID_TABLES:
            self.connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 1), max(id) IS NOT NULL) "
                f"FROM {table}"
            )
        if self._dropped:
            self.connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            TRIGRAM_INDEX.create(self.connection)


@contextmanager
def _loading(engine: Engine, members_before: int) -> Iterator[tuple[Connection, _Loader]]:
    """A connection in a transaction, tuned for a bulk load, and its loader."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            dbapi_connection = connection.connection.dbapi_connection
            assert dbapi_connection is not None
            dbapi_connection.execute("PRAGMA synchronous=OFF")
            dbapi_connection.execute("PRAGMA cache_size=-1048576")  # up to 1 GiB, allocated as needed
            try:
                with connection.begin():
                    yield connection, _SqliteLoader(connection)
            finally:
                dbapi_connection.execute("PRAGMA synchronous=NORMAL")
                dbapi_connection.execute("PRAGMA cache_size=-2000")
        else:
            with connection.begin():
                yield connection, _PostgresLoader(connection, rebuild_trigram_index=members_before == 0)


def _create_staff(session: Session, pools: _Pools, rng: random.Random, password: str | None) -> list[str]:
    if session.scalar(select(User.id).where(User.username == DEMO_ADMIN)) is not None:
        return []
    admin = create_staff(
        session,
        DEMO_ADMIN,
        password,
        role=UserRole.SOCIETY_ADMIN,
        email=DEMO_ADMIN_EMAIL,
        display_name=DEMO_ADMIN_NAME,
        actor="seed-demo",
    )
    names = [admin.username]
    english = pools.people[0]
    while len(names) < 1 + _STAFF_COUNT:
        first, _ = rng.choice(english)
        last = rng.choice(pools.last_names[0])
        username = f"{_slug(first)}.{_slug(last)}"
        if username in names or session.scalar(select(User.id).where(User.username == username)) is not None:
            continue
        create_staff(
            session,
            username,
            password,
            role=UserRole.SOCIETY_STAFF,
            email=f"{username}@society.example",
            display_name=f"{first} {last}",
            actor="seed-demo",
        )
        names.append(username)
    return names


#: How many of the new members get demo orders (the first ones), and what they order.
DEMO_ORDER_MEMBERS = 400
_ORDER_LINES = (
    ("Herd book registration", 2500), ("Transfer of ownership", 1500), ("Show entry fee", 3200),
    ("Course: Judging basics", 9500), ("DNA profile", 3800), ("Breed society handbook", 1800),
    ("Annual dinner ticket", 4200),
)  # fmt: skip


_DEMO_METHODS = (PaymentMethod.CHEQUE, PaymentMethod.BANK_TRANSFER, PaymentMethod.CASH)


def _demo_payment_manager(session: Session, member_ids: range, now: dt.datetime) -> None:
    """The payment manager on a few demo members with paid orders: a refund paid out,
    credit notes against an order and on the account, a refund awaiting a second staff
    member's approval, one approved and one rejected. Through the commands themselves
    (audited as the demo staff), so the rules hold as they do at the desk."""
    staff = [Actor(user_id=user_id, username=username, role=role) for user_id, username, role in session.execute(
        select(User.id, User.username, User.role).where(
            User.role.in_([UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN])).order_by(User.id))]
    asker = staff[0] if staff else Actor(user_id=None, username="seed-demo")
    approver = staff[1] if len(staff) > 1 else Actor(user_id=None, username="seed-demo")
    paid = list(session.execute(
        select(AccountTransaction.member_id, AccountTransaction.id, AccountTransaction.amount_cents)
        .where(AccountTransaction.member_id.between(member_ids.start, member_ids.stop - 1), AccountTransaction.kind == TxnKind.PAYMENT,
               AccountTransaction.order_id.is_not(None)).order_by(AccountTransaction.id).limit(40)).all())
    unpaid = list(session.execute(select(Order.contact_member_id, Order.id, Order.amount_cents).where(
        Order.contact_member_id.between(member_ids.start, member_ids.stop - 1), Order.state == OrderState.UNPAID).order_by(Order.id)
        .limit(10)).all())
    first_txn = (session.scalar(select(func.max(AccountTransaction.id))) or 0) + 1
    commands: list[tuple[Command | _Decide | _Later, Actor]] = []
    for member_id, txn_id, cents in paid[0:6:2]:
        commands.append((RefundPayment(member_id=member_id, payment_txn_id=txn_id, amount_cents=-cents // 2,
                                       reason="Show entry cancelled by the organisers"), asker))
    for member_id, order_id, cents in unpaid[:3]:
        commands.append((IssueCreditNote(member_id=member_id, order_id=order_id, amount_cents=min(cents, 1000),
                                         reason="Postage charged in error"), asker))
    for member_id, _txn_id, _cents in paid[10:12]:
        commands.append((IssueCreditNote(member_id=member_id, amount_cents=2500,
                                         reason="Goodwill: the county show was cancelled"), asker))
    # Paid in advance by bank transfer, then refunds above the threshold: one waits for
    # approval (sign in as another staff member to approve it), one approved, one rejected.
    for index, (member_id, _txn_id, _cents) in enumerate(paid[20:23]):
        commands.append((RecordManualPayment(member_id=member_id, amount_cents=60_000, method="bank_transfer",
                                             reference=f"BACS ADV{member_id:06d}"), asker))
        commands.append((_Later(member_id, 57_500), asker))
        if index:
            commands.append((_Decide(member_id, approve=index == 1), approver))
    for step, actor in commands:
        if isinstance(step, _Decide):
            refund = session.scalar(select(Refund.id).where(Refund.member_id == step.member_id,
                                                            Refund.state == RefundState.AWAITING_APPROVAL))
            if refund is None:
                continue
            command: Command = DecideRefund(member_id=step.member_id, refund_id=refund, approve=step.approve,
                                            reason="Checked the booking" if step.approve else "No booking on file")
        elif isinstance(step, _Later):
            command = step.make(session)
        else:
            command = step
        execute(session, command, actor)
        session.flush()
    # Stamps of our own (not the clock's): the same seed gives the same rows.
    made = list(session.scalars(select(AccountTransaction).where(AccountTransaction.id >= first_txn)
                                .order_by(AccountTransaction.id)))
    for index, txn in enumerate(made):
        txn.created_at = now - dt.timedelta(minutes=len(made) - index)
        txn.settled_at = txn.created_at if txn.settled_at is not None else None
    for row in session.scalars(select(Refund)):
        row.requested_at = now - dt.timedelta(hours=2)
        row.decided_at = now - dt.timedelta(hours=1) if row.decided_at is not None else None
        row.finished_at = (row.decided_at or row.requested_at) if row.finished_at is not None else None
    for member in session.scalars(select(Member).where(Member.id.in_({t.member_id for t in made}))):
        member.updated_at = now


@dataclass(frozen=True)
class _Decide:
    member_id: int
    approve: bool


@dataclass(frozen=True)
class _Later:
    """A refund of the member's newest payment, made once that payment exists."""

    member_id: int
    amount_cents: int

    def make(self, session: Session) -> Command:
        txn_id = session.scalar(select(AccountTransaction.id).where(
            AccountTransaction.member_id == self.member_id, AccountTransaction.kind == TxnKind.PAYMENT)
            .order_by(AccountTransaction.id.desc()).limit(1))
        assert txn_id is not None
        return RefundPayment(member_id=self.member_id, payment_txn_id=txn_id, amount_cents=self.amount_cents,
                             reason="Course cancelled: paid in advance")


def _orders(session: Session, rng: random.Random, now: dt.datetime, member_ids: range) -> int:
    """Demo orders for the members ``member_ids``: some paid, some unpaid, some exported
    to the accounting system, a few with another member as registrant. Charges and
    payments go through the ledger's one writer, so balances stay the sum of their rows."""
    members = list(session.scalars(select(Member).where(
        Member.id.between(member_ids.start, member_ids.stop - 1), Member.status.not_in((MemberStatus.MERGED, MemberStatus.INACTIVE)))
        .order_by(Member.id)))
    made = 0
    for member in members:
        for _ in range(rng.randint(1, 3)):
            picks = rng.sample(_ORDER_LINES, rng.randint(1, 2))
            lines = [LineIn(f"{text}: {rng.choice(_ANIMALS)}" if "registration" in text or "Transfer" in text
                            else text, cents, rng.choice((1, 1, 1, 2))) for text, cents in picks]
            registrants = [member]
            if rng.random() < 0.2 and len(members) > 1:
                registrants.append(rng.choice(members))
            at = now - dt.timedelta(days=rng.uniform(1, 300))
            order = place_order(session, member, lines, registrants=registrants, at=at)
            roll = rng.random()
            if roll < 0.5:
                paid_at = at + dt.timedelta(days=rng.uniform(0, 10))
                # Taken at the desk (a card payment would need the provider's checkout to refund).
                method = _DEMO_METHODS[order.id % len(_DEMO_METHODS)]
                post_transaction(session, member, -order.amount_cents,
                                 f"{method.label} payment for order {order.order_no}", at=min(paid_at, now),
                                 kind=TxnKind.PAYMENT, order_id=order.id, method=method,
                                 method_reference=f"{method.label[:4].upper()}-{order.id:06d}", recorded_by="Accounts")
                order.state, order.paid_at = OrderState.PAID, min(paid_at, now)
            if roll < 0.15 or (roll > 0.9):
                order.exported, order.exported_at, order.exported_by = True, at + dt.timedelta(days=20), "Accounts"
            made += 1
            # A stamp of our own (not the clock's): the same seed gives the same rows.
            member.updated_at = max(member.updated_at, at) + dt.timedelta(microseconds=made)
    return made
#: Demo tickets: one per this many new members, at most DEMO_TICKETS_MAX.
DEMO_TICKET_EVERY = 25
DEMO_TICKETS_MAX = 80
_DEMO_SUBJECTS = (
    ("membership", "Renewal form not received"), ("membership", "Change of name after marriage"),
    ("membership", "Membership card has the wrong address"), ("billing", "Charged twice for renewal"),
    ("billing", "Refund for the cancelled show entry"), ("billing", "Direct debit failed this month"),
    ("portal", "Cannot sign in to the portal"), ("portal", "Password reset link expired"),
    ("portal", "Invitation e-mail never arrived"), ("general", "Question about the points scheme"),
    ("general", "Complaint about a judge at the county show"), ("general", "Request for a copy of the rules"),
)  # fmt: skip
_DEMO_NOTES = (
    "Member phoned; says they wrote last week too.", "Checked the ledger: payment is there.",
    "Asked finance to look at it.", "Waiting for the member to send a photo of the card.",
)  # fmt: skip
_DEMO_MESSAGES = (
    "Hello, I have not heard back about this yet. Could someone look at it, please?",
    "I tried again this morning and it still does not work.",
)  # fmt: skip
_DEMO_REPLIES = (
    "Thank you for getting in touch. We are looking into it and will come back to you shortly.",
    "We have corrected this on your account; you should see the change within a day.",
)  # fmt: skip


def _demo_tickets(session: Session, rng: random.Random, now: dt.datetime, first_member_id: int) -> None:
    """Support tickets on some of the new demo members, spread over the queues, some
    assigned to demo staff, some overdue, with notes and replies (no mail is queued:
    the replies are history)."""
    member_ids = list(session.scalars(select(Member.id).where(Member.id >= first_member_id).order_by(Member.id)))
    count = min(DEMO_TICKETS_MAX, len(member_ids) // DEMO_TICKET_EVERY)
    if not count:
        return
    staff = list(session.execute(select(User.id, User.username).where(
        User.role.in_([UserRole.SOCIETY_STAFF, UserRole.SOCIETY_ADMIN])).order_by(User.id)))
    priorities = [TicketPriority.LOW, TicketPriority.NORMAL, TicketPriority.NORMAL, TicketPriority.HIGH,
                  TicketPriority.URGENT]
    made_merge = False
    for member_id in sorted(rng.sample(member_ids, count)):
        queue, subject = rng.choice(_DEMO_SUBJECTS)
        created = now - dt.timedelta(minutes=rng.randint(30, 9 * 24 * 60))
        author = rng.choice(staff) if staff else None
        ticket = Ticket(uid=str(uuid.UUID(int=rng.getrandbits(128), version=4)), member_id=member_id, subject=subject,
                        queue=queue, created_at=created, updated_at=created,
                        created_by=author[1] if author else "seed-demo", state=TicketState.NEW)
        ticket.set_priority(rng.choice(priorities))
        roll = rng.random()
        if staff and roll < 0.6:
            ticket.assignee_id = rng.choice(staff)[0]
        entries = [TicketEntry(kind=EntryKind.NOTE, body=rng.choice(_DEMO_NOTES), created_at=created,
                               author_name=ticket.created_by, author_user_id=author[0] if author else None)]
        if rng.random() < 0.3:  # written by the member in the portal (Contact us)
            entries.insert(0, TicketEntry(kind=EntryKind.MESSAGE, body=rng.choice(_DEMO_MESSAGES), created_at=created,
                                          author_name="member (portal)"))
        if roll < 0.5:
            replied = created + dt.timedelta(minutes=rng.randint(10, 600))
            entries.append(TicketEntry(kind=EntryKind.REPLY, body=rng.choice(_DEMO_REPLIES), created_at=replied,
                                       author_name=ticket.created_by, author_user_id=author[0] if author else None))
            ticket.first_responded_at, ticket.updated_at = replied, replied
            ticket.state = rng.choice([TicketState.OPEN, TicketState.PENDING, TicketState.RESOLVED])
            if ticket.state == TicketState.RESOLVED:
                ticket.resolved_at = replied
            ticket.refresh_due()
        ticket.entries = entries
        session.add(ticket)
        session.flush()
        record(session, actor_user_id=author[0] if author else None, actor_name=ticket.created_by,
               action="ticket.open", entity_type="member", entity_id=member_id,
               details={"ticket_id": ticket.id, "ticket_uid": ticket.uid, "subject": subject, "queue": queue,
                        "priority": ticket.priority.value})
        if not made_merge:  # the same question sent twice: the second copy merged into the first
            made_merge = True
            twin = Ticket(uid=str(uuid.UUID(int=rng.getrandbits(128), version=4)), member_id=member_id,
                          subject=f"{subject} (sent again)", queue=queue, created_at=created + dt.timedelta(minutes=5),
                          updated_at=created + dt.timedelta(minutes=6), created_by="member (portal)",
                          state=TicketState.MERGED, merged_into_id=ticket.id)
            twin.set_priority(TicketPriority.NORMAL)
            twin.entries = [TicketEntry(kind=EntryKind.MESSAGE, body=rng.choice(_DEMO_MESSAGES),
                                        created_at=created + dt.timedelta(minutes=5), author_name="member (portal)")]
            session.add(twin)
            session.flush()
            session.add(TicketMerge(source_id=twin.id, target_id=ticket.id, merged_at=twin.updated_at,
                                    merged_by=ticket.created_by, source_state=TicketState.NEW,
                                    source_updated_at=twin.created_at, target_updated_at=ticket.updated_at))


#: Demo fraud-stop blocks (documentation addresses and domains only: never the
#: workstation's own loopback, never a demo member's e-mail): kind, value, reason,
#: note, days ago, days to expiry (None: never), would-have-blocked count, lifted.
_DEMO_BLOCKS: tuple[tuple[BlockKind, str, BlockReason, str, int, int | None, int, bool], ...] = (
    (BlockKind.IP, "203.0.113.0/24", BlockReason.CARD_TESTING, "Forty renewals tried in ten minutes", 12, 171, 37,
     False),
    (BlockKind.IP, "2001:db8:bad::/48", BlockReason.FAKE_ACCOUNT, "Sign-ups with invented herd numbers", 40, 143, 5,
     False),
    (BlockKind.IP, "198.51.100.23", BlockReason.ABUSE, "Abusive messages to the office", 200, -17, 2, False),
    (BlockKind.CARD, "fp_demo7c1e0b9a4d2f", BlockReason.STOLEN_CARD, "Card reported stolen by its holder", 5, None, 1,
     False),
    (BlockKind.EMAIL, "fraud.example", BlockReason.FAKE_ACCOUNT, "Throw-away addresses", 30, None, 9, False),
    (BlockKind.EMAIL, "chargeback@example.net", BlockReason.CHARGEBACK, "Disputed three renewals", 60, None, 0, True),
)


def _demo_fraud_blocks(session: Session, now: dt.datetime) -> None:
    """A few fraud-stop blocks, once: active, expired and lifted ones of each kind."""
    if session.scalar(select(func.count()).select_from(FraudBlock)):
        return
    for kind, value, reason, note, ago, lasts, hits, lifted in _DEMO_BLOCKS:
        made = now - dt.timedelta(days=ago)
        key = ip_key(ip_network(value)) if kind == BlockKind.IP else card_key(value) if kind == BlockKind.CARD \
            else (f"e:{value}" if "@" in value else f"d:{value}")
        block = FraudBlock(kind=kind, value=str(ip_network(value)) if kind == BlockKind.IP else value, match_key=key,
                           reason_code=reason, note=note, source="demo data", created_at=made, created_by="seed-demo",
                           expires_at=made + dt.timedelta(days=ago + lasts) if lasts is not None else None,
                           would_have_blocked=hits, last_blocked_at=made + dt.timedelta(days=1) if hits else None)
        if kind == BlockKind.CARD:
            block.card_brand, block.card_bin, block.card_last4 = "visa", "400000", "0077"
        if lifted:
            block.lifted_at, block.lifted_by = made + dt.timedelta(days=3), "seed-demo"
            block.lift_reason = "The member's bank confirmed the payments"
        session.add(block)


def seed_demo(
    engine: Engine,
    members: int,
    *,
    seed: int = 0,
    now: dt.datetime | None = None,
    staff_password: str | None = None,
    batch_size: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> SeedReport:
    """Add ``members`` demo members (ids after any already there), their portal users,
    ledgers and search rows, one non-member user per hundred members, and — unless
    they exist — the demo Society Admin ``demo-admin`` and three Society Staff.

    ``staff_password`` gives the demo staff a password (otherwise they sign in only
    by a bootstrap token). ``now`` anchors every date (default: today, 00:00 UTC), so
    a seed and a day give the same data. One transaction: all or nothing.
    """
    if members < 0:
        raise ValueError("members must be zero or more")
    started = time.monotonic()
    now = now or utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    with Session(engine) as probe:
        members_before = probe.scalar(select(func.count()).select_from(Member)) or 0
    # Capture triggers are off for the load, inside its transaction, and every member
    # gets its feed row from the backfill below before it commits (changefeed.py):
    # per-row triggers would number each member and address one by one.
    with _loading(engine, members_before) as (connection, loader), capture_suspended(connection):
        generator = _Generator(seed, now, loader.timestamp)
        session = Session(bind=connection)
        staff = _create_staff(session, generator.pools, generator.rng, staff_password)
        session.flush()
        for table in _ID_TABLES:
            generator.next_id[table] = (connection.scalar(text(f"SELECT coalesce(max(id), 0) FROM {table}")) or 0) + 1
        first_member_id = generator.next_id["member"]
        for done in range(0, members, batch_size):
            size = min(batch_size, members - done)
            for i in range(size):
                generator.member()
                if (done + i) % 100 == 99:
                    generator.non_member_user()
            for table, (columns, rows) in generator.take().items():
                loader.write(table, columns, rows)
            if progress is not None:
                progress(done + size, members)
        record(
            session,
            actor_user_id=None,
            actor_name="seed-demo",
            action="demo.seeded",
            details={"members": members, "seed": seed},
        )
        session.flush()
        loader.finish()
        first_new = generator.next_id["member"] - members
        demo_orders = range(first_new, first_new + min(members, DEMO_ORDER_MEMBERS))
        _orders(session, generator.rng, generator.now, demo_orders)
        session.flush()
        _demo_payment_manager(session, demo_orders, generator.now)
        _demo_tickets(session, generator.rng, now, first_member_id)
        _demo_fraud_blocks(session, now)
        seed_courses(session, generator.rng, now, first_member_id)
        demo_animals(session, generator.rng, now, range(first_new, first_new + members))
        backfill_feed(session)  # capture is suspended for the load: number the new members here
        session.flush()
    if engine.dialect.name == "postgresql":
        # Statistics for the planner, and a visibility map so counts can be index-only.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in (*_ID_TABLES, "member_search"):
                connection.exec_driver_sql(f"VACUUM ANALYZE {table}")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    written = generator.written
    return SeedReport(
        members=written["member"],
        addresses=written["address"],
        users=written["app_user"],
        points_entries=written["points_entry"],
        transactions=written["account_txn"],
        staff=staff,
        seconds=time.monotonic() - started,
    )

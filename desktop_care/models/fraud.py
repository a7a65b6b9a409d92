"""Fraud stop: blocks on an IP address or range, a card, or an e-mail address or domain.

The RMS Customer Care manual's FRAUD-STOP: once saved, "that IP or credit card will no
longer be able to be used to open an account or make a purchase". A block records who
made it, when and why (a reason code of :class:`BlockReason` and a note); it ends when
it expires or when someone lifts it (with a reason). Each refusal it causes adds one to
its ``would_have_blocked`` count (docs/decisions/0022-fraud-stop.md).

**One lookup for every kind.** Each block has a ``match_key``, indexed, that a value to
check can be turned into without reading any other row:

- an e-mail address ``e:someone@example.com``; a domain ``d:example.com`` (it blocks the
  domain and every subdomain: ``x@mail.example.com`` is checked against
  ``d:mail.example.com`` and ``d:example.com``);
- a card ``c:<the provider's fingerprint>`` (never a card number: PCI DSS);
- an IP network ``i4:<prefix>:<network, hex>`` / ``i6:...``. A block is always a CIDR
  network (a single address is a /32 or /128), so an address lies in a block exactly
  when the block's key is one of the address's 33 (IPv4) or 129 (IPv6) networks: one
  indexed ``IN`` query, however many blocks there are and however they overlap.

  On PostgreSQL the IP check asks instead "which blocks' networks contain this
  address", ``value::inet >>= :address``, through a GiST index on ``value::inet`` of the
  IP blocks (``ix_fraud_block_network``): one tree descent instead of 129 key probes,
  the difference between missing and meeting the 1 ms budget of a portal request
  (docs/decisions/0035). ``value`` of an IP block is always ``str(ip_network(...))``,
  so the cast never fails.

Nothing here is replicated to workstations (the console reads blocks online).
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import (
    ARRAY,
    Enum,
    Index,
    Integer,
    String,
    Text,
    any_,
    bindparam,
    cast,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, Session, mapped_column

from .audit import record
from .base import Base, UTCDateTime, utcnow
from .choices import BlockKind, BlockReason, BlockState
from .keyset import SortKey, folded, sort_index
from .search import SortColumn

#: How long an IP block lasts unless staff choose otherwise (addresses get reallocated).
DEFAULT_IP_EXPIRY = dt.timedelta(days=183)
MAX_NOTE = 1000
MAX_VALUE = 254


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Attempt(enum.StrEnum):
    """What a refused request tried to do (in the staff log)."""

    OPEN_ACCOUNT = "open an account"
    PURCHASE = "make a purchase"


class FraudBlock(Base):
    __tablename__ = "fraud_block"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[BlockKind] = mapped_column(_enum(BlockKind))
    #: What people read: "203.0.113.0/24", "bad@example.com", "example.com", a fingerprint.
    value: Mapped[str] = mapped_column(String(MAX_VALUE))
    #: What a check looks up (see the module docstring).
    match_key: Mapped[str] = mapped_column(String(80))
    card_brand: Mapped[str] = mapped_column(String(20), default="")
    card_bin: Mapped[str] = mapped_column(String(8), default="")
    card_last4: Mapped[str] = mapped_column(String(4), default="")
    reason_code: Mapped[BlockReason] = mapped_column(_enum(BlockReason))
    note: Mapped[str] = mapped_column(Text, default="")
    #: Where it came from, for people ("FRAUD-STOP on member 000123, order O-42").
    source: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)
    lifted_by: Mapped[str] = mapped_column(String(120), default="")
    lift_reason: Mapped[str] = mapped_column(Text, default="")
    would_have_blocked: Mapped[int] = mapped_column(Integer, default=0)
    last_blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (
        Index("ix_fraud_block_match", "match_key"),
        Index("ix_fraud_block_created", "created_at", "id"),
        # The IP check on PostgreSQL (see the module docstring); migration 0025.
        Index("ix_fraud_block_network", cast(value, INET), postgresql_using="gist",
              postgresql_ops={"value": "inet_ops"}, postgresql_where=literal_column("kind") == literal_column("'ip'"),
              ).ddl_if(dialect="postgresql"),
    )

    def state(self, now: dt.datetime) -> BlockState:
        if self.lifted_at is not None:
            return BlockState.LIFTED
        if self.expires_at is not None and self.expires_at <= now:
            return BlockState.EXPIRED
        return BlockState.ACTIVE


# ---------------------------------------------------------------------- keys


def ip_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """The network ``text`` names (an address or CIDR; host bits must be zero); an
    IPv4-mapped IPv6 address means its IPv4 address. ValueError in plain words."""
    text = text.strip()
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            loose = ipaddress.ip_network(text, strict=False)
            raise ValueError(f"has host bits set: did you mean {loose}?") from None
        raise ValueError("is not an IP address or CIDR range (e.g. 203.0.113.7 or 203.0.113.0/24)") from None
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None \
            and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        network = ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def _ip_key(version: int, prefix: int, network: int) -> str:
    return f"i{version}:{prefix}:{network:x}"


def ip_key(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    return _ip_key(network.version, network.prefixlen, int(network.network_address))


def address_keys(address: str) -> list[str]:
    """The keys of every network ``address`` lies in (33 for IPv4, 129 for IPv6); none
    for something that is not an address."""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return []
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    bits = ip.max_prefixlen
    value = int(ip)
    return [_ip_key(ip.version, p, value >> (bits - p) << (bits - p)) for p in range(bits + 1)]


def _plain_address(address: str) -> str | None:
    """``address`` without a zone, an IPv4-mapped one as IPv4; None if not an address."""
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def email_keys(email: str) -> list[str]:
    """``e:address`` and ``d:`` for its domain and each parent domain (lower case)."""
    email = email.strip().lower()
    if "@" not in email:
        return []
    domain = email.rsplit("@", 1)[1]
    labels = domain.split(".")
    return [f"e:{email}", *(f"d:{'.'.join(labels[i:])}" for i in range(len(labels)))]


def card_key(fingerprint: str) -> str:
    return f"c:{fingerprint.strip()}"


# ---------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Probe:
    """One thing to check: its kind, the value as seen (for the staff log), its keys."""

    kind: BlockKind
    value: str
    #: The e-mail and card keys; an IP probe's are made from ``address`` when asked for.
    given_keys: tuple[str, ...] = ()
    #: For an IP probe, the address as PostgreSQL's ``inet`` reads it (an IPv4-mapped
    #: IPv6 address as its IPv4 address, as blocks store it); None when not an address.
    address: str | None = None

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """The ``match_key`` values that block this probe. For an IP address, its 33 or
        129 networks' keys: made only when used (PostgreSQL's IP check needs none)."""
        if self.kind is BlockKind.IP:
            return tuple(address_keys(self.address)) if self.address is not None else ()
        return self.given_keys

    @staticmethod
    def ip(address: str) -> Probe:
        return Probe(BlockKind.IP, address, address=_plain_address(address))

    @staticmethod
    def email(address: str) -> Probe:
        return Probe(BlockKind.EMAIL, address, tuple(email_keys(address)))

    @staticmethod
    def card(fingerprint: str) -> Probe:
        return Probe(BlockKind.CARD, fingerprint, (card_key(fingerprint),) if fingerprint.strip() else ())


_BLOCKS = FraudBlock.__table__
_ACTIVE = (_BLOCKS.c.lifted_at.is_(None), or_(_BLOCKS.c.expires_at.is_(None), _BLOCKS.c.expires_at > bindparam("now")))
#: Built once (Core statements, their SQL cached): the check runs on every portal
#: request that opens an account or pays. SQLite takes the keys as an ``IN`` list;
#: PostgreSQL as one array parameter (``= ANY(:keys)``): 129 binds cost it more to
#: send, parse and plan than the index probes themselves (bench/fraud_block.py).
_ACTIVE_IDS = select(_BLOCKS.c.id).where(
    _BLOCKS.c.match_key.in_(bindparam("keys", expanding=True)), *_ACTIVE).order_by(_BLOCKS.c.id)
_ACTIVE_IDS_ARRAY = select(_BLOCKS.c.id).where(
    _BLOCKS.c.match_key == any_(bindparam("keys", type_=ARRAY(String))), *_ACTIVE).order_by(_BLOCKS.c.id)
#: PostgreSQL's IP check through ``ix_fraud_block_network``. The kind is a literal, not a
#: bind: the planner must see ``kind = 'ip'`` to use the partial index, also in the
#: generic plan of a prepared statement.
_ACTIVE_IP_IDS_INET = select(_BLOCKS.c.id).where(
    literal_column("kind") == literal_column("'ip'"),
    cast(_BLOCKS.c.value, INET).op(">>=")(cast(bindparam("address", type_=String), INET)),
    *_ACTIVE).order_by(_BLOCKS.c.id)


def active_block_ids(session: Session, probe: Probe, now: dt.datetime) -> list[int]:
    """The ids of the active blocks that match ``probe`` (one indexed query)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and probe.kind is BlockKind.IP:
        if probe.address is None:
            return []
        return list(session.execute(_ACTIVE_IP_IDS_INET, {"address": probe.address, "now": now}).scalars())
    if not probe.keys:
        return []
    statement = _ACTIVE_IDS_ARRAY if postgresql else _ACTIVE_IDS
    return list(session.execute(statement, {"keys": list(probe.keys), "now": now}).scalars())


@dataclass(frozen=True)
class Hit:
    block: FraudBlock
    probe: Probe


def find_blocks(session: Session, probes: Iterable[Probe], now: dt.datetime | None = None) -> list[Hit]:
    """The active blocks that match any of ``probes`` (the first probe each matched)."""
    now = now or utcnow()
    hits: list[Hit] = []
    seen: set[int] = set()
    for probe in probes:
        for block_id in active_block_ids(session, probe, now):
            if block_id not in seen:
                seen.add(block_id)
                block = session.get(FraudBlock, block_id)
                assert block is not None
                hits.append(Hit(block, probe))
    return hits


def count_hits(session: Session, hits: Sequence[Hit], now: dt.datetime | None = None) -> None:
    """Add one to each hit block's "would have blocked" count (in the caller's transaction)."""
    if hits:
        session.execute(update(FraudBlock).where(FraudBlock.id.in_([h.block.id for h in hits])).values(
            would_have_blocked=FraudBlock.would_have_blocked + 1, last_blocked_at=now or utcnow())
            .execution_options(synchronize_session=False))


def stop(session: Session, probes: Iterable[Probe], attempt: Attempt, *, actor_user_id: int | None,
         actor_name: str, client_address: str = "", details: dict[str, object] | None = None,
         now: dt.datetime | None = None) -> list[Hit]:
    """Check ``probes`` for what a request ``attempt``s; for each block that stops it,
    count the hit and write the staff log's line (audit ``fraud.refused`` on the block:
    which block, what was attempted, by what, with ``details``). Returns the hits (none:
    go ahead). In the caller's transaction, which must commit even when it refuses."""
    now = now or utcnow()
    hits = find_blocks(session, probes, now)
    count_hits(session, hits, now)
    for hit in hits:
        record(session, actor_user_id=actor_user_id, actor_name=actor_name, action="fraud.refused",
               entity_type="fraud_block", entity_id=hit.block.id, client_address=client_address,
               details={"attempt": attempt.value, "block_kind": hit.block.kind.value, "block_value": hit.block.value,
                        "matched": f"{hit.probe.kind.value} {hit.probe.value}", **(details or {})})
    return hits


def describe(hits: Sequence[Hit]) -> str:
    """The staff log's words for what stopped a request: which block, matched by what."""
    return "; ".join(f"fraud block #{h.block.id} ({h.block.kind.value} {h.block.value}, "
                     f"{h.block.reason_code.value}) matched {h.probe.kind.value} {h.probe.value}" for h in hits)


# ---------------------------------------------------------------------- the page's sort


class BlockSort(SortColumn):
    """A column of the Fraud stop page, ascending; ``-`` first for descending
    (``-created``, newest first, is the page's own order)."""

    ID = "id"
    ID_DESC = "-id"
    KIND = "kind"
    KIND_DESC = "-kind"
    BY = "by"
    BY_DESC = "-by"
    CREATED = "created"
    CREATED_DESC = "-created"
    EXPIRES = "expires"
    EXPIRES_DESC = "-expires"
    HITS = "hits"
    HITS_DESC = "-hits"

    @property
    def key(self) -> SortKey:
        return BLOCK_SORT_KEYS[self.column_name]


_b = FraudBlock.__table__.c
#: How each sortable column sorts; a block that never expires comes last both ways.
BLOCK_SORT_KEYS: dict[str, SortKey] = {
    "id": SortKey(_b.id, _b.id, int),
    "kind": SortKey(_b.kind, _b.id, str),
    "by": SortKey(folded(_b.created_by), _b.id, str),
    "created": SortKey(_b.created_at, _b.id, dt.datetime),
    "expires": SortKey(_b.expires_at, _b.id, dt.datetime, nullable=True),
    "hits": SortKey(_b.would_have_blocked, _b.id, int),
}
#: The indexes the walks need, each ending with the id (migration 0026; ``created`` has
#: ``ix_fraud_block_created``, ``id`` the primary key).
BLOCK_SORT_INDEXES: tuple[Index, ...] = tuple(
    sort_index(f"ix_fraud_block_sort_{name}", BLOCK_SORT_KEYS[name]) for name in ("kind", "by", "expires", "hits"))


__all__ = [
    "BLOCK_SORT_KEYS",
    "DEFAULT_IP_EXPIRY",
    "Attempt",
    "BlockKind",
    "BlockReason",
    "BlockSort",
    "BlockState",
    "FraudBlock",
    "Hit",
    "Probe",
    "active_block_ids",
    "address_keys",
    "card_key",
    "count_hits",
    "describe",
    "email_keys",
    "find_blocks",
    "ip_key",
    "ip_network",
    "stop",
]

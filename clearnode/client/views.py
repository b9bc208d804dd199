"""The answers of the API, as types: its JSON (money and quantities are ints in smallest
units, prices fixed-point ints, addresses and hashes 0x-hex strings: docs/member.md) and
a page of one's history as CSV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict


class Submitted(TypedDict):
    """202 of a submission: admitted, recorded on the node's disk, gossip started."""

    tx_hash: str
    status: str


class TxOutcome(TypedDict, total=False):
    """`GET /v1/txs/{hash}`: `pending`, or `committed` with its block and result."""

    tx_hash: str
    status: str
    height: int
    index: int
    code: str
    detail: str
    events: list[dict[str, Any]]


class Collateral(TypedDict):
    chainId: int
    token: str
    quanta: int


class Withdrawable(Collateral):
    fromCash: int


class Position(TypedDict):
    instrument: str
    quantity: int
    averageEntryPrice: int
    settlementPrice: int
    realisedPnl: int


class Risk(TypedDict):
    equity: int
    initialMargin: int
    maintenanceMargin: int
    freeCollateral: int
    liquidationPrices: dict[str, int]


class MarginCall(TypedDict):
    amountDue: int
    openedHeight: int
    deadlineHeight: int
    blocksLeft: int


class Auction(TypedDict):
    auction: int
    round: int
    closesHeight: int
    lots: list[dict[str, Any]]


class Account(TypedDict):
    """`POST /v1/accounts/query`: one's own sub-account at the committed `height`."""

    member: str
    subAccount: int
    height: int
    cash: int
    nextNonce: int
    collateral: list[Collateral]
    withdrawable: list[Withdrawable]
    positions: list[Position]
    risk: Risk | None
    marginCall: MarginCall | None
    auctions: list[Auction]


class AccountEvent(TypedDict):
    """One row of one's history: `kind` and its `fields` (node/history/)."""

    height: int
    seq: int
    source: str
    index: int
    kind: str
    fields: dict[str, Any]


class Cursor(TypedDict):
    height: int
    seq: int


@dataclass(frozen=True)
class HistoryCsv:
    """A page of one's history as CSV (`"format": "csv"`): `text` is its header row then
    one row per event; `next_cursor` continues it (None: the last page)."""

    text: str
    next_cursor: Cursor | None


class AccountEvents(TypedDict):
    """A page of one's history; `nextCursor` continues it (None: the last page)."""

    member: str
    fromHeight: int
    historyHeight: int
    nextCursor: Cursor | None
    events: list[AccountEvent]


class ClientSubAccount(TypedDict):
    subAccount: int
    equity: int
    initialMargin: int
    shortfall: int  # how far equity is below initial margin (0: covered)
    marginCallDue: int  # 0: no open call
    positions: list[dict[str, Any]]


class ClientRiskView(TypedDict):
    client: str
    model: str  # "omnibus" or "segregated"
    backup: str | None
    guaranteeNeed: int  # its stress loss beyond its own equity: what guaranteeing it may cost
    subAccounts: list[ClientSubAccount]


class ClientsRisk(TypedDict):
    """`POST /v1/clearing-members/clients`: a clearing member's clients, a page from an
    offset (`nextOffset` continues it), and what the member answers for in total."""

    member: str
    height: int
    admitted: bool
    clientCount: int
    clientShortfall: int
    guaranteeNeed: int
    clients: list[ClientRiskView]
    nextOffset: int | None


class ClientTerms(TypedDict):
    clearingMember: str
    model: str
    backup: str | None


class ClientAccountView(TypedDict):
    """`POST /v1/clients/account`: a client's clearing member, model and backup (None
    while it has none) and the offers made to it."""

    client: str
    height: int
    clearingMember: str | None
    model: str | None
    backup: str | None
    offers: list[ClientTerms]
    nextOffset: int | None


class ReportView(TypedDict):
    """`GET /v1/reports/{epoch}`: the report's hex bytes (proofs/FORMAT.md) and what
    the chain committed of it."""

    epoch: int
    chainId: int
    stateRoot: str
    reportHash: str
    committedHash: str | None
    commitHeight: int | None
    accounts: int
    signatures: list[dict[str, str]]
    report: str

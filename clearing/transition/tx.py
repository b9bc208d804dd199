"""The transaction envelope, ``msgpack([TX_VERSION, kind, *fields])``, and the kinds it
carries: `KINDS`, each declared beside its record (clearing/tx_kind.py), from which the
envelope's table, a block's dispatch, admission and the API's routes are derived.

Each transaction record class has ``KIND: ClassVar[int]``, ``to_fields()``
and ``from_fields(fields) -> record`` (raising ``DecodeError``). ``decode_tx``
accepts nothing else: wrong version, unknown kind, oversize or malformed input
all raise ``DecodeError``.
"""

from __future__ import annotations

from typing import Any

from clearing.collateral import COLLATERAL_CREDIT, CollateralCredit
from clearing.default.bidding import AUCTION_BID, REGISTER_BIDDER, AuctionBid, RegisterBidder
from clearing.governance.submit import GOV_PROPOSAL, GovProposal
from clearing.governance.vote import GOV_VOTE, GovVote
from clearing.limits import MAX_TX_BYTES
from clearing.oracle import PRICE_UPDATE, PriceUpdate
from clearing.report_commitment import REPORT_COMMITMENT, ReportCommitment
from clearing.transition.client_requests import (
    ACCEPT_CLIENT_ACCOUNT,
    OFFER_CLIENT_ACCOUNT,
    AcceptClientAccount,
    OfferClientAccount,
)
from clearing.transition.trade import TRADE_BATCH, TradeBatch
from clearing.transition.transfer import TRANSFER, Transfer
from clearing.transition.withdrawal import WITHDRAWAL, WITHDRAWAL_PAID, Withdrawal, WithdrawalPaid
from clearing.tx_kind import AnyKind, Submitter, TxRecord
from clearing.venues import AUTHORISE_VENUE, AuthoriseVenue
from clearing.withdrawal_expiry import WITHDRAWAL_EXPIRED, WithdrawalExpired
from records.codec import DecodeError, expect_int, expect_list, pack, unpack, unpack_head

TX_VERSION = 3
"""2: every member request and trade batch carries its expiry (`expires_ms`); 3: and the
time it was signed (`issued_at_ms`), its signed lifetime bounded (replay_protection.py)."""

KINDS: tuple[AnyKind, ...] = (
    TRADE_BATCH,
    AUTHORISE_VENUE,
    COLLATERAL_CREDIT,
    TRANSFER,
    WITHDRAWAL,
    WITHDRAWAL_PAID,
    PRICE_UPDATE,
    REPORT_COMMITMENT,
    WITHDRAWAL_EXPIRED,
    REGISTER_BIDDER,
    AUCTION_BID,
    GOV_PROPOSAL,
    GOV_VOTE,
    OFFER_CLIENT_ACCOUNT,
    ACCEPT_CLIENT_ACCOUNT,
)

Transaction = (
    TradeBatch
    | AuthoriseVenue
    | CollateralCredit
    | Transfer
    | Withdrawal
    | WithdrawalPaid
    | PriceUpdate
    | ReportCommitment
    | WithdrawalExpired
    | RegisterBidder
    | AuctionBid
    | GovProposal
    | GovVote
    | OfferClientAccount
    | AcceptClientAccount
)
"""`KINDS`' records, spelled out for the type checker (tests/clearing/test_tx.py holds the
two equal)."""

TX_TYPES: dict[int, Any] = {kind.code: kind.record for kind in KINDS}
KIND_OF: dict[type, AnyKind] = {kind.record: kind for kind in KINDS}
"""A decoded transaction's kind, by its record's type."""


def get_records_submitted_by(submitter: Submitter) -> tuple[type, ...]:
    """The records of the kinds `submitter` hands to a node (those its API route takes)."""
    return tuple(kind.record for kind in KINDS if kind.submitter is submitter)


def encode_tx(tx: TxRecord) -> bytes:
    return pack([TX_VERSION, tx.KIND, *tx.to_fields()])


def get_tx_kind(data: bytes) -> str:
    """The record type a transaction claims to be ("TradeBatch"), read from its envelope's
    head alone; "undecodable" when even that is malformed."""
    try:
        version, kind = unpack_head(data, 2, "transaction")
    except DecodeError:
        return "undecodable"
    record_type = TX_TYPES.get(kind) if version == TX_VERSION and type(kind) is int else None
    return "undecodable" if record_type is None else str(record_type.__name__)


def decode_tx(data: bytes) -> Transaction:
    """Parse one transaction; raise ``DecodeError`` on anything malformed."""
    if len(data) > MAX_TX_BYTES:
        raise DecodeError("transaction", f"{len(data)} bytes exceeds {MAX_TX_BYTES}")
    envelope = expect_list(unpack(data, "transaction"), "transaction")
    if len(envelope) < 2:
        raise DecodeError("transaction", "expected [version, kind, ...]")
    version = expect_int(envelope[0], "version")
    if version != TX_VERSION:
        raise DecodeError("transaction", f"version {version} is not {TX_VERSION}")
    kind = expect_int(envelope[1], "kind")
    record_type = TX_TYPES.get(kind)
    if record_type is None:
        raise DecodeError("transaction", f"unknown kind {kind}")
    tx: Transaction = record_type.from_fields(envelope[2:])
    return tx

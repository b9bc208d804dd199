"""The transaction envelope: ``msgpack([TX_VERSION, kind, *fields])``.

Each transaction record class has ``KIND: ClassVar[int]``, ``to_fields()``
and ``from_fields(fields) -> record`` (raising ``DecodeError``). ``decode_tx``
accepts nothing else: wrong version, unknown kind, oversize or malformed input
all raise ``DecodeError``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

from clearing.client_requests import AcceptClientAccount, OfferClientAccount
from clearing.collateral import CollateralCredit
from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.governance.submit import GovProposal
from clearing.governance.vote import GovVote
from clearing.limits import MAX_TX_BYTES
from clearing.oracle import PriceUpdate
from clearing.report_commitment import ReportCommitment
from clearing.trade import TradeBatch
from clearing.transfer import Transfer
from clearing.venues import AuthoriseVenue
from clearing.withdrawal import Withdrawal, WithdrawalPaid
from clearing.withdrawal_expiry import WithdrawalExpired
from records.codec import DecodeError, expect_int, expect_list, pack, unpack, unpack_head

TX_VERSION = 3
"""2: every member request and trade batch carries its expiry (`expires_ms`); 3: and the
time it was signed (`issued_at_ms`), its signed lifetime bounded (replay_protection.py)."""


class TxRecord(Protocol):
    KIND: ClassVar[int]

    def to_fields(self) -> list[object]: ...


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

TX_TYPES: dict[int, Any] = {
    cls.KIND: cls
    for cls in (
        TradeBatch,
        AuthoriseVenue,
        CollateralCredit,
        Transfer,
        Withdrawal,
        WithdrawalPaid,
        PriceUpdate,
        ReportCommitment,
        WithdrawalExpired,
        RegisterBidder,
        AuctionBid,
        GovProposal,
        GovVote,
        OfferClientAccount,
        AcceptClientAccount,
    )
}


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

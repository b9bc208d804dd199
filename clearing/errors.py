"""Typed errors of the clearing state machine.

``ClearingError`` -> ``InvalidTransaction`` -> one class per reason, each
carrying the numbers that explain it (execution-specs style). A transaction
that raises ``InvalidTransaction`` leaves the state untouched; its class name
is the result code a venue or member reads in the block result.
``GenesisError`` is for a bad genesis; malformed bytes are the codec's ``DecodeError``
(records/codec.py), which carries a ``code`` as these do.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


class ClearingError(Exception):
    """Base of every error raised by ``clearing/``."""

    def __str__(self) -> str:
        parts = [f"{f.name}={_show(getattr(self, f.name))}" for f in fields(self)]  # type: ignore[arg-type]
        return f"{type(self).__name__}({', '.join(parts)})"

    @property
    def code(self) -> str:
        """Stable result code: the class name."""
        return type(self).__name__


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value)


@dataclass(eq=False)
class GenesisError(ClearingError):
    """Genesis key ``key`` is not ``expected`` (it was ``got``)."""

    key: str
    expected: str
    got: object


class InvalidTransaction(ClearingError):
    """A transaction rejected by the rules; nothing changed."""


@dataclass(eq=False)
class UnknownMember(InvalidTransaction):
    member: bytes


@dataclass(eq=False)
class UnknownSubAccount(InvalidTransaction):
    member: bytes
    sub_account: int


@dataclass(eq=False)
class UnknownVenue(InvalidTransaction):
    venue_id: str


@dataclass(eq=False)
class UnknownInstrument(InvalidTransaction):
    instrument_id: str


@dataclass(eq=False)
class UnknownCollateral(InvalidTransaction):
    chain_id: int
    token: bytes


@dataclass(eq=False)
class UnknownFeed(InvalidTransaction):
    feed: str


@dataclass(eq=False)
class VenueNotAuthorised(InvalidTransaction):
    venue_id: str
    member: bytes


@dataclass(eq=False)
class OutsideBand(InvalidTransaction):
    instrument_id: str
    price: int
    mark_price: int
    band_bps: int


@dataclass(eq=False)
class OffTick(InvalidTransaction):
    instrument_id: str
    price: int
    tick_size: int


@dataclass(eq=False)
class InstrumentExpired(InvalidTransaction):
    instrument_id: str
    expiry_ms: int
    time_ms: int


@dataclass(eq=False)
class InstrumentHalted(InvalidTransaction):
    """Governance halted the instrument (clearing/governance/instrument_status.py)."""

    instrument_id: str


@dataclass(eq=False)
class InstrumentSettled(InvalidTransaction):
    """Governance settled the perpetual at ``final_price`` (clearing/governance/settlement.py)."""

    instrument_id: str
    final_price: int


@dataclass(eq=False)
class InstrumentReduceOnly(InvalidTransaction):
    """Governance made the instrument reduce-only: a position may only shrink toward 0."""

    instrument_id: str
    member: bytes
    quantity_before: int
    quantity_after: int


@dataclass(eq=False)
class DuplicateTrade(InvalidTransaction):
    venue_id: str
    trade_id: int


@dataclass(eq=False)
class StaleTradeId(InvalidTransaction):
    """Below the venue's replay window: ids under ``lowest_accepted`` are never cleared."""

    venue_id: str
    trade_id: int
    lowest_accepted: int


@dataclass(eq=False)
class RequestExpired(InvalidTransaction):
    """A signed request (``what``: a member request's type, or ``TradeBatch``) whose
    deadline ``expires_ms`` is before the block time ``block_time_ms``: no later block can
    apply it (block time never goes back); sign it anew."""

    what: str
    expires_ms: int
    block_time_ms: int


@dataclass(eq=False)
class ExpiryTooFar(InvalidTransaction):
    """A signed request whose lifetime, from the time it was signed ``issued_at_ms`` to its
    deadline ``expires_ms``, is longer than genesis ``max_request_lifetime_ms``
    (``max_lifetime_ms``): its signed bytes are refused at every block time, forever."""

    what: str
    issued_at_ms: int
    expires_ms: int
    max_lifetime_ms: int


@dataclass(eq=False)
class ExpiryBeforeIssue(InvalidTransaction):
    """A signed request whose deadline ``expires_ms`` is before the time it says it was
    signed, ``issued_at_ms``: refused at every block time, forever."""

    what: str
    issued_at_ms: int
    expires_ms: int


@dataclass(eq=False)
class IssuedInFuture(InvalidTransaction):
    """A signed request issued (``issued_at_ms``) more than ``max_ahead_ms`` after the block
    time ``block_time_ms``: a clock ahead of the network's, or bytes signed for later. Not
    final: the same bytes may apply at a block time from ``applies_from_ms`` to their
    ``expires_ms``, unless what they would spend is spent first (a member request's nonce,
    a batch's trade ids), which a block's refusal does (member_authorisation.py,
    transition/trade.py). The message says so, and how to supersede them."""

    what: str
    issued_at_ms: int
    block_time_ms: int
    max_ahead_ms: int
    applies_from_ms: int
    expires_ms: int

    def __str__(self) -> str:
        if self.what == "TradeBatch":
            spent = "their trade ids"
            again = "sign their trades again under the same ids (each id clears once)"
        else:
            spent = "their nonce"
            again = "sign the replacement with the same nonce (at most one of the two applies)"
        return (
            f"{super().__str__()}: these signed bytes may apply at a block time from "
            f"{self.applies_from_ms} to {self.expires_ms} unless a block spends {spent} "
            f"first (one that refuses them does); to supersede them, {again}"
        )


@dataclass(eq=False)
class DuplicateCredit(InvalidTransaction):
    """Deposit ``deposit_nonce`` of ``vault`` on ``chain_id`` is already credited."""

    chain_id: int
    vault: bytes
    deposit_nonce: int


@dataclass(eq=False)
class DepositNotYetDue(InvalidTransaction):
    """Deposit ``deposit_nonce`` of ``vault`` on ``chain_id`` is in a chain block of time
    ``deposit_time_s`` (unix seconds), later than the block time ``block_time_ms``: a
    ledger crediting it earlier would hold collateral the vault, read at the chain's
    last block no later than a report's time, does not show."""

    chain_id: int
    vault: bytes
    deposit_nonce: int
    deposit_time_s: int
    block_time_ms: int


@dataclass(eq=False)
class PayoutNotYetDue(InvalidTransaction):
    """The vault paid withdrawal ``nonce`` of ``member`` on ``chain_id`` in a chain block
    of time ``payout_time_s`` (unix seconds), later than the block time ``block_time_ms``:
    a ledger seeing it paid earlier would count a payout the vault, read at the chain's
    last block no later than a report's time, has not made."""

    chain_id: int
    member: bytes
    nonce: int
    payout_time_s: int
    block_time_ms: int


@dataclass(eq=False)
class InsufficientCollateral(InvalidTransaction):
    member: bytes
    sub_account: int
    chain_id: int
    token: bytes
    available: int
    requested: int


@dataclass(eq=False)
class InsufficientCash(InvalidTransaction):
    member: bytes
    sub_account: int
    available: int
    requested: int


@dataclass(eq=False)
class InvalidAmount(InvalidTransaction):
    """``field`` must be in ``[minimum, maximum]``; it was ``value``."""

    field: str
    value: int
    minimum: int
    maximum: int


@dataclass(eq=False)
class SameSubAccount(InvalidTransaction):
    member: bytes
    sub_account: int


@dataclass(eq=False)
class BadSignature(InvalidTransaction):
    """The signature over ``what`` does not verify for ``signer``. For a member's EIP-712
    request: ``recovered`` is the address it does recover to (empty when none) and
    ``domain`` the domain it had to be signed under."""

    what: str
    signer: bytes
    recovered: bytes = b""
    domain: str = ""


@dataclass(eq=False)
class UnknownSigner(InvalidTransaction):
    signer: bytes


@dataclass(eq=False)
class DuplicateSigner(InvalidTransaction):
    signer: bytes


@dataclass(eq=False)
class QuorumNotReached(InvalidTransaction):
    """Need ``3 * signed_power > 2 * total_power``."""

    signed_power: int
    total_power: int


@dataclass(eq=False)
class StaleObservation(InvalidTransaction):
    signer: bytes
    observed_ms: int
    time_ms: int
    max_age_ms: int


@dataclass(eq=False)
class ObservationNotNewer(InvalidTransaction):
    """A price observation counts once, and only if made after ``newer_than_ms``: the
    last price update's block time or its signer's newest observation applied, the later."""

    signer: bytes
    observed_ms: int
    newer_than_ms: int


@dataclass(eq=False)
class NonceReused(InvalidTransaction):
    member: bytes
    nonce: int


@dataclass(eq=False)
class InsufficientEquity(InvalidTransaction):
    """After the debit, equity would be ``equity_after`` < ``requirement``."""

    member: bytes
    sub_account: int
    equity_after: int
    requirement: int


@dataclass(eq=False)
class UnknownAuction(InvalidTransaction):
    auction: int


@dataclass(eq=False)
class AuctionClosed(InvalidTransaction):
    """Bids are taken in blocks below ``closes_height``; this one is at ``height``."""

    auction: int
    closes_height: int
    height: int


@dataclass(eq=False)
class NotABidder(InvalidTransaction):
    """Only a member registered with ``RegisterBidder`` may bid."""

    member: bytes


@dataclass(eq=False)
class BidNotCovered(InvalidTransaction):
    """With every lot of the auction and ``premium`` paid, on top of what its other open
    bids hold, the sub-account's equity would be below its bid requirement."""

    member: bytes
    sub_account: int
    auction: int
    premium: int
    equity: int
    requirement: int


@dataclass(eq=False)
class OpenBidUncovered(InvalidTransaction):
    """The sub-account's open bids in ``auctions`` are binding: after this debit or trade
    its equity would be ``equity_after`` < ``requirement``, the initial margin with every
    lot they may win plus the premiums offered."""

    member: bytes
    sub_account: int
    auctions: tuple[int, ...]
    equity_after: int
    requirement: int


@dataclass(eq=False)
class BidBelowMaintenance(InvalidTransaction):
    """At the close, taking the lots and paying ``premium`` would leave the sub-account's
    equity ``equity`` below its maintenance margin ``maintenance``: the bid is void."""

    member: bytes
    sub_account: int
    auction: int
    premium: int
    equity: int
    maintenance: int


@dataclass(eq=False)
class WithdrawalsHalted(InvalidTransaction):
    """No withdrawal leaves while defaults have cost ``uncovered_deficit`` more than the
    waterfall held (clearing/default/house.py)."""

    uncovered_deficit: int


@dataclass(eq=False)
class InsufficientReserve(InvalidTransaction):
    """The vault on ``chain_id`` holds ``reserve`` settlement units for cash; the payout
    needs ``requested``. Another chain's vault may hold enough."""

    chain_id: int
    reserve: int
    requested: int


@dataclass(eq=False)
class UnknownWithdrawal(InvalidTransaction):
    """No pending withdrawal ``(member, nonce)`` on ``chain_id`` to mark paid."""

    member: bytes
    nonce: int
    chain_id: int


@dataclass(eq=False)
class WithdrawalNotExpired(InvalidTransaction):
    """The chain block observed at ``block_time_s`` is not past the withdrawal's
    ``expiry``: the vault could still pay it, so it cannot be refunded."""

    member: bytes
    nonce: int
    expiry: int
    block_time_s: int


class InvalidBlock(ClearingError):
    """A block that cannot be applied at all; the state is untouched."""


@dataclass(eq=False)
class WrongBlockHeight(InvalidBlock):
    expected: int
    got: int


@dataclass(eq=False)
class TimeNotMonotonic(InvalidBlock):
    previous_ms: int
    got_ms: int


@dataclass(eq=False)
class WrongBlockChain(InvalidBlock):
    expected: int
    got: int


@dataclass(eq=False)
class NotCleared(InvalidTransaction):
    """``member`` has no clearing member to guarantee its trades: it is neither an
    admitted clearing member nor a client under one (``clearing_member``: the client's
    member, empty once that member defaulted and the client was not ported)."""

    member: bytes
    clearing_member: bytes


@dataclass(eq=False)
class NotAdmitted(InvalidTransaction):
    """``member`` is not an admitted clearing member (clearing/roles.py)."""

    member: bytes


@dataclass(eq=False)
class NotAClientAddress(InvalidTransaction):
    """``client`` cannot hold a client account: it is an admitted clearing member, the
    clearing house's account, or the member offering it."""

    client: bytes


@dataclass(eq=False)
class InvalidBackup(InvalidTransaction):
    """A client's ``backup`` must be an admitted clearing member other than its
    ``clearing_member`` (or none: the zero address)."""

    clearing_member: bytes
    backup: bytes


@dataclass(eq=False)
class NoClientOffer(InvalidTransaction):
    """``clearing_member`` has not offered ``client`` an account on these terms."""

    client: bytes
    clearing_member: bytes


@dataclass(eq=False)
class AlreadyClient(InvalidTransaction):
    """``client`` holds an account under ``clearing_member``: it joins another member only
    once it has none (after that member's default)."""

    client: bytes
    clearing_member: bytes


@dataclass(eq=False)
class UnknownSegregationModel(InvalidTransaction):
    model: str
    models: list[str]


@dataclass(eq=False)
class InvalidInstrument(InvalidTransaction):
    """A listed instrument fails the genesis rules: key ``key`` is not ``expected``."""

    key: str
    expected: str
    got: object


@dataclass(eq=False)
class InvalidTemplate(InvalidTransaction):
    """A listing template fails the genesis rules: key ``key`` is not ``expected``."""

    key: str
    expected: str
    got: object

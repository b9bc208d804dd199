"""Oracle price updates: validator-signed observations -> committed prices.

Each validator signs its own observation (index prices per feed id, mark
prices per instrument id, the time it observed them). A block's update:

1. rejects unknown signers, duplicate signers, bad signatures, unknown ids;
2. counts only fresh observations (``FreshnessRule``): at most ``max_age_ms`` away
   from the block time, made after the last price update's block time, and newer
   than their signer's newest observation applied. Each observation counts once,
   in the order its signer made them, so nobody can move a price back by composing
   an update of older observations, or apply one update twice;
3. per price id, needs observations holding > 2/3 of total power, else that
   id is left unchanged (and if no id reaches quorum the update is rejected);
4. commits the voting-power-weighted (lower) median;
5. clamps a move beyond ``max_move_bps`` of the previous price and flags it
   with a ``price_clamped`` event (circuit breaker).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.attestation import (
    compute_signing_bytes,
    get_signed_power,
    is_quorum,
    is_valid_signature,
)
from clearing.context import BlockContext
from clearing.errors import (
    BadSignature,
    InvalidTransaction,
    ObservationNotNewer,
    QuorumNotReached,
    StaleObservation,
    UnknownFeed,
    UnknownInstrument,
)
from clearing.events import Event, make_event
from clearing.state import ClearingState
from clearing.tx_kind import Priority, Sender, Submitter, TxKind
from clearing.units import MAX_UINT64, apply_bps_floor
from records.codec import DecodeError, expect_int, expect_list, expect_str
from records.declared import (
    Checked,
    Declared,
    EdSignature,
    Items,
    PublicKey,
    Uint,
    declare_record,
)

PRICE_DOMAIN = "price-observation"
PriceList = tuple[tuple[str, int], ...]


def decode_price_list(obj: object, what: str) -> PriceList:
    """[[id, price], ...] with ids strictly increasing and prices in [1, 2^64)."""
    items = [expect_list(pair, what, 2) for pair in expect_list(obj, what)]
    prices = tuple((expect_str(k, what), expect_int(v, what, 1, MAX_UINT64)) for k, v in items)
    if [k for k, _ in prices] != sorted({k for k, _ in prices}):
        raise DecodeError(what, "ids must be strictly increasing")
    return prices


def encode_price_list(prices: PriceList) -> list[list[object]]:
    return [list(p) for p in prices]


Prices = Annotated[PriceList, Checked(decode_price_list, encode_price_list)]


@declare_record
@dataclass(frozen=True, slots=True)
class PriceObservation(Declared):
    signer: PublicKey  # the validator's
    observed_ms: Uint
    index_prices: Prices  # feed id -> Price, sorted by id
    mark_prices: Prices  # instrument id -> Price, sorted by id
    signature: EdSignature

    def signing_bytes(self, chain_id: int) -> bytes:
        """The validator signs its observation: every field but the signer and signature."""
        return compute_signing_bytes(PRICE_DOMAIN, chain_id, self.to_fields()[1:-1])


def sign_price_observation(
    key: Ed25519PrivateKey,
    chain_id: int,
    observed_ms: int,
    index_prices: dict[str, int],
    mark_prices: dict[str, int],
) -> PriceObservation:
    """A validator's signed observation (oracle service, tests, devnet)."""
    unsigned = PriceObservation(
        key.public_key().public_bytes_raw(),
        observed_ms,
        tuple(sorted(index_prices.items())),
        tuple(sorted(mark_prices.items())),
        b"",
    )
    return PriceObservation(
        unsigned.signer,
        observed_ms,
        unsigned.index_prices,
        unsigned.mark_prices,
        key.sign(unsigned.signing_bytes(chain_id)),
    )


@declare_record
@dataclass(frozen=True, slots=True)
class PriceUpdate(Declared):
    KIND: ClassVar[int] = 6
    observations: Annotated[tuple[PriceObservation, ...], Items()]


def compute_weighted_median(votes: list[tuple[int, int]]) -> int:
    """Lower weighted median of ``(price, power)``: the smallest price at which
    the cumulative power reaches half of the total."""
    votes = sorted(votes)
    total = sum(power for _, power in votes)
    cumulative = 0
    for price, power in votes:
        cumulative += power
        if 2 * cumulative >= total:
            return price
    raise ValueError("no votes")


def compute_clamped_price(previous: int | None, proposed: int, max_move_bps: int) -> int:
    """``proposed`` limited to ``previous`` +- floor(previous * max_move_bps / 10_000)."""
    if previous is None:
        return proposed
    limit = apply_bps_floor(previous, max_move_bps)
    return max(previous - limit, min(previous + limit, proposed))


@dataclass(frozen=True, slots=True)
class FreshnessRule:
    """Which observations a block at ``time_ms`` counts: those at most ``max_age_ms`` from
    it (either way: a signer's clock may run ahead of the proposer's), made after
    ``after_ms`` (the last price update's block time) and after their signer's newest
    observation applied (``last_observed_ms``). A proposer's pool applies the same rule."""

    time_ms: int
    max_age_ms: int
    after_ms: int
    last_observed_ms: Mapping[bytes, int]

    @classmethod
    def at(cls, state: ClearingState, time_ms: int) -> FreshnessRule:
        """The rule of a block at ``time_ms`` on ``state``."""
        return cls(
            time_ms, state.genesis.oracle.max_age_ms, state.price_time_ms, state.last_observed_ms
        )

    def get_refusal(self, o: PriceObservation) -> InvalidTransaction | None:
        """Why ``o`` does not count, or None if it does."""
        if abs(self.time_ms - o.observed_ms) > self.max_age_ms:
            return StaleObservation(o.signer, o.observed_ms, self.time_ms, self.max_age_ms)
        newer_than = max(self.after_ms, self.last_observed_ms.get(o.signer, 0))
        if o.observed_ms <= newer_than:
            return ObservationNotNewer(o.signer, o.observed_ms, newer_than)
        return None

    def is_fresh(self, o: PriceObservation) -> bool:
        return self.get_refusal(o) is None


def check_price_update(
    state: ClearingState, ctx: BlockContext, tx: PriceUpdate
) -> list[PriceObservation]:
    """Every check of ``process_price_update``; returns the observations that count.
    Those that do not are left out while the rest hold a quorum; when leaving them out
    loses it, the first one's refusal says why."""
    get_signed_power(state.validators, (o.signer for o in tx.observations))
    for o in tx.observations:
        check_observation_feeds(state, o)
        check_observation_instruments(state, o)
        check_observation_signed(ctx.chain_id, o)
    rule = FreshnessRule.at(state, ctx.time_ms)
    refusals = [(o, rule.get_refusal(o)) for o in tx.observations]
    fresh = [o for o, refusal in refusals if refusal is None]
    fresh_power = sum(state.validators[o.signer].power for o in fresh)
    if is_quorum(fresh_power, state.total_power):
        return fresh
    refused = [refusal for _, refusal in refusals if refusal is not None]
    if refused and is_quorum(
        sum(state.validators[o.signer].power for o in tx.observations), state.total_power
    ):
        raise refused[0]
    raise QuorumNotReached(fresh_power, state.total_power)


def check_observation_feeds(state: ClearingState, o: PriceObservation) -> None:
    """Index prices only of the price feeds of the configuration in force."""
    feeds = state.genesis.feeds()
    for feed, _ in o.index_prices:
        if feed not in feeds:
            raise UnknownFeed(feed)


def check_observation_instruments(state: ClearingState, o: PriceObservation) -> None:
    """Mark prices only of instruments in force (listed, whatever their status)."""
    for instrument_id, _ in o.mark_prices:
        if instrument_id not in state.instruments:
            raise UnknownInstrument(instrument_id)


def check_observation_signed(chain_id: int, o: PriceObservation) -> None:
    if not is_valid_signature(o.signer, o.signature, o.signing_bytes(chain_id)):
        raise BadSignature("PriceObservation", o.signer)


def _compute_committed(
    state: ClearingState, fresh: list[PriceObservation], index: bool
) -> dict[str, int]:
    """Weighted medians of the ids whose observations reach quorum."""
    votes: dict[str, list[tuple[int, int]]] = {}
    for o in fresh:
        power = state.validators[o.signer].power
        for price_id, price in o.index_prices if index else o.mark_prices:
            votes.setdefault(price_id, []).append((price, power))
    return {
        price_id: compute_weighted_median(v)
        for price_id, v in sorted(votes.items())
        if is_quorum(sum(p for _, p in v), state.total_power)
    }


def process_price_update(state: ClearingState, ctx: BlockContext, tx: PriceUpdate) -> list[Event]:
    """Commit medians of fresh, quorum-backed observations, clamped per block; each
    observation counted is its signer's newest applied from then on."""
    fresh = check_price_update(state, ctx, tx)
    index = _compute_committed(state, fresh, index=True)
    marks = _compute_committed(state, fresh, index=False)
    if not index and not marks:
        raise QuorumNotReached(0, state.total_power)
    max_move = state.genesis.oracle.max_move_bps
    events: list[Event] = []
    for kind, committed, book in (
        ("index", index, state.index_prices),
        ("mark", marks, state.mark_prices),
    ):
        for price_id, median in committed.items():
            previous = book.get(price_id)
            price = compute_clamped_price(previous, median, max_move)
            if price != median:
                events.append(
                    make_event(
                        "price_clamped",
                        kind=kind,
                        id=price_id,
                        median=median,
                        price=price,
                        previous=previous or 0,
                    )
                )
            book[price_id] = price
    state.price_time_ms = ctx.time_ms
    for o in fresh:
        state.last_observed_ms[o.signer] = o.observed_ms
    events.append(make_event("price_update", index_count=len(index), mark_count=len(marks)))
    return events


def admit_price_update(
    state: ClearingState, ctx: BlockContext, tx: PriceUpdate, raw: bytes
) -> Sender:
    """As the next block will count it (signers of the set in force, known ids, a quorum of
    observations fresh at its time and newer than those applied), so an update that
    cannot move a price never takes a trade's place; each update a sender of its own."""
    check_price_update(state, ctx, tx)
    return Sender(b"price:" + hashlib.sha256(raw).digest())


PRICE_UPDATE = TxKind(
    PriceUpdate, admit_price_update, process_price_update, Priority.SYSTEM, Submitter.VALIDATOR
)

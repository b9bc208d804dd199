"""Chainlink-style price feeds (AggregatorV3 `latestRoundData`, `decimals`) read through web3.

Synchronous like the rest of the chain adapter: the node's oracle calls
`FeedReader.read_prices` in a worker thread under its own timeout, and the reader
lets only one read at a time reach the RPC, so a hung endpoint costs one thread,
never one per sampling round.

A read is one batched round trip: `latestRoundData` and `decimals` of every feed.
Each round is checked before it becomes a price:
- the answer is positive and its round complete (answeredInRound >= roundId);
- the feed's `decimals` are the configured ones (a redeployed or wrong feed would
  otherwise be off by powers of ten);
- `updatedAt` is at most `max_age_s` older than the CALLER's clock (unix seconds).
  The caller's clock, not the latest block's timestamp: an RPC node that stopped
  syncing, or a halted chain, serves an old round together with an equally old block,
  so chain time would call it fresh; the node's clock is the one the oracle already
  stamps its observations with, and its skew (seconds) is far below a feed's
  heartbeat (minutes to hours). A round from the future (skew) counts as fresh.
The answer then becomes a ledger price with integer math only:
floor(answer * scale / 10**decimals), where `scale` (an exact fraction) is how many
ledger price units one whole unit of the answer is worth for that price id; a price
that floors to 0 or exceeds uint64 is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

from bridge.chain import Chain, connect
from bridge.chain_answers import ChainError, RpcError
from clearing.units import MAX_UINT64

LATEST_ROUND_DATA = keccak(text="latestRoundData()")[:4]
DECIMALS = keccak(text="decimals()")[:4]
ROUND_TYPES = ["uint80", "int256", "uint256", "uint256", "uint80"]


class PriceFeedError(ChainError):
    """A feed's answer was not used as a price; `address` is the feed (0x-hex)."""

    def __init__(self, address: str, message: str) -> None:
        super().__init__(f"feed {address}: {message}")
        self.address = address


class FeedAnswerNotPositive(PriceFeedError):
    def __init__(self, address: str, round_id: int, answer: int) -> None:
        super().__init__(address, f"round {round_id} answered {answer}, not a positive price")
        self.round_id, self.answer = round_id, answer


class FeedRoundIncomplete(PriceFeedError):
    def __init__(self, address: str, round_id: int, answered_in_round: int) -> None:
        super().__init__(
            address, f"round {round_id} incomplete: answered in round {answered_in_round}"
        )
        self.round_id, self.answered_in_round = round_id, answered_in_round


class FeedStale(PriceFeedError):
    def __init__(self, address: str, updated_at: int, now_s: int, max_age_s: int) -> None:
        super().__init__(
            address,
            f"updated at {updated_at}, {now_s - updated_at} s before now ({now_s}), "
            f"older than the {max_age_s} s allowed",
        )
        self.updated_at, self.now_s, self.max_age_s = updated_at, now_s, max_age_s


class FeedDecimalsMismatch(PriceFeedError):
    def __init__(self, address: str, expected: int, actual: int) -> None:
        super().__init__(address, f"has {actual} decimals, configured {expected}")
        self.expected, self.actual = expected, actual


class FeedPriceOutOfRange(PriceFeedError):
    def __init__(self, address: str, answer: int, price: int) -> None:
        super().__init__(
            address, f"answer {answer} scales to price {price}, outside [1, {MAX_UINT64}]"
        )
        self.answer, self.price = answer, price


class FeedNotReadable(PriceFeedError):
    """The address answered the call with an error or nothing (no feed there)."""


class FeedUnreachable(ChainError):
    """The RPC endpoint did not answer (down, refused, timed out, HTTP error)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url, self.reason = url, reason


@dataclass(frozen=True)
class FeedSpec:
    """One feed to read: its address, the decimals it must have, and the scale of
    its answer (ledger price units per whole unit of the answer)."""

    address: bytes
    decimals: int
    scale: Fraction

    @property
    def hex(self) -> str:
        return "0x" + self.address.hex()


@dataclass(frozen=True)
class RoundData:
    """`latestRoundData()` as the feed returned it, with the feed's `decimals()`."""

    round_id: int
    answer: int
    started_at: int
    updated_at: int
    answered_in_round: int
    decimals: int


def compute_ledger_price(answer: int, decimals: int, scale: Fraction) -> int:
    """floor(answer / 10**decimals * scale), exactly: integers and one floor division."""
    denominator: int = 10**decimals * scale.denominator
    return answer * scale.numerator // denominator


def check_round(spec: FeedSpec, data: RoundData, max_age_s: int, now_s: int) -> int:
    """The ledger price of a round, or the typed reason it is refused."""
    if data.decimals != spec.decimals:
        raise FeedDecimalsMismatch(spec.hex, spec.decimals, data.decimals)
    if data.answer <= 0:
        raise FeedAnswerNotPositive(spec.hex, data.round_id, data.answer)
    if data.answered_in_round < data.round_id:
        raise FeedRoundIncomplete(spec.hex, data.round_id, data.answered_in_round)
    if now_s - data.updated_at > max_age_s:
        raise FeedStale(spec.hex, data.updated_at, now_s, max_age_s)
    price = compute_ledger_price(data.answer, data.decimals, spec.scale)
    if not 1 <= price <= MAX_UINT64:
        raise FeedPriceOutOfRange(spec.hex, data.answer, price)
    return price


def decode_round(address: str, raw_round: Any, raw_decimals: Any) -> RoundData:
    """Decode the two eth_call results; an empty or short answer is no feed."""
    try:
        round_bytes = bytes.fromhex(str(raw_round).removeprefix("0x"))
        decimals_bytes = bytes.fromhex(str(raw_decimals).removeprefix("0x"))
        round_id, answer, started, updated, answered = Web3().codec.decode(ROUND_TYPES, round_bytes)
        (decimals,) = Web3().codec.decode(["uint8"], decimals_bytes)
    except Exception as exc:  # eth_abi raises several unrelated types on short data
        raise FeedNotReadable(address, f"answer is not latestRoundData/decimals ({exc})") from None
    return RoundData(round_id, answer, started, updated, answered, decimals)


class FeedReader:
    """Reads the feeds of one chain over its RPC URL; connects (checking the chain id)
    on first use and again after the endpoint failed."""

    def __init__(self, url: str, chain_id: int, timeout_s: float) -> None:
        self.url = url
        self.chain_id = chain_id
        self.timeout_s = timeout_s
        self._chain: Chain | None = None
        self._busy = threading.Lock()

    def is_reading(self) -> bool:
        return self._busy.locked()

    def read_rounds(self, feeds: Mapping[str, FeedSpec]) -> dict[str, RoundData]:
        """Every feed's latest round, in one batched round trip."""
        if not self._busy.acquire(blocking=False):
            raise FeedUnreachable(self.url, "the previous read has not returned yet")
        try:
            return self._read_rounds(feeds)
        finally:
            self._busy.release()

    def _read_rounds(self, feeds: Mapping[str, FeedSpec]) -> dict[str, RoundData]:
        calls: list[tuple[str, list[Any]]] = [
            ("eth_call", [{"to": spec.hex, "data": "0x" + selector.hex()}, "latest"])
            for spec in feeds.values()
            for selector in (LATEST_ROUND_DATA, DECIMALS)
        ]
        try:
            if self._chain is None:
                self._chain = connect(self.url, self.chain_id, self.timeout_s)
            results = self._chain.batch_request(calls)
        except RpcError as exc:
            raise FeedNotReadable(",".join(s.hex for s in feeds.values()), str(exc)) from None
        except (requests.RequestException, OSError) as exc:
            self._chain = None  # a fresh connection next time
            raise FeedUnreachable(self.url, f"{type(exc).__name__}: {exc}") from None
        return {
            symbol: decode_round(spec.hex, results[2 * i], results[2 * i + 1])
            for i, (symbol, spec) in enumerate(feeds.items())
        }

    def read_prices(
        self, feeds: Mapping[str, FeedSpec], max_age_s: int, now_s: int
    ) -> dict[str, int]:
        """Ledger price per symbol; the first refused feed raises (see check_round)."""
        rounds = self.read_rounds(feeds)
        return {s: check_round(feeds[s], rounds[s], max_age_s, now_s) for s in feeds}


def deploy_price_feed(
    chain: Chain, sender: LocalAccount, decimals: int, description: str, answer: int
) -> Contract:
    """A PriceFeed owned by `sender`, its round 1 answering `answer` (devnets, tests)."""
    return chain.deploy("PriceFeed", [decimals, description, answer], sender)


def update_price_feed(
    chain: Chain, feed: Contract, answer: int, sender: LocalAccount
) -> dict[str, Any]:
    """A new complete round answering `answer` at the next block's time."""
    return chain.transact(feed.functions.update(answer), sender)


def set_price_feed_round(
    chain: Chain, feed: Contract, round_data: RoundData, sender: LocalAccount
) -> dict[str, Any]:
    """Write a round verbatim (its `decimals` is ignored: a feed's are fixed at deploy)."""
    r = round_data
    call = feed.functions.setRound(
        r.round_id, r.answer, r.started_at, r.updated_at, r.answered_in_round
    )
    return chain.transact(call, sender)


def get_feed_address(feed: Contract) -> bytes:
    return bytes.fromhex(to_checksum_address(feed.address)[2:])

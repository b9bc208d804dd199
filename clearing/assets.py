"""Assets from genesis: the settlement asset and the collateral tokens.

A collateral token is keyed by ``(chain_id, token address)``. Ledger amounts
are in quanta (on-chain amount = quanta * quantum). Its price feed quotes
settlement base units per quantum, so the haircut value of one quantum,
``floor(price * (10_000 - haircut_bps) / 10_000)``, is a whole ``Amount`` and
equity stays linear with integer coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearing.units import BPS_DENOMINATOR, MAX_UINT64, div_ceil, mul_div_floor

MAX_VAULT_QUANTA = MAX_UINT64
"""The most quanta of one token the ledger has a vault hold (``ClearingState.vault_quanta``):
every balance, withdrawal and total of the token then fits the uint64 that the state root
and a report's totals encode. A deposit past it is consumed uncredited."""
MIN_VAULT_WHOLE_TOKENS = 10**9
"""What ``MAX_VAULT_QUANTA`` must come to at least, in whole tokens, so a quantum chosen too
fine (1 wei of an 18-decimal token: room for 18 tokens) is refused at genesis."""

CollateralKey = tuple[int, bytes]
"""``(chain_id, 20-byte token address)``; the zero address is the native coin."""
NATIVE = bytes(20)
"""The token address of a chain's native coin: a vault holds it as its own balance."""


@dataclass(frozen=True, slots=True)
class SettlementAsset:
    """The ledger's money. ``tokens`` are its token on each chain (collateral entries with
    no haircut whose quantum is one ``Amount``): each counts at par, and positive cash
    is paid out in any of them. Negative cash deeper than ``conversion_threshold``
    is covered by selling the account's other collateral at its haircut value."""

    symbol: str
    decimals: int
    tokens: tuple[CollateralKey, ...] = ()
    conversion_threshold: int = 0


@dataclass(frozen=True, slots=True)
class CollateralToken:
    chain_id: int
    token: bytes
    symbol: str
    decimals: int
    quantum: int
    haircut_bps: int
    price_feed: str

    @property
    def key(self) -> CollateralKey:
        return (self.chain_id, self.token)


def get_min_quantum(decimals: int) -> int:
    """The finest quantum a token of ``decimals`` may have: ``MAX_VAULT_QUANTA`` of it
    hold ``MIN_VAULT_WHOLE_TOKENS`` whole tokens."""
    return max(1, div_ceil(MIN_VAULT_WHOLE_TOKENS * 10**decimals, MAX_VAULT_QUANTA))


def compute_haircut_value_per_quantum(token: CollateralToken, price: int) -> int:
    """Settlement units one quantum counts for, rounded down (against the member)."""
    return mul_div_floor(price, BPS_DENOMINATOR - token.haircut_bps, BPS_DENOMINATOR)


def get_feed_asset(feed_id: str) -> str:
    """The asset a price feed quotes: its id up to the first ``/`` (``ETH/quantum`` and
    ``ETH/0.01`` quote one asset in two units, so they move together)."""
    return feed_id.partition("/")[0]

"""The simulated market: members with roles, a venue's trade batches in
perpetuals, a dated future and an option, and a seeded oracle price path with
one sharp crash. Every number is an int; randomness only picks the path."""

from __future__ import annotations

import random
from dataclasses import dataclass

from clearing.sandbox import MemberKey, derive_ed25519_key, derive_member_key
from clearing.trade import Trade, TradeBatch, sign_trade_batch
from node.devnet.genesis import VENUE_ID

BTC_PERP, ETH_PERP, BTC_FUT, BTC_CALL = "BTC-PERP", "ETH-PERP", "BTC-26DEC26", "BTC-26DEC26-65000-C"
BTC_FEED, ETH_FEED, ETH_COLLATERAL_FEED = "BTC/0.001", "ETH/0.01", "ETH/quantum"
START = {BTC_FEED: 60_000_000, ETH_FEED: 30_000_000}
CRASH_BPS = 3000
STEP_BPS = 40
USD = 1_000_000  # settlement base units per USD
LIQUIDATED_LOTS = 200  # ETH-PERP lots of 0.01 ETH: 6,000 USD at the start
LIQUIDATED_EQUITY = (
    2_030 * USD
)  # 34% of notional: after its default-fund share, a 30% crash leaves it between 0 and MM


@dataclass(frozen=True)
class Member:
    key: MemberKey
    name: str
    role: str

    @property
    def address(self) -> bytes:
        return self.key.address


def make_members(count: int) -> list[Member]:
    """Roles, in order: two levered longs (they default in the crash), two deep
    counterparties, a bystander, a long levered just enough to be liquidated but
    stay solvent, then option and future traders."""
    roles = ["levered BTC long", "levered ETH long", "market maker", "market maker", "bystander"]
    roles.append("liquidated ETH long")
    roles += ["derivatives trader"] * (count - len(roles))
    return [
        Member(derive_member_key(f"devnet-{n}"), f"member-{n}", role)
        for n, role in enumerate(roles[:count])
    ]


def get_deposits(members: list[Member], chains: int) -> list[tuple[int, str, int, Member]]:
    """(chain index, token symbol, on-chain amount, member): levered members bring
    little, market makers much, split over every chain."""
    usdc = {
        "levered BTC long": 400 * USD,
        "levered ETH long": 2_000 * USD,
        "market maker": 100_000 * USD,
        "bystander": 1_000 * USD,
        "derivatives trader": 20_000 * USD,
        "liquidated ETH long": LIQUIDATED_EQUITY,
    }
    out = []
    for n, member in enumerate(members):
        amount = usdc[member.role]
        if member.role == "market maker":
            out += [(c, "USDC", amount // chains, member) for c in range(chains)]
            out.append((n % chains, "WETH", 5 * 10**18, member))
        else:
            out.append((n % chains, "USDC", amount, member))
    return out


@dataclass
class Venue:
    batches: int = 0

    def batch(self, chain_id: int, trades: list[Trade]) -> TradeBatch:
        self.batches += 1
        key = derive_ed25519_key(f"venue-{VENUE_ID}")
        return sign_trade_batch(key, chain_id, VENUE_ID, self.batches, tuple(trades))


def get_opening_trades(members: list[Member], marks: dict[str, int]) -> list[Trade]:
    """The levered longs buy from both market makers; traders take the future and the call."""
    a, b, c, d = (m.address for m in members[:4])
    fills = [
        (a, c, BTC_PERP, 60),
        (a, d, BTC_PERP, 40),
        (b, c, ETH_PERP, 500),
        (b, d, ETH_PERP, 500),
    ]
    if len(members) > 5:
        fills.append((members[5].address, d, ETH_PERP, LIQUIDATED_LOTS))
    for trader in members[6:]:
        fills += [(trader.address, c, BTC_FUT, 20), (trader.address, d, BTC_CALL, 10)]
    return [
        Trade(n, iid, buyer, 0, seller, 0, marks[iid], lots)
        for n, (buyer, seller, iid, lots) in enumerate(fills, 1)
    ]


def get_flow_trades(
    members: list[Member], marks: dict[str, int], rng: random.Random, first_id: int
) -> list[Trade]:
    """A few small trades between the market makers and traders at the marks."""
    c, d = members[2].address, members[3].address
    trades = []
    for n in range(rng.randint(1, 3)):
        iid = rng.choice([BTC_PERP, ETH_PERP, BTC_FUT])
        buyer, seller = (c, d) if rng.random() < 0.5 else (d, c)
        trades.append(Trade(first_id + n, iid, buyer, 0, seller, 0, marks[iid], rng.randint(1, 5)))
    return trades


def round_down(value: int, tick: int) -> int:
    return max(tick, value // tick * tick)


def get_marks(index: dict[str, int]) -> dict[str, int]:
    """Marks from the index: perps at the index, the future at +0.5%, the call
    scaled with BTC (a crude model; the devnet needs marks, not fair values)."""
    btc, eth = index[BTC_FEED], index[ETH_FEED]
    return {
        BTC_PERP: round_down(btc, 100),
        ETH_PERP: round_down(eth, 100),
        BTC_FUT: round_down(btc * 1005 // 1000, 100),
        BTC_CALL: round_down(1_500_000 * btc * btc // (START[BTC_FEED] ** 2), 10),
    }


@dataclass
class PricePath:
    """A seeded random walk of BTC and ETH, with one crash of CRASH_BPS."""

    rng: random.Random
    index: dict[str, int]

    @classmethod
    def start(cls, seed: int) -> PricePath:
        return cls(random.Random(seed), dict(START))

    def step(self, crash: bool = False) -> tuple[dict[str, int], dict[str, int]]:
        """Next (index prices including the ETH collateral feed, marks)."""
        for feed in (BTC_FEED, ETH_FEED):
            bps = -CRASH_BPS if crash else self.rng.randint(-STEP_BPS, STEP_BPS)
            self.index[feed] = self.index[feed] * (10_000 + bps) // 10_000
        eth_per_quantum = self.index[ETH_FEED] // 10_000  # ETH/0.01 -> per 10^-6 ETH
        full = {**self.index, ETH_COLLATERAL_FEED: eth_per_quantum, "USDC/quantum": 1}
        return full, get_marks(self.index)

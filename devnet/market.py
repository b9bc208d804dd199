"""The simulated market: members with roles and a venue's trade batches in
perpetuals, a dated future and an option, priced at the committed marks.
Every number is an int; randomness only picks the flow."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import NamedTuple

from clearing.transition.trade import Trade
from clearnode.client import Member as MemberKey

BTC_PERP, ETH_PERP, BTC_FUT, BTC_CALL = "BTC-PERP", "ETH-PERP", "BTC-26DEC26", "BTC-26DEC26-65000-C"
USD = 1_000_000  # settlement base units per USD
LIQUIDATED_LOTS = 200  # ETH-PERP lots of 0.01 ETH: 6,000 USD at the start
LIQUIDATED_EQUITY = (
    2_030 * USD
)  # 34% of notional: after its default-fund share, a 30% crash leaves it between 0 and MM


BTC_SHORT = "BTC short"
SHORT_LOTS = 5  # 300 USD of BTC-PERP: the crash pays it about 90 USD
MARKET_MAKER = "market maker"
# Two longs the crash leaves between maintenance and initial margin (margin_calls.py):
# one meets its call by reducing, the other lets it expire and is liquidated.
MEETS_CALL, MISSES_CALL = "long that meets its margin call", "long that misses its margin call"
CALLED = (MEETS_CALL, MISSES_CALL)
# They trade in sub-account 1, so that the default-fund contributions, which are
# debited from sub-account 0, cannot move their margin between sizing and deadline.
CALLED_SUB_ACCOUNT = 1
CALLED_EQUITY = 3_000 * USD  # in sub-account 1: about 9,200 USD of ETH-PERP once sized
CALLED_RESERVE = 1_000 * USD  # in sub-account 0, for the default-fund contributions
ROLES = (
    "levered BTC long", "levered ETH long", MARKET_MAKER, MARKET_MAKER, BTC_SHORT,
    "liquidated ETH long", MEETS_CALL, MISSES_CALL,
)  # fmt: skip


@dataclass(frozen=True)
class Member:
    """A simulated member: its key (it signs with the client SDK), name and role."""

    key: MemberKey
    name: str
    role: str

    @classmethod
    def named(cls, name: str, role: str) -> Member:
        """The member whose public test key derives from its name: the one name the log,
        the summary and `clearnode keys sandbox NAME` (which prints the key) know it by."""
        return cls(MemberKey.from_sandbox(name), name, role)

    @property
    def address(self) -> bytes:
        return self.key.address

    @property
    def sub_account(self) -> int:
        """The sub-account it trades in."""
        return CALLED_SUB_ACCOUNT if self.role in CALLED else 0


class Deposit(NamedTuple):
    chain_index: int
    symbol: str
    amount: int  # on-chain units
    member: Member
    sub_account: int = 0


def make_members(count: int) -> list[Member]:
    """Roles, in order: two levered longs (they default in the crash), two deep
    counterparties, a small BTC short that deposits on one chain and takes its crash
    profit out on another, a long levered just enough to be liquidated but stay
    solvent, two longs the crash puts under a margin call (one meets it, one does
    not), then option and future traders."""
    roles = [*ROLES, *["derivatives trader"] * (count - len(ROLES))]
    return [Member.named(f"member-{n}", role) for n, role in enumerate(roles[:count])]


def get_role(members: list[Member], role: str) -> Member:
    return next(m for m in members if m.role == role)


def get_market_makers(members: list[Member]) -> list[Member]:
    return [m for m in members if m.role == MARKET_MAKER]


def format_usd(amount: int) -> str:
    """Settlement units as USD with cents, for people (never for state)."""
    return f"{amount / USD:,.2f} USD"


def get_deposits(members: list[Member], chains: int) -> list[Deposit]:
    """Levered members bring little, market makers much, split over every chain; the
    called longs fund the sub-account they trade in and keep a reserve in 0."""
    usdc = {
        "levered BTC long": 400 * USD,
        "levered ETH long": 2_000 * USD,
        MARKET_MAKER: 100_000 * USD,
        BTC_SHORT: 1_000 * USD,
        "derivatives trader": 20_000 * USD,
        "liquidated ETH long": LIQUIDATED_EQUITY,
        MEETS_CALL: CALLED_RESERVE,
        MISSES_CALL: CALLED_RESERVE,
    }
    out = []
    for n, member in enumerate(members):
        amount = usdc[member.role]
        if member.role == MARKET_MAKER:
            out += [Deposit(c, "USDC", amount // chains, member) for c in range(chains)]
            out.append(Deposit(n % chains, "WETH", 5 * 10**18, member))
        else:
            out.append(Deposit(n % chains, "USDC", amount, member))
        if member.role in CALLED:
            out.append(Deposit(n % chains, "USDC", CALLED_EQUITY, member, CALLED_SUB_ACCOUNT))
    return out


ROLLING_LOTS = 10  # the market makers' position in the short-dated future


def get_opening_trades(
    members: list[Member], marks: dict[str, int], rolling: str | None = None
) -> list[Trade]:
    """The levered longs buy from both market makers; traders take the future and the call;
    the market makers trade the short-dated future the template rolls (`rolling`, if one
    is live)."""
    a, b, c, d = (m.address for m in members[:4])
    fills = [
        (a, c, BTC_PERP, 60),
        (a, d, BTC_PERP, 40),
        (b, c, ETH_PERP, 500),
        (b, d, ETH_PERP, 500),
    ]
    if rolling is not None:
        fills.append((c, d, rolling, ROLLING_LOTS))
    if len(members) > 4:
        fills.append((c, members[4].address, BTC_PERP, SHORT_LOTS))
    if len(members) > 5:
        fills.append((members[5].address, d, ETH_PERP, LIQUIDATED_LOTS))
    for trader in members[len(ROLES) :]:
        fills += [(trader.address, c, BTC_FUT, 20), (trader.address, d, BTC_CALL, 10)]
    return [
        Trade(n, iid, buyer, 0, seller, 0, marks[iid], lots)
        for n, (buyer, seller, iid, lots) in enumerate(fills, 1)
    ]


def get_flow_trades(
    members: list[Member],
    marks: dict[str, int],
    rng: random.Random,
    first_id: int,
    rolling: str | None = None,
    unheld: bool = False,
) -> list[Trade]:
    """A few small trades between the market makers at the marks, in the live series of
    the rolling future (`rolling`) too: the first of them while no one holds it (`unheld`,
    a series the roll just listed)."""
    c, d = members[2].address, members[3].address
    trades = []
    choices = [BTC_PERP, ETH_PERP, BTC_FUT] + ([] if rolling is None else [rolling])
    for n in range(rng.randint(1, 3)):
        iid = rolling if rolling is not None and unheld and n == 0 else rng.choice(choices)
        buyer, seller = (c, d) if rng.random() < 0.5 else (d, c)
        trades.append(Trade(first_id + n, iid, buyer, 0, seller, 0, marks[iid], rng.randint(1, 5)))
    return trades


def get_trade_prices(marks: dict[str, int], ticks: dict[str, int]) -> dict[str, int]:
    """Each mark rounded down to its instrument's tick (trades must sit on the tick)."""
    return {iid: max(ticks[iid], mark // ticks[iid] * ticks[iid]) for iid, mark in marks.items()}

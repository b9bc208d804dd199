"""The genesis ``risk`` section, validated into ``RiskParams``.

Every problem raises ``GenesisError(key, expected, got)`` with the dotted key
(``risk.underlyings.BTC.scan_bps``). Unknown keys are errors, keys starting
with ``_`` are comments.

Shape (all integers; bps = 1/10_000)::

    {"k_num": 1, "k_den": 2,                      # MM = ceil(k * IM), 0 < k < 1
     "price_steps": 3,                             # scan fractions j/steps, SPAN uses 3
     "extreme_multiple": 2, "extreme_cover_bps": 3500,
     "max_scenarios": 1024,
     "rate_bps": 0,                                # Black-76 discount rate
     "pricing_interval_ms": 60000,                 # optional (default 1: every block)
     "underlyings": {"BTC": {"group": "crypto", "scan_bps": 1500,
                             "vol_bps": 6000, "vol_scan_bps": 1500, "floor_bps": 50}},
     "stress_days": [{"label": "2020-03-12", "moves_bps": {"BTC": -3900}}],
     "liquidation": {"penalty_bps": 100, "fee_bps": 50, "max_per_block": 100,
                     "partial_steps": 10},
     "default_fund": {"cover": 2, "stress_multiple": 3},
     "backstops": [{"member": "0x...", "sub_account": 0}],  # optional, in priority order
     "margin_call": {"deadline_blocks": 600},               # optional, this is the default
     "auction": {"window_blocks": 5, "rounds": 3, "split": 2}}  # optional, the default

Options are priced at the block time floored to a multiple of ``pricing_interval_ms``
(since the Unix epoch), as SPAN's risk arrays come from files published at intervals:
their time to expiry moves every block, so pricing them at the block's own time would
rebuild the arrays, and every sub-account's margin figures, at every block.

Underlyings in one ``group`` move together (their positions offset); groups
move independently (the joint scenario set is the product of group grids).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clearing.errors import GenesisError
from clearing.units import BPS_DENOMINATOR

MAX_SCENARIOS_LIMIT = 4096
DEFAULT_MARGIN_CALL_DEADLINE_BLOCKS = 600
MAX_MARGIN_CALL_DEADLINE_BLOCKS = 10**6
DEFAULT_PRICING_INTERVAL_MS = 1
"""Options priced at each block's own time, unless the genesis says otherwise."""
MAX_PRICING_INTERVAL_MS = 86_400_000
"""A day: SPAN's arrays are published at least daily."""


INSURANCE_MEMBER = bytes(20)
"""The clearing house's own account (sub-account 0): holds what no backstop takes."""


@dataclass(frozen=True, slots=True)
class UnderlyingParams:
    name: str
    group: str
    scan_bps: int  # price scan range, fraction of the price
    vol_bps: int  # implied volatility used for options (annualised)
    vol_scan_bps: int  # volatility scan range, absolute vol points
    floor_bps: int  # minimum loss per lot in each direction, fraction of the price


@dataclass(frozen=True, slots=True)
class StressDay:
    label: str
    moves_bps: tuple[tuple[str, int], ...]  # underlying -> return, sorted by name


@dataclass(frozen=True, slots=True)
class LiquidationParams:
    penalty_bps: int  # discount the taker gets on the closed notional (incl. fee)
    fee_bps: int  # part of the penalty that goes to the insurance fund
    max_per_block: int
    partial_steps: int  # partial liquidation closes j/partial_steps of every position


@dataclass(frozen=True, slots=True)
class DefaultFundParams:
    cover: int  # Cover-N: the N largest uncollateralised stress losses
    stress_multiple: int  # stress scenarios scan this many scan ranges, full cover
    # Once the default fund is used up, each surviving member can be assessed up to this
    # share of its required contribution per epoch (0: no assessments) before deleveraging.
    assessment_cap_bps: int = 0


@dataclass(frozen=True, slots=True)
class MarginCallParams:
    deadline_blocks: int  # a call opened at height h must be met by the end of h + this


@dataclass(frozen=True, slots=True)
class AuctionParams:
    """Default auctions of the house's lots (clearing/default/auction.py): each is open
    for ``window_blocks``; unsold lots are split into ``split`` parts and offered again,
    ``rounds`` auctions in all, then deleveraged."""

    window_blocks: int = 5
    rounds: int = 3
    split: int = 2


@dataclass(frozen=True, slots=True)
class RiskParams:
    k_num: int
    k_den: int
    price_steps: int
    extreme_multiple: int
    extreme_cover_bps: int
    max_scenarios: int
    rate_bps: int
    underlyings: tuple[UnderlyingParams, ...]  # sorted by name
    stress_days: tuple[StressDay, ...]
    liquidation: LiquidationParams
    default_fund: DefaultFundParams
    backstops: tuple[tuple[bytes, int], ...] = ()  # registered backstop liquidators
    margin_call: MarginCallParams = MarginCallParams(DEFAULT_MARGIN_CALL_DEADLINE_BLOCKS)
    auction: AuctionParams = AuctionParams()
    pricing_interval_ms: int = DEFAULT_PRICING_INTERVAL_MS

    def underlying(self, name: str) -> UnderlyingParams | None:
        for u in self.underlyings:
            if u.name == name:
                return u
        return None


TOP_KEYS = {
    "k_num", "k_den", "price_steps", "extreme_multiple", "extreme_cover_bps", "max_scenarios",
    "rate_bps", "underlyings", "stress_days", "liquidation", "default_fund", "backstops",
    "margin_call", "auction", "pricing_interval_ms",
}  # fmt: skip


def parse_risk_params(section: Mapping[str, Any]) -> RiskParams:
    """Validate the genesis ``risk`` object; raise ``GenesisError`` naming the key."""
    top = _Section(section, "risk", TOP_KEYS)
    k_num, k_den = top.integer("k_num", 1), top.integer("k_den", 1)
    if not k_num < k_den:
        raise GenesisError("risk.k_num", f"less than k_den={k_den} (0 < k < 1)", k_num)
    names = top.mapping("underlyings")
    if not names:
        raise GenesisError("risk.underlyings", "at least one underlying", {})
    underlyings = tuple(_parse_underlying(n, names[n]) for n in sorted(names))
    known = {u.name for u in underlyings}
    days = tuple(
        _parse_stress_day(item, f"risk.stress_days[{n}]", known)
        for n, item in enumerate(top.sequence("stress_days"))
    )
    liq = _Section(top.raw("liquidation"), "risk.liquidation",
                   {"penalty_bps", "fee_bps", "max_per_block", "partial_steps"})  # fmt: skip
    penalty = liq.integer("penalty_bps", 0, BPS_DENOMINATOR)
    df = _Section(
        top.raw("default_fund"),
        "risk.default_fund",
        {"cover", "stress_multiple", "assessment_cap_bps"},
    )
    extreme_multiple = top.integer("extreme_multiple", 1, 100)
    _check_extreme_moves(underlyings, extreme_multiple)
    params = RiskParams(
        k_num=k_num,
        k_den=k_den,
        price_steps=top.integer("price_steps", 1, 100),
        extreme_multiple=extreme_multiple,
        extreme_cover_bps=top.integer("extreme_cover_bps", 0, BPS_DENOMINATOR),
        max_scenarios=top.integer("max_scenarios", 2, MAX_SCENARIOS_LIMIT),
        rate_bps=top.integer("rate_bps", 0, BPS_DENOMINATOR),
        underlyings=underlyings,
        stress_days=days,
        liquidation=LiquidationParams(
            penalty_bps=penalty,
            fee_bps=liq.integer("fee_bps", 0, penalty),
            max_per_block=liq.integer("max_per_block", 1, 10**6),
            partial_steps=liq.integer("partial_steps", 1, 1000),
        ),
        default_fund=DefaultFundParams(
            cover=df.integer("cover", 1, 100),
            stress_multiple=df.integer("stress_multiple", 1, 100),
            assessment_cap_bps=df.integer("assessment_cap_bps", 0, 10 * BPS_DENOMINATOR)
            if "assessment_cap_bps" in df.data
            else 0,
        ),
        backstops=_parse_backstops(top.sequence("backstops") if "backstops" in section else []),
        margin_call=_parse_margin_call(top.raw("margin_call") if "margin_call" in section else {}),
        auction=_parse_auction(top.raw("auction") if "auction" in section else {}),
        pricing_interval_ms=top.integer("pricing_interval_ms", 1, MAX_PRICING_INTERVAL_MS)
        if "pricing_interval_ms" in section
        else DEFAULT_PRICING_INTERVAL_MS,
    )
    return params


def _check_extreme_moves(underlyings: tuple[UnderlyingParams, ...], multiple: int) -> None:
    """The extreme down move (`multiple` scan ranges) must leave every price above zero:
    an option's value at a negative forward is undefined, and the chain would halt on
    its first risk array rather than refuse the genesis."""
    for u in underlyings:
        if multiple * u.scan_bps >= BPS_DENOMINATOR:
            limit = -(-BPS_DENOMINATOR // multiple) - 1
            raise GenesisError(
                f"risk.underlyings.{u.name}.scan_bps",
                f"at most {limit}: extreme_multiple {multiple} times it is the extreme down "
                f"move, which must leave the price above zero",
                u.scan_bps,
            )


def _parse_auction(obj: object) -> AuctionParams:
    r = _Section(obj, "risk.auction", {"window_blocks", "rounds", "split"})
    default = AuctionParams()
    return AuctionParams(
        r.integer("window_blocks", 1, 10_000)
        if "window_blocks" in r.data
        else default.window_blocks,
        r.integer("rounds", 1, 10) if "rounds" in r.data else default.rounds,
        r.integer("split", 1, 100) if "split" in r.data else default.split,
    )


def _parse_margin_call(obj: object) -> MarginCallParams:
    r = _Section(obj, "risk.margin_call", {"deadline_blocks"})
    if "deadline_blocks" not in r.data:
        return MarginCallParams(DEFAULT_MARGIN_CALL_DEADLINE_BLOCKS)
    return MarginCallParams(r.integer("deadline_blocks", 1, MAX_MARGIN_CALL_DEADLINE_BLOCKS))


def _parse_backstops(items: list[Any]) -> tuple[tuple[bytes, int], ...]:
    """Distinct members' accounts, never the clearing house's: its accounts are never
    liquidated nor asked for a default-fund contribution, so lots a backstop there
    took would sit outside the margin rules."""
    backstops = tuple(_parse_backstop(item, f"risk.backstops[{n}]") for n, item in enumerate(items))
    for n, (member, sub_account) in enumerate(backstops):
        if member == INSURANCE_MEMBER:
            raise GenesisError(
                f"risk.backstops[{n}].member", "not the clearing house", "0x" + member.hex()
            )
        if (member, sub_account) in backstops[:n]:
            raise GenesisError(
                f"risk.backstops[{n}]", "listed once", ["0x" + member.hex(), sub_account]
            )
    return backstops


def _parse_underlying(name: str, obj: object) -> UnderlyingParams:
    r = _Section(obj, f"risk.underlyings.{name}",
                 {"group", "scan_bps", "vol_bps", "vol_scan_bps", "floor_bps"})  # fmt: skip
    return UnderlyingParams(
        name=name,
        group=r.text("group"),
        scan_bps=r.integer("scan_bps", 1, BPS_DENOMINATOR - 1),
        vol_bps=r.integer("vol_bps", 1, 100 * BPS_DENOMINATOR),
        vol_scan_bps=r.integer("vol_scan_bps", 0, 100 * BPS_DENOMINATOR),
        floor_bps=r.integer("floor_bps", 0, BPS_DENOMINATOR),
    )


def _parse_backstop(obj: object, path: str) -> tuple[bytes, int]:
    r = _Section(obj, path, {"member", "sub_account"})
    text = r.text("member")
    try:
        member = bytes.fromhex(text[2:]) if text.startswith("0x") else b""
    except ValueError:
        member = b""
    if len(member) != 20:
        raise GenesisError(f"{path}.member", "0x-hex of 20 bytes", text)
    return member, r.integer("sub_account", 0, 2**32 - 1)


def _parse_stress_day(obj: object, path: str, known: set[str]) -> StressDay:
    r = _Section(obj, path, {"label", "moves_bps"})
    moves = r.mapping("moves_bps")
    out = []
    for name in sorted(moves):
        if name not in known:
            raise GenesisError(f"{path}.moves_bps.{name}", f"one of {sorted(known)}", name)
        value = moves[name]
        if not isinstance(value, int) or isinstance(value, bool) or not -9999 <= value <= 10**6:
            raise GenesisError(f"{path}.moves_bps.{name}", "an integer in [-9999, 1000000]", value)
        out.append((name, value))
    return StressDay(r.text("label"), tuple(out))


def parse_stress_days_csv(text: str, path: str = "stress_days.csv") -> list[dict[str, Any]]:
    """``label,underlying,move_bps`` lines (``#`` comments) -> the ``risk.stress_days`` list.

    Reading the file is the caller's business (clearing does no I/O); errors
    name the line: ``GenesisError("stress_days.csv:7", ...)``.
    """
    days: dict[str, dict[str, int]] = {}
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    rows = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not rows or rows[0][1].replace(" ", "") != "label,underlying,move_bps":
        raise GenesisError(path, "a header label,underlying,move_bps", rows[0][1] if rows else "")
    for n, line in rows[1:]:
        cells = [c.strip() for c in line.split(",")]
        label, underlying, move = cells if len(cells) == 3 else ("", "", "")
        if not (label and underlying and underlying not in days.get(label, {})):
            raise GenesisError(f"{path}:{n}", "label,underlying,integer (once per day)", line)
        try:
            days.setdefault(label, {})[underlying] = int(move)
        except ValueError:
            raise GenesisError(
                f"{path}:{n}", "label,underlying,integer (once per day)", line
            ) from None
    return [{"label": label, "moves_bps": moves} for label, moves in days.items()]


class _Section:
    """Typed access to one JSON object of the risk section, with its dotted path."""

    def __init__(self, obj: object, path: str, allowed: set[str]) -> None:
        if not isinstance(obj, Mapping):
            raise GenesisError(path, "an object", obj)
        unknown = sorted(str(k) for k in obj if not str(k).startswith("_") and k not in allowed)
        if unknown:
            raise GenesisError(f"{path}.{unknown[0]}", f"one of {sorted(allowed)}", "unknown key")
        self.data: Mapping[str, Any] = obj
        self.path = path

    def raw(self, name: str) -> object:
        if name not in self.data:
            raise GenesisError(f"{self.path}.{name}", "present", "missing")
        return self.data[name]

    def integer(self, name: str, lo: int = 0, hi: int = 2**64 - 1) -> int:
        value = self.raw(name)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise GenesisError(f"{self.path}.{name}", f"an integer in [{lo}, {hi}]", value)
        return value

    def text(self, name: str) -> str:
        value = self.raw(name)
        if not isinstance(value, str) or not value:
            raise GenesisError(f"{self.path}.{name}", "a non-empty string", value)
        return value

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self.raw(name)
        if not isinstance(value, Mapping):
            raise GenesisError(f"{self.path}.{name}", "an object", value)
        return value

    def sequence(self, name: str) -> list[Any]:
        value = self.raw(name)
        if not isinstance(value, list):
            raise GenesisError(f"{self.path}.{name}", "a list", value)
        return value

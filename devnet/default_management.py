"""How each default auction and each margin call of a devnet run ended, from the
replica's blocks' events (clearing/default/auction.py, margin_call.py), one line
each for the summary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from devnet.market import format_usd

KINDS = (
    "auction_opened", "auction_bid_void", "auction_settled", "auction_deleveraged",
    "auction_lapsed",
    "margin_call", "margin_call_met", "margin_call_expired", "margin_call_closed",
)  # fmt: skip

WON, SPLIT, DELEVERAGED, LAPSED = "won", "re-auctioned in smaller lots", "deleveraged", "lapsed"
MET, EXPIRED_LIQUIDATED, LIQUIDATED = "met", "expired -> liquidated", "liquidated below MM"


@dataclass
class AuctionOutcome:
    auction: int
    round: int
    opened_height: int
    closes_height: int
    outcome: str = ""  # "" while open
    winner: str = ""  # "member-2 (market maker)"
    premium: int = 0
    lots: int = 0
    deleveraged: list[str] = field(default_factory=list)  # "member-3 -4 ETH-PERP"
    void: list[str] = field(default_factory=list)  # "member-2 (market maker): ReduceOnly"

    @property
    def line(self) -> str:
        return self._outcome_line + (f" (bids void: {'; '.join(self.void)})" if self.void else "")

    @property
    def _outcome_line(self) -> str:
        head = f"default auction {self.auction} (round {self.round}, height {self.opened_height})"
        if self.outcome == WON:
            return (
                f"{head} won by {self.winner} at a premium of {format_usd(self.premium)}: "
                f"{self.lots} lots at the mark"
            )
        if self.outcome == DELEVERAGED:
            return f"{head}: unsold, deleveraged against {', '.join(self.deleveraged)}"
        return f"{head}: {self.outcome or 'still open'}"


@dataclass
class MarginCallOutcome:
    member: str  # "member-6 (long that meets its margin call)"
    sub_account: int
    amount_due: int
    opened_height: int
    deadline_height: int
    outcome: str = ""  # "" while open
    ended_height: int | None = None

    @property
    def line(self) -> str:
        call = (
            f"{self.member} sub-account {self.sub_account} owed {format_usd(self.amount_due)} "
            f"by height {self.deadline_height} (called at {self.opened_height})"
        )
        if self.outcome == MET:
            return f"margin call met: {call}, met at height {self.ended_height}"
        if self.outcome == EXPIRED_LIQUIDATED:
            return f"margin call not met: {call} -> liquidated at height {self.ended_height}"
        if self.outcome == LIQUIDATED:
            return f"margin call: {call}; below maintenance, liquidated at {self.ended_height}"
        return f"margin call open: {call}"


@dataclass
class DefaultManagement:
    auctions: dict[int, AuctionOutcome] = field(default_factory=dict)
    calls: list[MarginCallOutcome] = field(default_factory=list)
    open_calls: dict[tuple[bytes, int], MarginCallOutcome] = field(default_factory=dict)
    expired: set[tuple[bytes, int]] = field(default_factory=set)

    def record(
        self, height: int, kind: str, data: dict[str, Any], who: Callable[[object], str]
    ) -> None:
        if kind.startswith("auction_"):
            self._record_auction(height, kind, data, who)
        else:
            self._record_call(height, kind, data, who)

    def _record_auction(
        self, height: int, kind: str, data: dict[str, Any], who: Callable[[object], str]
    ) -> None:
        auction_id = int(data["auction"])
        if kind == "auction_opened":
            round_ = int(data["round"])
            for earlier in self.auctions.values():  # an unsold auction is split at its close
                if not earlier.outcome and (earlier.round, earlier.closes_height) == (
                    round_ - 1,
                    height,
                ):
                    earlier.outcome = SPLIT
            self.auctions[auction_id] = AuctionOutcome(
                auction_id, round_, height, int(data["closes_height"])
            )
            return
        auction = self.auctions[auction_id]
        if kind == "auction_bid_void":  # the bid no longer binds at the close
            auction.void.append(f"{who(data['member'])}: {data['code']}")
        elif kind == "auction_settled":
            auction.outcome, auction.winner = WON, who(data["member"])
            auction.premium, auction.lots = int(data["premium"]), int(data["lots"])
        elif kind == "auction_deleveraged":
            auction.outcome = DELEVERAGED
            auction.deleveraged.append(
                f"{who(data['member'])} {int(data['quantity'])} {data['instrument']}"
            )
        else:
            auction.outcome = LAPSED

    def _record_call(
        self, height: int, kind: str, data: dict[str, Any], who: Callable[[object], str]
    ) -> None:
        member, sub = data["member"], int(data["sub_account"])
        assert isinstance(member, bytes)
        key = (member, sub)
        if kind == "margin_call":
            call = MarginCallOutcome(
                who(member), sub, int(data["amount_due"]), height, int(data["deadline_height"])
            )
            self.calls.append(call)
            self.open_calls[key] = call
            return
        call = self.open_calls[key]
        if kind == "margin_call_expired":
            self.expired.add(key)
            return
        call.outcome = MET if kind == "margin_call_met" else LIQUIDATED
        if key in self.expired:
            call.outcome = EXPIRED_LIQUIDATED
            self.expired.discard(key)
        call.ended_height = height
        del self.open_calls[key]

    def get_auctions(self) -> list[dict[str, Any]]:
        return [{**asdict(a), "line": a.line} for _, a in sorted(self.auctions.items())]

    def get_margin_calls(self) -> list[dict[str, Any]]:
        return [{**asdict(c), "line": c.line} for c in self.calls]

    def get_lines(self) -> list[str]:
        return [a.line for _, a in sorted(self.auctions.items())] + [c.line for c in self.calls]

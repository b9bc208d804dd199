"""The devnet's replica: its own full node, in process, which applies every committed
block through `ClearingApp` from the genesis, and whose roots must equal the
validators' at every height; its state
is where value conservation is checked, and what it counts (result codes, events, the
waterfall's and porting's lines, default management, rolls, configuration changes) is
what the dashboard and the summary show."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clearing.default.events import WATERFALL_KINDS
from clearing.genesis import parse_genesis
from clearing.state import ClearingState
from clearing.transition.block import BlockResult
from devnet import default_management
from devnet.clients import PORTING_KINDS, describe_porting
from devnet.conservation import Ledger
from devnet.default_management import DefaultManagement
from devnet.rolls import Rolls
from node.clearing_app import ClearingApp
from node.committed import decode_stored_block
from node.storage import StoredBlock

RECENT_TXS = 512
"""Committed transactions the privacy audit keeps to look for in public answers (and, on
CometBFT, to ask CometBFT's blocks of: their heights with them)."""


@dataclass
class Replica:
    genesis_doc: dict[str, Any]
    log: Callable[[str], None]
    fail: Callable[[str], None]
    """Says an invariant broke (the run fails)."""
    who: Callable[[object], str]
    """A member's name and role, for the lines it logs."""
    name_of: Callable[[object], str]
    app: ClearingApp = field(init=False)
    ledger: Ledger = field(default_factory=Ledger)
    rolls: Rolls = field(default_factory=Rolls)
    default_management: DefaultManagement = field(default_factory=DefaultManagement)
    codes: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    waterfall_log: list[str] = field(default_factory=list)
    porting: list[str] = field(default_factory=list)  # each client a defaulted member left
    block_seen: dict[int, float] = field(default_factory=dict)  # height -> monotonic s
    recent_txs: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=RECENT_TXS))
    """(height, transaction) of the latest committed ones."""
    on_chain_amounts: set[int] = field(default_factory=set)
    """Deposited and paid-out quanta: the chains show them, so they are no secret."""
    prices: set[int] = field(default_factory=set)
    """Every mark and index price committed: public (GET /v1/prices, the page's charts)."""
    block_observers: list[Callable[[], None]] = field(default_factory=list)
    """Called after each block is applied and checked, with `state` at its height."""

    def __post_init__(self) -> None:
        self.app = ClearingApp(parse_genesis(self.genesis_doc))
        self.ledger.start(self.app.state)
        self.rolls.start(self.app.state)

    @property
    def state(self) -> ClearingState:
        return self.app.state

    def apply(self, height: int, block: bytes, cert: bytes, roots: list[str]) -> Sequence[bytes]:
        """Apply one committed block (as the operator listener serves it: the engine's own
        form, and our engine's certificate); every validator's root and ours must agree.
        Returns the block's transactions."""
        genesis = self.app.genesis
        decoded = decode_stored_block(genesis.engine, StoredBlock(height, block, cert, b""))
        context = decoded.get_context(genesis.chain_id)
        root = "0x" + self.app.apply_block(context, decoded.txs).state_root.hex()
        self.recent_txs.extend((height, tx) for tx in decoded.txs)
        self.prices.update(self.state.mark_prices.values(), self.state.index_prices.values())
        if len(set(roots)) != 1:
            self.fail(f"height {height}: validators' state roots differ: {roots}")
        elif roots[0] != root:
            self.fail(f"height {height}: the replica's root {root} != validators' {roots[0]}")
        result = self.app.last_result
        assert result is not None
        self.block_seen[height] = time.monotonic()
        self._count(result)
        self.rolls.observe(self.state, height)
        self.ledger.record(result)
        broken = self.ledger.check(self.state)
        if broken:
            self.fail(f"height {height}: value not conserved: {broken}")
        for observe in self.block_observers:
            observe()
        return decoded.txs

    def _count(self, result: BlockResult) -> None:
        for tx_result in result.tx_results:
            self.codes[tx_result.code] += 1
            if tx_result.code != "ok":
                self.log(f"block {result.height}: tx {tx_result.code} {tx_result.detail[:80]}")
        for event in result.get_events():
            self._event(result.height, event.kind, dict(event.data))

    def _event(self, height: int, kind: str, data: dict[str, object]) -> None:
        self.events[kind] += 1
        roll = self.rolls.record(self.state, height, kind, data)
        if roll:
            self.log(roll)
        if kind in WATERFALL_KINDS:
            who = self.name_of(data.get("member", "?"))
            line = f"h{height} {kind} {who} {data.get('amount', '')!r}"
            self.waterfall_log.append(line)
            self.log(line)
        elif kind in PORTING_KINDS:
            line = describe_porting(height, kind, data, self.who)
            self.porting.append(line)
            self.log(line)
        elif kind in default_management.KINDS:
            self.default_management.record(height, kind, data, self.who)
            fields = " ".join(f"{k}={self.name_of(v)}" for k, v in sorted(data.items()))
            self.log(f"h{height} {kind} {fields}")
        elif kind in (
            "collateral_credited", "withdrawal", "withdrawal_paid", "withdrawal_refunded",
            "price_clamped",
        ):  # fmt: skip
            quanta = data.get("quanta")
            if kind in ("collateral_credited", "withdrawal_paid") and isinstance(quanta, int):
                self.on_chain_amounts.add(quanta)
            self.log(f"h{height} {kind} {self.name_of(data.get('member', ''))}")
        elif kind == "trade_rejected":
            self.log(f"h{height} trade {data.get('trade_id')} rejected: {data.get('code')}")

    def get_heights_per_s(self) -> float:
        seen = sorted(self.block_seen.items())
        if len(seen) < 2:
            return 0.0
        (h0, t0), (h1, t1) = seen[0], seen[-1]
        return (h1 - h0) / max(t1 - t0, 1e-9)

"""The state of one devnet run: its parts, what the watcher saw, and the
in-process full node that replays every committed block through `ClearingApp`
from the genesis (its roots must equal the validators' at every height; its
state is where value conservation is checked). Read by the dashboard and the
summary."""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import trio

from clearing.block import BlockResult
from clearing.default.events import WATERFALL_KINDS
from clearing.genesis import Genesis, parse_genesis
from clearing.governance.configuration import get_configuration_document
from clearing.state import ClearingState
from clearnode.client import Venue
from consensus.types import Block
from node.app import ClearingApp
from node.devnet import default_management
from node.devnet.clients import PORTING_KINDS, describe_porting, get_client_name
from node.devnet.default_management import DefaultManagement
from node.devnet.genesis import USDC, VENUE_ID
from node.devnet.market import Member
from node.devnet.reports import ReportOutcome
from node.devnet.rolls import Rolls
from node.devnet.summary import Ledger

if TYPE_CHECKING:
    from clearnode.client import Client
    from node.devnet.chains import DevChain
    from node.devnet.homes import Home
    from node.devnet.sections import Services

POLL_S = 0.25
RECENT_TXS = 512
"""Committed transactions the privacy audit keeps to look for in public answers."""


@dataclass(frozen=True)
class DevnetConfig:
    validators: int = 4
    chains: int = 2
    members: int = 8
    duration_s: float = 120.0
    seed: int = 7
    epoch_length_blocks: int = 30
    out_dir: Path | None = None


class Observer(Protocol):
    def update(self, devnet: Devnet) -> None: ...
    def log(self, line: str) -> None: ...


class StepTimeout(Exception):
    """A phase waited longer than its timeout for the network."""


@dataclass
class NodeView:
    """What the watcher saw of one validator."""

    client: Client
    """Its public listener, as members, the venue and the relayer reach it."""
    operator: Client
    """Its operator listener: the watcher replays the full blocks read there."""
    height: int = 0
    latencies_ms: list[int] = field(default_factory=list)
    roots: dict[int, str] = field(default_factory=dict)  # height -> state root, until replayed


@dataclass
class Devnet:
    """State of one run, read by the dashboard and the summary."""

    config: DevnetConfig
    chains: list[DevChain]
    homes: list[Home]
    members: list[Member]
    genesis_doc: dict[str, Any]
    out_dir: Path
    observer: Observer
    services: Services
    app: ClearingApp = field(init=False)
    nodes: list[NodeView] = field(default_factory=list)
    venue: Venue = field(default_factory=lambda: Venue.from_sandbox(VENUE_ID))
    ledger: Ledger = field(default_factory=Ledger)
    events: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    reports: list[ReportOutcome] = field(default_factory=list)
    block_seen: dict[int, float] = field(default_factory=dict)  # height -> monotonic s
    prices: dict[str, Any] = field(default_factory=dict)
    vaults: dict[int, dict[str, int]] = field(default_factory=dict)  # chain id -> balances
    health: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    relayed: set[tuple[bytes, int]] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    not_exercised: list[str] = field(default_factory=list)
    waterfall_log: list[str] = field(default_factory=list)
    profit_withdrawals: list[str] = field(default_factory=list)
    porting: list[str] = field(default_factory=list)  # each client a defaulted member left
    default_management: DefaultManagement = field(default_factory=DefaultManagement)
    bids: set[int] = field(default_factory=set)  # auctions the bidder has bid in
    met_calls: set[int] = field(default_factory=set)  # opening heights of calls answered
    house_flat: bool = False
    rolls: Rolls = field(default_factory=Rolls)
    configurations: list[tuple[int, Genesis, dict[str, Any]]] = field(default_factory=list)
    """(height, configuration in force after it, its genesis document) at each change."""
    next_nonce: Counter[bytes] = field(default_factory=Counter)
    trade_id: int = 1000
    recent_txs: deque[bytes] = field(default_factory=lambda: deque(maxlen=RECENT_TXS))
    on_chain_amounts: set[int] = field(default_factory=set)
    """Deposited and paid-out quanta: the chains show them, so they are no secret."""
    privacy_routes: int = 0
    """Routes of the public listener the privacy audit read (node/devnet/privacy.py)."""

    def __post_init__(self) -> None:
        self.app = ClearingApp(parse_genesis(self.genesis_doc))
        self.ledger.start(self.app.state)
        self.rolls.start(self.app.state)

    @property
    def state(self) -> ClearingState:
        return self.app.state

    @property
    def chain_id(self) -> int:
        return self.app.genesis.chain_id

    @property
    def genesis_path(self) -> Path:
        return self.homes[0].path / "genesis.json"

    def log(self, line: str) -> None:
        self.observer.log(line)

    def fail(self, line: str) -> None:
        self.failures.append(line)
        self.log(f"INVARIANT BROKEN: {line}")

    def take_nonce(self, member: Member) -> int:
        nonce = self.next_nonce[member.address]
        self.next_nonce[member.address] += 1
        return nonce

    def name_of(self, value: object) -> str:
        for m in self.members:
            if m.address == value:
                return m.name
        if value == bytes(20):
            return "clearing house"
        client = get_client_name(value)
        if client is not None:
            return client
        return "0x" + value.hex() if isinstance(value, bytes) else str(value)

    def who(self, value: object) -> str:
        """The member's name and role: "member-2 (market maker)"."""
        role = next((m.role for m in self.members if m.address == value), None)
        return self.name_of(value) if role is None else f"{self.name_of(value)} ({role})"

    def usdc_key(self, chain_index: int) -> tuple[int, bytes]:
        dev = self.chains[chain_index % len(self.chains)]
        return (dev.chain.chain_id, dev.deployed.tokens[USDC])

    # ---- the replaying full node ------------------------------------------

    def apply(self, height: int, block: bytes, roots: list[str]) -> None:
        """Replay one committed block; every validator's root and ours must agree."""
        decoded = Block.decode(block)
        root = "0x" + self.app.finalize_block(decoded).hex()
        self.recent_txs.extend(decoded.txs)
        if len(set(roots)) != 1:
            self.fail(f"height {height}: validators' state roots differ: {roots}")
        elif roots[0] != root:
            self.fail(f"height {height}: replayed root {root} != validators' {roots[0]}")
        result = self.app.last_result
        assert result is not None
        self.block_seen[height] = time.monotonic()
        self._count(result)
        self.rolls.observe(self.state, height)
        self._record_configuration(height)
        self.ledger.record(result)
        broken = self.ledger.check(self.state)
        if broken:
            self.fail(f"height {height}: value not conserved: {broken}")

    def _record_configuration(self, height: int) -> None:
        last = self.configurations[-1][1] if self.configurations else self.app.genesis
        if self.state.genesis != last:
            doc = get_configuration_document(self.genesis_doc, self.state.genesis,
                                             self.state.mark_prices)  # fmt: skip
            self.configurations.append((height, self.state.genesis, doc))

    def get_genesis_path(self, height: int) -> Path:
        """A genesis file of the configuration in force after block `height`, for
        `clearnode verify --genesis` of a report whose market is at that height."""
        changes = [(h, doc) for h, _, doc in self.configurations if h <= height]
        if not changes:
            return self.genesis_path
        changed, doc = changes[-1]
        path = self.out_dir / f"genesis-h{changed}.json"
        if not path.exists():
            path.write_text(json.dumps(doc, indent=1))
        return path

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

    # ---- figures -------------------------------------------------------

    def get_heights_per_s(self) -> float:
        seen = sorted(self.block_seen.items())
        if len(seen) < 2:
            return 0.0
        (h0, t0), (h1, t1) = seen[0], seen[-1]
        return (h1 - h0) / max(t1 - t0, 1e-9)

    def get_latency_p50_ms(self) -> int | None:
        """Median over every node of (block seen on its event stream - block time)."""
        latencies = sorted(x for n in self.nodes for x in n.latencies_ms)
        return latencies[len(latencies) // 2] if latencies else None


async def wait_for(net: Devnet, what: str, done: Callable[[], bool], timeout_s: float) -> None:
    with trio.move_on_after(timeout_s):
        while not done():
            await trio.sleep(POLL_S)
        return
    raise StepTimeout(f"timed out after {timeout_s:.0f}s waiting for {what}")

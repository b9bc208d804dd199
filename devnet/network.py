"""The state of one devnet run: its parts, what the watcher saw, the script's
bookkeeping and what the summary reports, beside the in-process full node that
applies every committed block (devnet/replica.py). Read by the dashboard and
the summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import trio

from clearing.state import ClearingState
from clearnode.client import Venue
from consensus.compact import compute_tx_hash
from devnet.clients import get_client_name
from devnet.config import DevnetConfig
from devnet.genesis import USDC, VENUE_ID
from devnet.market import Member
from devnet.replica import Replica
from devnet.reports import ReportOutcome

if TYPE_CHECKING:
    from clearnode.client import Client
    from devnet.chains import DevChain
    from devnet.homes import Home
    from devnet.sections import Services

POLL_S = 0.25
STEP_TIMEOUT_S = 45.0
"""How long one step of the story may wait for what it waits on (wait_for)."""


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
    """Its operator listener: the replica applies the full blocks read there."""
    height: int = 0
    seen_ms: dict[int, int] = field(default_factory=dict)
    """Height -> when its event stream reported the block (wall ms), until applied."""
    roots: dict[int, str] = field(default_factory=dict)  # height -> state root, until applied


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
    replica: Replica = field(init=False)
    nodes: list[NodeView] = field(default_factory=list)
    venue: Venue = field(default_factory=lambda: Venue.from_sandbox(VENUE_ID))
    # what the watcher read from the nodes and chains
    prices: dict[str, Any] = field(default_factory=dict)
    vaults: dict[int, dict[str, int]] = field(default_factory=dict)  # chain id -> balances
    health: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    relayed: set[tuple[bytes, int]] = field(default_factory=set)
    # the script's own bookkeeping
    next_nonce: Counter[bytes] = field(default_factory=Counter)
    trade_id: int = 1000
    bids: set[tuple[bytes, int]] = field(default_factory=set)  # (market maker, auction) bid
    met_calls: set[int] = field(default_factory=set)  # opening heights of calls answered
    submitted_ms: dict[bytes, int] = field(default_factory=dict)
    """The venue's batches not yet seen committed: tx hash -> when it was sent (wall ms)."""
    latencies_ms: list[int] = field(default_factory=list)
    """Per committed batch: from its sending to the first event stream's report of its block."""
    # what the summary reports
    reports: list[ReportOutcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    not_exercised: list[str] = field(default_factory=list)
    profit_withdrawals: list[str] = field(default_factory=list)
    house_flat: bool = False
    privacy_routes: int = 0
    """Routes of the public listener the privacy audit read (devnet/privacy.py)."""
    cometbft_audited: list[str] = field(default_factory=list)
    """Validators whose CometBFT ports, RPC socket and peer filter the privacy audit checked."""

    def __post_init__(self) -> None:
        self.replica = Replica(self.genesis_doc, self.log, self.fail, self.who, self.name_of)

    @property
    def state(self) -> ClearingState:
        """The replica's state (devnet/replica.py)."""
        return self.replica.state

    @property
    def chain_id(self) -> int:
        return self.replica.app.genesis.chain_id

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

    # ---- figures -------------------------------------------------------

    def note_committed(self, height: int, txs: Sequence[bytes]) -> None:
        """Block `height`, applied with `txs`: each of the venue's batches among them gets
        its commit latency. Timed from the venue's side on both engines, not by the block
        time: CometBFT's is when the height before committed (its median precommit time),
        so it would count the proposer's wait for a transaction too."""
        seen = [at for view in self.nodes if (at := view.seen_ms.pop(height, None)) is not None]
        for tx in txs:
            sent = self.submitted_ms.pop(compute_tx_hash(tx), None)
            if sent is not None and seen:
                self.latencies_ms.append(min(seen) - sent)

    def get_latency_p50_ms(self) -> int | None:
        """The median of the venue's batches' commit latencies (`note_committed`)."""
        latencies = sorted(self.latencies_ms)
        return latencies[len(latencies) // 2] if latencies else None


async def wait_for(net: Devnet, what: str, done: Callable[[], bool], timeout_s: float) -> None:
    with trio.move_on_after(timeout_s):
        while not done():
            await trio.sleep(POLL_S)
        return
    raise StepTimeout(f"timed out after {timeout_s:.0f}s waiting for {what}")

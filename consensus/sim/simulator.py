"""A pure event loop over virtual time driving real engines through a faulty network.

All randomness comes from one `random.Random(seed)`, all time is virtual, so a
seed replays exactly. Faults act before `heal_ms` (the simulated GST): drops,
duplication, delays (hence reordering), partitions, links deaf one way and crashes;
after it, delivery is reliable with bounded delay. Gossip and block sync
(`consensus/sim/blocksync.py`) travel over the same faulty network, and so do the
fetches of the transactions a compact proposal names and a node lacks (with
`compact_proposals`: every node holds the shared transactions and its own, so each
proposal names some its peers must fetch), and those of what a peer's message showed a
node it lacks (`consensus.repair`: a proposal, a height's commit certificate). A
scenario may make every gossip message cost its receiver time (`handling_ms`, a loaded
machine): what arrives faster queues.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from consensus.engine import Engine
from consensus.engine_config import ChainStart, EngineConfig
from consensus.engine_timeouts import EngineTimeout
from consensus.messages import decode_message
from consensus.sim.blocksync import BlocksAnswer, BlockSync, SyncStats, get_blocks_answer
from consensus.sim.byzantine import ByzantineTransport
from consensus.sim.memory import HashChainApp, ListMempool, MemoryBlockStore
from consensus.state_machine import TimeoutConfig
from consensus.transport import PeerId, Transport
from consensus.types import CommitCertificate, Voter
from consensus.validator_sets import CHECKPOINT_INTERVAL
from consensus.wal import MemoryWalStorage, Wal
from lightclient.crypto import PrivateKey

SIM_TIMEOUTS = TimeoutConfig(200, 100, 100, 50, 100, 50)
GOSSIP_MS = 150
T = TypeVar("T")


class SimCrash(Exception):
    """Raised by a node's WAL at the planned write index: the process dies there."""


@dataclass(frozen=True)
class NodeSpec:
    key_index: int
    byzantine: str = ""  # "", "equivocate", "equivocate_proposer"; twins share key_index
    clock_skew_ms: int = 0  # how far its clock runs ahead of virtual time (negative: behind)


@dataclass(frozen=True)
class CrashPlan:
    node: int
    at_write: int
    restart_after_ms: int
    torn_bytes: int = 0


@dataclass(frozen=True)
class Scenario:
    seed: int
    powers: tuple[int, ...]
    nodes: tuple[NodeSpec, ...]
    drop_percent: int = 0
    duplicate_percent: int = 0
    max_delay_ms: int = 0
    partition: tuple[frozenset[int], ...] = ()
    deaf: tuple[tuple[int, int], ...] = ()
    """(listener, speaker): the listener hears nothing the speaker sends while faults last
    (a link that lost one direction), the speaker all the listener sends."""
    heal_ms: int = 0
    crashes: tuple[CrashPlan, ...] = ()
    grow_by: int = 2
    height_cap: int = 6
    max_ms: int = 30_000
    txs_per_block: int = 2
    tx_bytes: int = 16
    compact_proposals: bool = False
    """Proposals travel compact (consensus.compact); a node fetches what it lacks from
    the peer that sent it the proposal."""
    set_changes: tuple[tuple[int, tuple[int, ...]], ...] = ()
    """(h, powers by key index, 0: not a validator): the app's set after block h, which
    governs h + 2. A node whose key joins later (key index past `powers`) follows until
    then; a removed one follows on."""

    checkpoint_interval: int = CHECKPOINT_INTERVAL
    """Heights between the validator-set checkpoints a restarted node starts from."""
    handling_ms: int = 0
    """Each node handles the gossip that reaches it one message at a time, this long each
    (a loaded machine: py-libp2p spends milliseconds of CPU on every message); what
    arrives faster queues, faults or none."""
    regossip_moving: bool = True
    """`EngineConfig.regossip_moving`: a node's is False (only a stuck round re-sends)."""

    def count_keys(self) -> int:
        return max([len(self.powers), *(len(p) for _, p in self.set_changes)])


class CountingWalStorage(MemoryWalStorage):
    """Memory WAL that raises SimCrash on a chosen append (counted across restarts)."""

    def __init__(self, crash_at: int | None) -> None:
        super().__init__(name="sim-wal")
        self.writes = 0
        self.crash_at = crash_at

    def append(self, data: bytes) -> None:
        if self.writes == self.crash_at:
            self.crash_at = None
            raise SimCrash(f"crash at WAL write {self.writes}")
        self.writes += 1
        super().append(data)


@dataclass
class SimNode:
    index: int
    spec: NodeSpec
    key: PrivateKey
    store: MemoryBlockStore
    wal_storage: CountingWalStorage
    engine: Engine | None = None
    sync: BlockSync | None = None
    sync_stats: SyncStats = field(default_factory=SyncStats)
    generation: int = 0
    crashes: int = 0
    busy_until: int = 0
    """When the gossip already queued at the node is handled (`Scenario.handling_ms`)."""


@dataclass
class _Transport:
    sim: Simulator
    src: int

    def send(self, peer: PeerId, data: bytes) -> None:
        self.sim.deliver(self.src, int(peer), data)

    def broadcast(self, data: bytes) -> None:
        for dst in range(len(self.sim.nodes)):
            if dst != self.src:
                self.sim.deliver(self.src, dst, data)

    rebroadcast = broadcast


@dataclass
class _Timers:
    sim: Simulator
    node: SimNode

    def schedule(self, delay_ms: int, timeout: EngineTimeout) -> None:
        self.sim.schedule_while_up(self.node, delay_ms, lambda: self._fire(timeout))

    def _fire(self, timeout: EngineTimeout) -> None:
        if self.node.engine is not None:
            self.node.engine.on_timeout(timeout)


def make_key(index: int) -> PrivateKey:
    return PrivateKey.from_seed(hashlib.sha256(b"clearnode-sim-key" + bytes([index])).digest())


def make_validators(keys: list[PrivateKey], powers: tuple[int, ...]) -> tuple[Voter, ...]:
    return tuple(Voter(f"v{i}", keys[i].public_key, p) for i, p in enumerate(powers) if p > 0)


@dataclass
class Simulator:
    scenario: Scenario
    rng: random.Random = field(init=False)
    now: int = 0
    nodes: list[SimNode] = field(default_factory=list)
    genesis: ChainStart = field(init=False)
    _queue: list[tuple[int, int, int, Callable[[], None]]] = field(default_factory=list)
    _seq: int = 0
    heights_at_heal: dict[int, int] = field(default_factory=dict)
    set_changes: dict[int, tuple[Voter, ...]] = field(init=False)
    honest: list[SimNode] = field(init=False)
    """The nodes neither byzantine nor sharing a key with another: what the invariants hold
    for (the scenario fixes them; `_is_done` asks after every event)."""

    def __post_init__(self) -> None:
        sc = self.scenario
        self.rng = random.Random(sc.seed)
        keys = [make_key(i) for i in range(sc.count_keys())]
        self.genesis = ChainStart(
            f"sim-{sc.seed}", make_validators(keys, sc.powers), b"\x00" * 32, 1_000
        )
        self.set_changes = {h: make_validators(keys, p) for h, p in sc.set_changes}
        crash_at = {c.node: c.at_write for c in sc.crashes}
        for i, spec in enumerate(sc.nodes):
            node = SimNode(
                i,
                spec,
                keys[spec.key_index],
                MemoryBlockStore(self.genesis.state_root),
                CountingWalStorage(crash_at.get(i)),
            )
            self.nodes.append(node)
        self.honest = self._find_honest()

    # ------------------------------------------------------------------ events

    def schedule(self, delay_ms: int, node: int, callback: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (self.now + delay_ms, self._seq, node, callback))

    def schedule_while_up(self, node: SimNode, delay_ms: int, callback: Callable[[], None]) -> None:
        """Call `callback` after `delay_ms` unless `node` crashed (or restarted) meanwhile."""
        generation = node.generation

        def fire() -> None:
            if node.generation == generation:
                callback()

        self.schedule(delay_ms, node.index, fire)

    def deliver(self, src: int, dst: int, data: bytes) -> None:
        """Gossip `data` (an encoded consensus message) from `src` to `dst`."""
        self._send(src, dst, lambda: self._queue_gossip(dst, src, data))

    def _queue_gossip(self, dst: int, src: int, data: bytes) -> None:
        """Handle `data` once what arrived at `dst` before it is handled."""
        handling_ms = self.scenario.handling_ms
        if handling_ms == 0:
            self._receive(dst, src, data)
            return
        node = self.nodes[dst]
        node.busy_until = max(node.busy_until, self.now) + handling_ms
        handled = node.busy_until - self.now
        self.schedule_while_up(node, handled, lambda: self._receive(dst, src, data))

    def _send(self, src: int, dst: int, arrive: Callable[[], None]) -> None:
        """Run `arrive` at `dst` after the network's delay, unless a fault loses it."""
        sc = self.scenario
        faulty = self.now < sc.heal_ms
        if faulty and (self._is_partitioned(src, dst) or (dst, src) in sc.deaf):
            return
        if faulty and self.rng.randrange(100) < sc.drop_percent:
            return
        copies = 2 if faulty and self.rng.randrange(100) < sc.duplicate_percent else 1
        for _ in range(copies):
            self.schedule(self.rng.randint(1, 1 + self._get_max_delay_ms(faulty)), dst, arrive)

    def _get_max_delay_ms(self, faulty: bool) -> int:
        return self.scenario.max_delay_ms if faulty else min(self.scenario.max_delay_ms, 50)

    def request_blocks(
        self, src: int, dst: int, from_height: int, on_answer: Callable[[BlocksAnswer], None]
    ) -> None:
        """Ask `dst` for its blocks from `from_height`."""
        store = self.nodes[dst].store
        self._ask(src, dst, lambda: get_blocks_answer(store, from_height), on_answer)

    def request_txs(
        self,
        src: int,
        dst: int,
        tx_ids: tuple[bytes, ...],
        on_answer: Callable[[list[bytes]], None],
    ) -> None:
        """Ask `dst` for transactions by id: those it has (of a proposal or its mempool)."""

        def answer() -> list[bytes]:
            engine = self.nodes[dst].engine
            assert engine is not None
            return [tx for tx in map(engine.get_tx, tx_ids) if tx is not None]

        self._ask(src, dst, answer, on_answer)

    def request_proposal(
        self, src: int, dst: int, height: int, round_: int, on_answer: Callable[[bytes], None]
    ) -> None:
        """Ask `dst` for the proposal of (height, round); no answer if it holds none."""

        def answer() -> bytes | None:
            engine = self.nodes[dst].engine
            assert engine is not None
            return engine.get_proposal_message(height, round_)

        self._ask(src, dst, answer, lambda data: None if data is None else on_answer(data))

    def request_commit(
        self,
        src: int,
        dst: int,
        height: int,
        on_answer: Callable[[CommitCertificate], None],
    ) -> None:
        """Ask `dst` for the commit certificate of `height`; no answer if it has none."""

        def answer() -> CommitCertificate | None:
            engine = self.nodes[dst].engine
            assert engine is not None
            return engine.get_commit(height)

        self._ask(src, dst, answer, lambda found: None if found is None else on_answer(found))

    def _ask(
        self, src: int, dst: int, answer: Callable[[], T], on_answer: Callable[[T], None]
    ) -> None:
        """A request from `src` that `dst` answers with `answer()`: both cross the network
        like gossip; a crashed peer does not answer, nor is a crashed (or restarted) asker
        told."""
        asker = self.nodes[src]
        generation = asker.generation

        def serve() -> None:
            if self.nodes[dst].engine is not None:
                found = answer()
                self._send(dst, src, lambda: arrive(found))

        def arrive(found: T) -> None:
            if asker.generation == generation:
                on_answer(found)

        self._send(src, dst, serve)

    def _is_partitioned(self, a: int, b: int) -> bool:
        return any((a in group) != (b in group) for group in self.scenario.partition)

    def _receive(self, dst: int, src: int, data: bytes) -> None:
        node = self.nodes[dst]
        if node.engine is None or node.sync is None:
            return
        message = decode_message(data)  # every sim message was encoded by an engine
        if node.sync.admit(str(src), message):
            node.engine.receive(str(src), message)

    # ------------------------------------------------------------------ nodes

    def _make_transport(self, node: SimNode) -> Transport:
        inner = _Transport(self, node.index)
        if node.spec.byzantine:
            others = [i for i in range(len(self.nodes)) if i != node.index]
            return ByzantineTransport(
                inner, node.key, self.genesis.chain_id, node.spec.byzantine, others, self.rng,
                lambda tx_id: None if node.engine is None else node.engine.get_tx(tx_id),
            )  # fmt: skip
        return inner

    def boot(self, node: SimNode) -> None:
        node.generation += 1
        wal = Wal(node.wal_storage, repair=True)
        engine = Engine(
            self.genesis,
            node.key,
            HashChainApp(set_changes=self.set_changes),
            ListMempool(self._make_txs(node)),
            node.store,
            wal,
            self._make_transport(node),
            _Timers(self, node),
            lambda: self.now + self.genesis.time_ms + node.spec.clock_skew_ms,
            EngineConfig(
                timeouts=SIM_TIMEOUTS,
                regossip_ms=GOSSIP_MS,
                regossip_moving=self.scenario.regossip_moving,
                # the longest a message takes here; a node's default is sized for the
                # world's round trips, longer than a height of a fast simulated network
                repair_grace_ms=1 + self.scenario.max_delay_ms,
                compact_proposals=self.scenario.compact_proposals,
                checkpoint_interval=self.scenario.checkpoint_interval,
            ),
            on_commit=lambda block, certificate, root: sync.record_commit(),
            on_behind=lambda peer, height: sync.on_behind(peer, height),
            on_missing_txs=lambda peer, compact, tx_ids: self.request_txs(
                node.index,
                int(peer),
                tx_ids,
                lambda txs: self._guard(
                    node, lambda: None if node.engine is None else node.engine.add_txs(txs)
                ),
            ),
            on_missing_proposal=lambda peer, height, round_: self.request_proposal(
                node.index,
                int(peer),
                height,
                round_,
                lambda data: self._receive(node.index, int(peer), data),
            ),
            on_missing_commit=lambda peer, height: self.request_commit(
                node.index,
                int(peer),
                height,
                lambda certificate: (
                    None if node.engine is None else node.engine.add_commit(peer, certificate)
                ),
            ),
        )
        sync = BlockSync(
            engine,
            node.store,
            lambda peer, height, on_answer: self.request_blocks(
                node.index, int(peer), height, on_answer
            ),
            lambda delay_ms, callback: self.schedule_while_up(node, delay_ms, callback),
            lambda: self.now,
            2 * (1 + self.scenario.max_delay_ms) + 1,  # longer than any round trip
            node.sync_stats,
        )
        node.engine, node.sync = engine, sync
        self._guard(node, engine.start)
        if node.crashes and node.engine is not None:
            # A restarted node catches up first, as node.engine.consensus_loop.run_consensus does.
            others = [str(i) for i in range(len(self.nodes)) if i != node.index]
            sync.sync_from(self.rng.choice(others))

    def _make_txs(self, node: SimNode) -> list[bytes]:
        """Its own transactions, and (compact proposals) shared ones every node holds."""
        sc = self.scenario
        owners = [f"{node.index}", *(["shared"] if sc.compact_proposals else [])]
        return [
            (f"tx-{owner}-{i}-".encode() + bytes(sc.tx_bytes))[: max(sc.tx_bytes, 8)]
            for i in range(sc.txs_per_block * 50)
            for owner in owners
        ]

    def _guard(self, node: SimNode, call: Callable[[], None]) -> None:
        try:
            call()
        except SimCrash:
            self._crash(node)

    def _crash(self, node: SimNode) -> None:
        plan = next(c for c in self.scenario.crashes if c.node == node.index)
        node.engine = node.sync = None
        node.generation += 1
        node.crashes += 1
        node.busy_until = 0  # what it had queued is lost with it
        node.wal_storage.crash(torn=plan.torn_bytes)
        self.schedule(plan.restart_after_ms, node.index, lambda: self.boot(node))

    # ------------------------------------------------------------------ run

    def _find_honest(self) -> list[SimNode]:
        twins = {
            k
            for k in (n.spec.key_index for n in self.nodes)
            if sum(1 for n in self.nodes if n.spec.key_index == k) > 1
        }
        return [n for n in self.nodes if not n.spec.byzantine and n.spec.key_index not in twins]

    def run(self) -> None:
        """Run until `_is_done` or `max_ms` of virtual time."""
        for node in self.nodes:
            self.boot(node)
        healed = False
        while self._queue:
            when, _, index, callback = heapq.heappop(self._queue)
            if when > self.scenario.max_ms:
                break
            if not healed and when >= self.scenario.heal_ms:
                healed = True
                self.heights_at_heal = {n.index: n.store.get_height() for n in self.nodes}
            self.now = when
            node = self.nodes[index]
            self._guard(node, callback)
            if self._is_done(healed):
                break

    def _is_done(self, healed: bool) -> bool:
        """Every honest node reached the height cap, or grew `grow_by` past the heal point."""
        honest = self.honest
        lowest = min(n.store.get_height() for n in honest)
        if lowest >= self.scenario.height_cap:
            return True
        if not healed:
            return False
        return lowest >= max(self.heights_at_heal[n.index] for n in honest) + self.scenario.grow_by

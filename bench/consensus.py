"""Consensus throughput: 4 validators in one process over a zero-delay simulated network.

Each block carries 1,000 opaque 200-byte txs; signatures are real Ed25519 and
blocks are really hashed, encoded and decoded. Figures: `heights_per_s` and
`median_commit_ms` (wall clock from one height's start to the last node's commit).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from consensus.engine import Engine
from consensus.engine_config import ChainStart
from consensus.engine_timeouts import EngineTimeout
from consensus.sim.memory import HashChainApp, MemoryBlockStore
from consensus.sim.simulator import make_key
from consensus.types import Voter
from consensus.wal import MemoryWalStorage, Wal


@dataclass
class FreshMempool:
    """Hands out `count` new random txs of `size` bytes for every proposal."""

    count: int
    size: int

    def reap(self, max_bytes: int) -> Sequence[bytes]:
        return [os.urandom(self.size) for _ in range(self.count)]

    def update(self, committed: Sequence[bytes]) -> None:
        pass

    def get_tx(self, tx_id: bytes) -> bytes | None:
        return None  # each proposal's own: peers get them in full


@dataclass
class Network:
    queue: deque[tuple[int, int, bytes]] = field(default_factory=deque)
    engines: list[Engine] = field(default_factory=list)
    stores: list[MemoryBlockStore] = field(default_factory=list)

    def run(self, heights: int) -> list[float]:
        """Deliver messages until every node stored `heights` blocks; commit instants."""
        instants = [time.perf_counter()]
        while self.queue and min(s.get_height() for s in self.stores) < heights:
            src, dst, data = self.queue.popleft()
            self.engines[dst].on_message(str(src), data)
            if min(s.get_height() for s in self.stores) == len(instants):
                instants.append(time.perf_counter())
        return instants


@dataclass
class LoopTransport:
    net: Network
    src: int
    n: int

    def broadcast(self, data: bytes) -> None:
        for dst in range(self.n):
            if dst != self.src:
                self.net.queue.append((self.src, dst, data))

    rebroadcast = broadcast


class NoTimers:
    """Zero delay: every height commits in round 0, so timeouts never matter."""

    def schedule(self, delay_ms: int, timeout: EngineTimeout) -> None:
        pass


def run(argv: list[str]) -> dict[str, float | int]:
    parser = argparse.ArgumentParser(prog="python -m bench consensus")
    parser.add_argument("--heights", type=int, default=40)
    parser.add_argument("--txs", type=int, default=1_000)
    parser.add_argument("--tx-bytes", type=int, default=200)
    parser.add_argument("--validators", type=int, default=4)
    args = parser.parse_args(argv)
    n = args.validators
    keys = [make_key(i) for i in range(n)]
    genesis = ChainStart(
        "bench",
        tuple(Voter(f"v{i}", k.public_key, 1) for i, k in enumerate(keys)),
        bytes(32),
        0,
    )
    stores = [MemoryBlockStore(genesis.state_root) for _ in range(n)]
    net = Network(stores=stores)
    for i in range(n):
        net.engines.append(
            Engine(
                genesis,
                keys[i],
                HashChainApp(),
                FreshMempool(args.txs, args.tx_bytes),
                stores[i],
                Wal(MemoryWalStorage()),
                LoopTransport(net, i, n),
                NoTimers(),
                lambda: time.time_ns() // 1_000_000,
            )
        )
    start = time.perf_counter()
    for engine in net.engines:
        engine.start()
    instants = net.run(args.heights)
    elapsed = time.perf_counter() - start
    durations = [(b - a) * 1_000 for a, b in itertools.pairwise(instants)]
    heights = min(s.get_height() for s in stores)
    assert len({s.get_hashes()[heights - 1] for s in stores}) == 1, "validators disagree"
    return {
        "validators": n,
        "txs_per_block": args.txs,
        "tx_bytes": args.tx_bytes,
        "heights": heights,
        "heights_per_s": round(heights / elapsed, 2),
        "median_commit_ms": round(statistics.median(durations), 2) if durations else 0.0,
    }

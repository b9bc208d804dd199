"""Prometheus metrics of one node, in their own registry (several nodes may share a
process in tests, and libp2p's import must not leak its globals into our page).

The node's parts update these; `/metrics` renders them in the text exposition format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class NodeMetrics:
    def __init__(self, moniker: str = "") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.node_info = Gauge(
            "clearnode_info", "Constant 1, labelled with the moniker", ["moniker"], registry=r
        )
        self.node_info.labels(moniker=moniker).set(1)
        self.height = Gauge("clearnode_height", "Latest committed block height", registry=r)
        self.blocks_committed = Counter(
            "clearnode_blocks_committed", "Blocks committed", registry=r
        )
        self.block_txs = Counter(
            "clearnode_block_txs", "Transactions in committed blocks", ["result"], registry=r
        )
        self.commit_seconds = Histogram(
            "clearnode_commit_seconds",
            "Seconds between this node's consecutive commits (how long a height took)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=r,
        )
        self.mempool_txs = Gauge("clearnode_mempool_txs", "Pending transactions", registry=r)
        self.mempool_bytes = Gauge(
            "clearnode_mempool_bytes", "Bytes of pending transactions", registry=r
        )
        self.txs_submitted = Counter(
            "clearnode_txs_submitted", "Transactions offered to the mempool", ["result"], registry=r
        )
        self.peers = Gauge("clearnode_peers", "Connected libp2p peers", registry=r)
        self.persistent_peer_up = Gauge(
            "clearnode_persistent_peer_up",
            "1 while the link to a persistent peer is up, 0 while it is not, by layer: "
            "libp2p ([p2p] persistent_peers) or cometbft ([cometbft] persistent_peers); "
            "GET /v1/status p2p.persistent_peers says why",
            ["layer", "peer", "address"],
            registry=r,
        )
        self.api_requests = Counter(
            "clearnode_api_requests", "HTTP API requests", ["route", "status"], registry=r
        )
        self.oracle_samples = Counter(
            "clearnode_oracle_samples", "Oracle source samples", ["source", "result"], registry=r
        )
        self.event_subscribers = Gauge(
            "clearnode_event_subscribers", "Open event streams", registry=r
        )
        self.validators_jailed = Counter(
            "clearnode_validators_jailed",
            "Validator keys jailed for committed duplicate-vote evidence",
            registry=r,
        )
        self.consensus_step_seconds = Histogram(
            "clearnode_consensus_step_seconds",
            "Seconds each step of a round took on our engine: propose (to this node's "
            "prevote), prevote (to its precommit), precommit (to the decision), commit "
            "(applying, storing, the pause before the next height)",
            ["step"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.proposal_ahead_ms = Gauge(
            "clearnode_consensus_proposal_ahead_ms",
            "On our engine: how far ahead of this node's clock the latest proposal of each "
            "proposer came, by its block time (negative: behind). Seconds for every "
            "proposer: this node's clock is off; for one: that proposer's",
            ["proposer"],
            registry=r,
        )
        self.untimely_proposals = Counter(
            "clearnode_consensus_untimely_proposals",
            "On our engine: new proposals whose time was more than the precision (500 ms) "
            "ahead of this node's clock when they came, which it prevoted nil",
            ["proposer"],
            registry=r,
        )
        self.engine_restarts = Counter(
            "clearnode_cometbft_restarts",
            "On CometBFT: times the node restarted its CometBFT, far behind its peers, to "
            'block-sync (docs/operator.md, "Catching up after an outage")',
            registry=r,
        )
        self.upgrade_blocks_left = Gauge(
            "clearnode_upgrade_blocks_left",
            "Blocks until the upgrade in place governance scheduled: its height less the "
            "latest committed one (-1: none scheduled)",
            registry=r,
        )
        self.upgrade_blocks_left.set(-1)
        self._last_commit_s: float | None = None

    def observe_commit(self, height: int, result_codes: Sequence[str], now_s: float) -> None:
        """A block committed at `now_s` (a monotonic clock) with these transaction results."""
        if self._last_commit_s is not None:
            self.commit_seconds.observe(now_s - self._last_commit_s)
        self._last_commit_s = now_s
        self.height.set(height)
        self.blocks_committed.inc()
        for code in result_codes:
            self.block_txs.labels(result=code).inc()

    def observe_step(self, step: str, seconds: float) -> None:
        self.consensus_step_seconds.labels(step=step).observe(seconds)

    def observe_proposal_time(self, proposer: str, ahead_ms: int, timely: bool) -> None:
        self.proposal_ahead_ms.labels(proposer=proposer).set(ahead_ms)
        if not timely:
            self.untimely_proposals.labels(proposer=proposer).inc()

    def observe_jailings(self, count: int) -> None:
        """Keys a committed block jailed (its `validator_jailed` events)."""
        self.validators_jailed.inc(count)

    def watch_peers(self, count: Callable[[], int]) -> None:
        """Connected peers, read at scrape time."""
        self.peers.set_function(count)

    def watch_upgrade(self, blocks_left: Callable[[], int]) -> None:
        """The blocks until the planned upgrade (-1: none), read at scrape time."""
        self.upgrade_blocks_left.set_function(blocks_left)

    def watch_mempool(self, txs: Callable[[], int], size_bytes: Callable[[], int]) -> None:
        """Pending transactions and their bytes, read at scrape time (never stale)."""
        self.mempool_txs.set_function(txs)
        self.mempool_bytes.set_function(size_bytes)

    def render(self) -> bytes:
        """The text exposition of every metric of this node."""
        return generate_latest(self.registry)

"""What the oracle of one node did: counters (Prometheus when metrics are on), the
last committed update and the flagged clamps, served as GET /v1/oracle with the pool
(each signer named and weighed by the validator set in force)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter

from clearing.genesis import Genesis
from clearing.oracle import FreshnessRule
from clearing.state import ClearingState
from clearing.transition.block import BlockResult
from clearing.validator_set import get_validator_name
from node.oracle.pool import PriceObservationPool

MAX_CLAMPS_SHOWN = 32


@dataclass
class SourceHealth:
    """One price source as the sampler saw it: rounds that gave prices, rounds that
    failed, and the newest failure's reason (kept after later successes)."""

    name: str
    ok: int = 0
    errors: int = 0
    last_ok_ms: int | None = None
    last_error: str | None = None
    last_error_ms: int | None = None

    def record_ok(self, now_ms: int) -> None:
        self.ok += 1
        self.last_ok_ms = now_ms

    def record_error(self, reason: str, now_ms: int) -> None:
        self.errors += 1
        self.last_error, self.last_error_ms = reason, now_ms

    def render(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ok": self.ok,
            "errors": self.errors,
            "last_ok_ms": self.last_ok_ms,
            "last_error": self.last_error,
            "last_error_ms": self.last_error_ms,
        }


class OracleMetrics:
    """The oracle's counters in the node's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.observations = Counter(
            "clearnode_oracle_observations",
            "Price observations: out = signed here and gossiped, in = checked from peers",
            ["direction"],
            registry=registry,
        )
        self.updates_proposed = Counter(
            "clearnode_oracle_updates_proposed",
            "Price updates this node put in its proposals",
            registry=registry,
        )


@dataclass
class OracleStatus:
    """Counts and history kept by the service; `render` adds the pool and committed prices."""

    genesis: Genesis
    metrics: OracleMetrics | None = None
    sampling: bool = False
    sources: list[SourceHealth] = field(default_factory=list)
    observations_in: int = 0
    observations_out: int = 0
    updates_proposed: int = 0
    last_update_height: int | None = None
    clamps: deque[dict[str, object]] = field(default_factory=lambda: deque(maxlen=MAX_CLAMPS_SHOWN))

    def count_in(self) -> None:
        self.observations_in += 1
        if self.metrics is not None:
            self.metrics.observations.labels(direction="in").inc()

    def count_out(self) -> None:
        self.observations_out += 1
        if self.metrics is not None:
            self.metrics.observations.labels(direction="out").inc()

    def count_proposed(self) -> None:
        self.updates_proposed += 1
        if self.metrics is not None:
            self.metrics.updates_proposed.inc()

    def record_block(self, height: int, result: BlockResult | None) -> None:
        """Notes a committed price update and its clamps (events of successful txs only)."""
        for event in () if result is None else result.get_events():
            if event.kind == "price_update":
                self.last_update_height = height
            elif event.kind == "price_clamped":
                self.clamps.append({"height": height, **dict(event.data)})

    def render(
        self, state: ClearingState, pool: PriceObservationPool, now_ms: int
    ) -> dict[str, object]:
        rule = FreshnessRule.at(state, now_ms)
        powers = pool.get_powers()
        fresh = pool.get_fresh(rule)
        return {
            "sampling": self.sampling,
            "sources": [s.render() for s in self.sources],
            "last_update_height": self.last_update_height,
            "price_time_ms": state.price_time_ms,
            "max_age_ms": rule.max_age_ms,
            "max_move_bps": self.genesis.oracle.max_move_bps,
            "total_power": sum(powers.values()),
            "fresh_power": pool.get_power(fresh),
            "observers": [
                {
                    "validator": get_validator_name(state, signer),
                    "pubkey": "0x" + signer.hex(),
                    "power": powers.get(signer, 0),
                    "observed_ms": o.observed_ms,
                    "fresh": rule.is_fresh(o),
                }
                for signer, o in sorted(pool.latest.items())
            ],
            "flagged_clamps": list(self.clamps),
            "observations_in": self.observations_in,
            "observations_out": self.observations_out,
            "updates_proposed": self.updates_proposed,
            "index_prices": dict(sorted(state.index_prices.items())),
            "mark_prices": dict(sorted(state.mark_prices.items())),
        }

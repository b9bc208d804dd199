"""Sample the sources, sign one observation per round, hand it to gossip.

Prices are split by what the committed state knows: ids that are instruments in
force (listed at genesis or since, by governance or a listing template, whatever
their status) become mark prices, ids that are price feeds become index prices,
anything else is dropped (and logged) so a misconfigured source can never produce
an observation that clearing would reject whole. A source may name a series before
it is listed: its price is observed from the block that lists it. When two sources
give the same id, the first configured source wins. Sources are sampled
concurrently: a failing or slow source costs its own prices for one round only, and
its failure is counted and shown in GET /v1/oracle (`sources`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.oracle import PriceObservation, sign_price_observation
from clearing.state import ClearingState
from node.metrics import NodeMetrics
from node.oracle.sources import PriceSource, SourceError
from node.oracle.status import SourceHealth

log = logging.getLogger(__name__)


class OracleSampler:
    def __init__(
        self,
        sources: Sequence[PriceSource],
        key: Ed25519PrivateKey,
        state: Callable[[], ClearingState],
        clock_ms: Callable[[], int],
        metrics: NodeMetrics | None = None,
    ) -> None:
        self.sources = list(sources)
        self.health = [SourceHealth(s.name) for s in self.sources]
        self.key = key
        self.state = state
        self.clock_ms = clock_ms
        self.metrics = metrics

    async def collect(self) -> dict[str, int]:
        """Every source's prices, sampled concurrently; the first configured source wins."""
        results: list[dict[str, int]] = [{} for _ in self.sources]
        async with trio.open_nursery() as nursery:
            for index in range(len(self.sources)):
                nursery.start_soon(self._sample, index, results)
        merged: dict[str, int] = {}
        for prices in results:
            for key, price in prices.items():
                merged.setdefault(key, price)
        return merged

    async def _sample(self, index: int, results: list[dict[str, int]]) -> None:
        source, health = self.sources[index], self.health[index]
        try:
            results[index] = await source.sample()
        except SourceError as exc:
            log.warning("oracle source failed", extra={"source": source.name, "reason": exc.reason})
            health.record_error(exc.reason, self.clock_ms())
            self._count(source.name, "error")
            return
        health.record_ok(self.clock_ms())
        self._count(source.name, "ok")

    def _count(self, source: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.oracle_samples.labels(source=source, result=result).inc()

    async def observe(self) -> PriceObservation | None:
        """One signed observation of every id in force some source priced; None if none."""
        prices = await self.collect()
        state = self.state()
        feeds = state.genesis.feeds()
        index = {k: v for k, v in prices.items() if k in feeds}
        marks = {k: v for k, v in prices.items() if k in state.instruments}
        unknown = sorted(set(prices) - set(index) - set(marks))
        if unknown:
            log.warning("oracle ids not in force dropped", extra={"ids": ",".join(unknown)})
        if not index and not marks:
            return None
        return sign_price_observation(self.key, state.chain_id, self.clock_ms(), index, marks)

    async def run(self, out: trio.MemorySendChannel[PriceObservation], interval_ms: int) -> None:
        """At every multiple of `interval_ms` of the clock: observe and send to `out`
        (gossip owns the receiving end). Aligned so that validators sample together."""
        async with out:
            while True:
                await trio.sleep((interval_ms - self.clock_ms() % interval_ms) / 1000)
                observation = await self.observe()
                if observation is not None:
                    await out.send(observation)

"""The oracle as a node service.

On every node: the `prices` topic (checked at the first hop, see gossip.py),
the pool of the newest observation per validator, a proposal source and
GET /v1/oracle. On a validator with `[oracle] enabled` and sources: sampling
every `interval_ms`, signing with the validator key, gossiping.

The proposal source gives at most one `PriceUpdate` per proposal, only when
the pool holds fresh observations newer than the committed price time from
> 2/3 of the power; the other validators apply it under clearing's rules like
any transaction (median, staleness, clamp), so this module changes no rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import trio

from clearing.instruments import Instrument
from clearing.oracle import FreshnessRule, PriceObservation
from clearing.transition.tx import encode_tx
from node.api.http import Request, Response, json_response
from node.api.openapi import RouteDoc
from node.api.routes import RouteHandler
from node.clock import wall_clock_ms
from node.committed import CommittedBlock
from node.config import NodeConfig
from node.oracle.gossip import ObservationCheck, encode_observation
from node.oracle.pool import PriceObservationPool
from node.oracle.sampler import OracleSampler
from node.oracle.sources import PriceSource, SourceError, build_source
from node.oracle.status import OracleMetrics, OracleStatus
from node.p2p import MessageTooLarge
from node.p2p.topics import PRICES
from node.services import NodeContext, NodeContextInputs

log = logging.getLogger(__name__)
OWN_QUEUE = 4


class OracleNode:
    """One node's oracle state: the pool, its status, and what consensus asks of it."""

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.pool = PriceObservationPool(lambda: ctx.state.validators)
        metrics = None if ctx.api.metrics is None else OracleMetrics(ctx.api.metrics.registry)
        self.status = OracleStatus(ctx.genesis, metrics)

    def propose(self, height: int, time_ms: int) -> list[bytes]:
        """The proposal source: one encoded update, or nothing (no fresh quorum)."""
        state = self.ctx.state
        rule = FreshnessRule.at(state, time_ms)
        update = self.pool.compute_update(rule)
        if update is None:
            return []
        self.status.count_proposed()
        log.debug("proposing a price update of %d observations at height %d",
                  len(update.observations), height)  # fmt: skip
        return [encode_tx(update)]

    def on_commit(self, block: CommittedBlock, root: bytes) -> None:
        self.status.record_block(block.height, self.ctx.app.last_result)

    async def receive(self) -> None:
        """Pools the observations peers gossip (each already checked at the first hop)."""
        async for delivery in self.ctx.p2p.messages(PRICES):
            assert isinstance(delivery.value, PriceObservation)
            self.status.count_in()
            self.pool.add(delivery.value)

    async def publish_own(self, observations: trio.MemoryReceiveChannel[PriceObservation]) -> None:
        """Pools and gossips this validator's own observations, unless gossip fell so far
        behind that one is half its useful age old (then the next round is better)."""
        max_age = self.ctx.genesis.oracle.max_age_ms
        async for observation in observations:
            self.pool.add(observation)
            if wall_clock_ms() - observation.observed_ms > max_age // 2:
                log.warning("own observation of %d not gossiped: too old", observation.observed_ms)
                continue
            try:
                await self.ctx.p2p.publish(
                    PRICES, encode_observation(self.ctx.genesis.chain_id, observation)
                )
            except MessageTooLarge as exc:
                log.error("own observation not gossiped: %s", exc)
                continue
            self.status.count_out()

    async def get_oracle(self, _: Request, __: dict[str, str]) -> Response:
        return json_response(200, self.status.render(self.ctx.state, self.pool, wall_clock_ms()))

    def routes(self) -> list[tuple[RouteDoc, RouteHandler]]:
        doc = RouteDoc("GET", "/v1/oracle", "getOracle",
                       "Oracle pool (newest observation per validator), last committed price "
                       "update, flagged clamps, counters and committed prices",
                       tier="public")  # fmt: skip
        return [(doc, self.get_oracle)]


def build_sources(
    config: NodeConfig, instruments: Callable[[], Iterable[Instrument]] | None = None
) -> list[PriceSource]:
    """The configured sources (a simulator also pricing `instruments`, those listed since
    genesis); one that cannot be built is logged and left out."""
    sources = []
    for index, source_config in enumerate(config.oracle.sources):
        try:
            sources.append(
                build_source(source_config, config.bridge_chains, wall_clock_ms, instruments)
            )
        except SourceError as exc:
            log.error("oracle.sources[%d] left out: %s", index, exc)
    return sources


def build_sampler(ctx: NodeContext) -> OracleSampler | None:
    """The sampler when this node is a validator with the oracle enabled and sources."""
    if ctx.validator_key is None or not ctx.config.oracle.enabled:
        return None
    # The operator's sources name what they price; the simulator adds only the series
    # listed since genesis, which no configuration could have named.
    genesis_ids = {i.id for i in ctx.genesis.instruments}
    sources = build_sources(
        ctx.config,
        lambda: [i for i in ctx.state.instruments.values() if i.id not in genesis_ids],
    )
    if not sources:
        log.warning("oracle enabled without usable sources: this validator does not observe")
        return None
    return OracleSampler(
        sources, ctx.validator_key, lambda: ctx.state, wall_clock_ms, ctx.api.metrics
    )


class OracleService:
    """Every node pools and relays observations; only validators sample (`build_sampler`)."""

    name = "oracle"

    def __init__(self, config: NodeConfig, inputs: NodeContextInputs) -> None:
        check = ObservationCheck.from_genesis(inputs.genesis, inputs.state, wall_clock_ms)
        self.topics = (check.topic(),)

    @staticmethod
    def is_enabled(config: NodeConfig, inputs: NodeContextInputs) -> bool:
        return True

    async def serve(
        self, ctx: NodeContext, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        oracle = OracleNode(ctx)
        ctx.app.add_proposal_source(oracle.propose)
        ctx.on_commit(oracle.on_commit)
        ctx.api.add_routes(oracle.routes())
        sampler = build_sampler(ctx)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(oracle.receive)
            if sampler is not None:
                oracle.status.sampling = True
                oracle.status.sources = sampler.health
                send, receive = trio.open_memory_channel[PriceObservation](OWN_QUEUE)
                nursery.start_soon(sampler.run, send, ctx.config.oracle.interval_ms)
                nursery.start_soon(oracle.publish_own, receive)
            task_status.started()

"""In-memory counters of the node's parts, read by operators at scrape and request time.

The parts keep plain dicts (`P2PNode.counters`, `RequestGate.counters`); a
`CountersCollector` renders one such dict as a Prometheus counter family when
`/metrics` is scraped, so there is no second copy of the bookkeeping to drift. The
families are declared here, once, so the operator guide's metrics table lists them
without a running node (node/reference/tables.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from node.api.node_interface import ExtendedStatus
from node.api.server import ApiApp
from node.p2p import P2PNode
from node.worktime import PARTS, WorkTime

CountsGetter = Callable[[], Iterable[tuple[Sequence[str], float]]]


@dataclass(frozen=True)
class CounterFamily:
    """A counter family's name (Prometheus exposes it with `_total`), help and labels."""

    name: str
    documentation: str
    labels: tuple[str, ...]


P2P_EVENTS = CounterFamily(
    "clearnode_p2p_events",
    "libp2p events by scope (gossip topic, links, connections) and outcome",
    ("scope", "outcome"),
)
BRIDGE_REOBSERVE_REQUESTS = CounterFamily(
    "clearnode_bridge_reobserve_requests",
    "Re-observation requests at the first hop: admitted, stale, outside_set, replayed, over_budget",
    ("verdict",),
)
BRIDGE_VAULT_ROTATIONS = CounterFamily(
    "clearnode_bridge_vault_rotations",
    "Vault validator-set rotations: signed by this validator, rotated on chain",
    ("chain", "event"),
)
BUSY_SECONDS = CounterFamily(
    "clearnode_busy_seconds",
    "CPU seconds the node's event loop spent in each part of its work (node/worktime.py): "
    + ", ".join(PARTS),
    ("part",),
)
P2P_SENT_BYTES = CounterFamily(
    "clearnode_p2p_sent_bytes",
    "Bytes this node's libp2p host wrote to peers: gossip by topic (control: subscriptions "
    "and GossipSub's own messages), requests and responses by protocol",
    ("channel",),
)
PEERS_OTHER_GENESIS = CounterFamily(
    "clearnode_peers_other_genesis",
    "Connections refused because the peer runs another genesis, by who refused them: "
    "libp2p (the genesis handshake) or cometbft (its network name, which carries the "
    "genesis hash); each such peer is also logged once at warning",
    ("layer",),
)
PROPOSALS_DATED_BY_OTHERS = CounterFamily(
    "clearnode_consensus_proposals_dated_by_others",
    "On our engine: this validator's proposals dated by the other validators' clock, its "
    "own being more than twice the precision ahead of their recent blocks' times (each "
    "such proposal is then timely to them: is this node's clock set?)",
    (),
)
LATE_PROPOSALS = CounterFamily(
    "clearnode_consensus_late_proposals",
    "On our engine: proposals that came whole (a compact one with its transactions) once "
    "this node was past its propose step of their round, having prevoted nil at its "
    "timeout: growing, the timeouts are short for the network's round trips",
    (),
)
COUNTER_FAMILIES = (
    P2P_EVENTS,
    PEERS_OTHER_GENESIS,
    BUSY_SECONDS,
    P2P_SENT_BYTES,
    BRIDGE_REOBSERVE_REQUESTS,
    BRIDGE_VAULT_ROTATIONS,
    PROPOSALS_DATED_BY_OTHERS,
    LATE_PROPOSALS,
)
"""Every family a node serves through a CountersCollector."""


class CountersCollector(Collector):
    """One counter family whose samples are `get()`'s (label values, count), read at scrape."""

    def __init__(self, family: CounterFamily, get: CountsGetter):
        self.family, self.get = family, get

    def collect(self) -> Iterator[Metric]:
        f = self.family
        family = CounterMetricFamily(f.name, f.documentation, labels=f.labels)
        for values, count in sorted(self.get()):
            family.add_metric(list(values), count)
        yield family


def get_p2p_view(p2p: P2PNode) -> dict[str, object]:
    """The p2p section of GET /v1/status: counters nested scope -> outcome -> count, and the
    connections refused for another genesis by layer (counts alone: who and where is the
    operator's log's)."""
    counters: dict[str, dict[str, int]] = {}
    for (scope, outcome), count in sorted(p2p.counters.items()):
        counters.setdefault(scope, {})[outcome] = count
    return {
        "peer_id": p2p.peer_id,
        "peers": len(p2p.connected_peers()),
        "counters": counters,
        "refused_other_genesis": dict(sorted(p2p.other_genesis.refusals.items())),
        "persistent_peers": p2p.peer_links.get_view(),
    }


def add_status_section(app: ApiApp, name: str, get: Callable[[], object]) -> None:
    """Add `name: get()` to GET /v1/status, after what the node's status already has."""
    node = app.node
    if not isinstance(node, ExtendedStatus):
        return
    previous = node.status_extra

    def extra() -> dict[str, object]:
        return {**({} if previous is None else previous()), name: get()}

    node.status_extra = extra


def labelled(counts: Mapping[str, float]) -> Iterator[tuple[tuple[str], float]]:
    return (((label,), count) for label, count in counts.items())


def expose_work(app: ApiApp, work: WorkTime, p2p: P2PNode) -> None:
    """Serve where the node's time goes (`clearnode_busy_seconds_total{part}`) and the bytes
    its host sent (`clearnode_p2p_sent_bytes_total{channel}`)."""
    if app.metrics is not None:
        registry = app.metrics.registry
        seconds, sent = work.seconds, p2p.sent_bytes
        registry.register(CountersCollector(BUSY_SECONDS, lambda: labelled(seconds)))
        registry.register(CountersCollector(P2P_SENT_BYTES, lambda: labelled(sent)))


def expose_p2p_counters(app: ApiApp, p2p: P2PNode) -> None:
    """Serve `p2p.counters` as `clearnode_p2p_events_total{scope, outcome}` and under
    `p2p` in GET /v1/status (scope: a gossip topic, `links` or `connections`), with each
    persistent peer's link (`clearnode_persistent_peer_up{layer, peer, address}`)."""
    if app.metrics is not None:
        registry = app.metrics.registry
        registry.register(CountersCollector(P2P_EVENTS, lambda: p2p.counters.items()))
        refusals = p2p.other_genesis.refusals
        registry.register(CountersCollector(PEERS_OTHER_GENESIS, lambda: labelled(refusals)))
        links = p2p.peer_links  # a CometBFT node has added CometBFT's peers by now
        for layer, peer, address in links.get_keys():
            up = app.metrics.persistent_peer_up.labels(layer=layer, peer=peer, address=address)
            up.set_function(functools.partial(links.is_connected, layer, peer))
    add_status_section(app, "p2p", lambda: get_p2p_view(p2p))

"""Every metric the operator guide lists exists on a running node and moves when what it
measures happens: blocks commit, a venue submits batches (the mempool fills, then
drains), a client holds an event stream, peers gossip, the oracle samples and proposes;
`/v1/status` says when a node stops committing (a 4-validator network, whole nodes,
real libp2p)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import trio
import yaml

from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from tests.node.netproc import ORACLE_OFF, SHORT_TIMEOUTS
from tests.node.netsupport import get_wall_times
from tests.node.nodenet import NodeNetwork, open_node_network
from tests.node.test_submission_processes import ROUTE, make_batches

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHAIN_ID = 4242  # configs/genesis.example.json
ORACLE = (
    "[oracle]\nenabled = true\ninterval_ms = 1000\n"
    "[[oracle.sources]]\nkind = 'simulator'\n"
    "symbols = ['BTC/0.001', 'BTC-PERP']\nstart_prices = [60000000, 60000000]\n"
    "seed = 11\nmax_step_bps = 10\n"
)
SAMPLER = "simulator(seed=11)"
BATCHES = 10
"""Submitted one by one, each followed by a scrape, until one scrape sees it pending: a
batch stays in the mempool only until the next commit (tens of milliseconds)."""

MSGPACK = {"content-type": "application/msgpack"}

GROWING = (
    'clearnode_p2p_events_total{scope="consensus",outcome="delivered"}',
    'clearnode_p2p_events_total{scope="prices",outcome="delivered"}',
    f'clearnode_oracle_samples_total{{source="{SAMPLER}",result="ok"}}',
    'clearnode_oracle_observations_total{direction="out"}',
    'clearnode_oracle_observations_total{direction="in"}',
    "clearnode_oracle_updates_proposed_total",
    'clearnode_consensus_step_seconds_count{step="propose"}',
    'clearnode_consensus_step_seconds_count{step="prevote"}',
    'clearnode_consensus_step_seconds_count{step="precommit"}',
    'clearnode_consensus_step_seconds_count{step="commit"}',
    'clearnode_p2p_sent_bytes_total{channel="consensus"}',
    'clearnode_p2p_sent_bytes_total{channel="prices"}',
)
"""Counters that move on every running validator with the oracle on, batches or not."""
BUSY = (
    'clearnode_busy_seconds_total{part="consensus"}',
    'clearnode_busy_seconds_total{part="block_apply"}',
    'clearnode_busy_seconds_total{part="block_store"}',
    'clearnode_busy_seconds_total{part="proposal_check"}',
    'clearnode_busy_seconds_total{part="gossip_decode"}',
)
"""Seconds that grow on every running validator (by less than a second at a time)."""


def get_documented_metrics() -> set[str]:
    """The families of operator.md's generated metrics table (node/reference/tables.py), without
    a counter's `_total`."""
    guide = (ROOT / "docs" / "operator.md").read_text()
    table = guide.split("<!-- generated: metrics", 1)[1].split("<!-- end generated -->", 1)[0]
    names = re.findall(r"^\| `(clearnode_[a-z0-9_]+)`", table, re.M)
    return {name.removesuffix("_total") for name in names}


def get_dashboard_series(types: dict[str, str]) -> dict[str, str]:
    """Each series the Grafana dashboard queries -> why it would find nothing on a node
    whose exposition declares `types` (TYPE line name -> Prometheus type), or "" if found."""
    dashboard = json.loads((ROOT / "configs" / "grafana" / "clearnode.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return get_missing_series(exprs, types)


def get_alert_series(types: dict[str, str]) -> dict[str, str]:
    """The same of every series the alert rules (configs/prometheus/alerts.yml) read."""
    rules = yaml.safe_load((ROOT / "configs" / "prometheus" / "alerts.yml").read_text())
    exprs = [r["expr"] for group in rules["groups"] for r in group["rules"]]
    return get_missing_series(exprs, types)


def get_missing_series(exprs: list[str], types: dict[str, str]) -> dict[str, str]:
    return {
        series: explain_missing_series(series, types)
        for series in {m for e in exprs for m in re.findall(r"\b(clearnode_[a-z0-9_]+)", e)}
    }


SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def explain_missing_series(series: str, types: dict[str, str]) -> str:
    if types.get(series) == "gauge":
        return ""
    for kind, suffixes in SERIES_SUFFIXES.items():
        for suffix in suffixes:
            family = series.removesuffix(suffix)
            if family != series and kind in (types.get(family), types.get(series)):
                return ""
    return f"no {series} in the exposition (declared: {types.get(series, 'nothing')})"


def get_canonical_key(key: str) -> str:
    """`name{labels}` with its labels sorted: prometheus_client writes them in its own
    order, which need not be the order this test names them in."""
    name, _, labels = key.partition("{")
    if not labels:
        return name
    return name + "{" + ",".join(sorted(labels.rstrip("}").split(","))) + "}"


class Samples(dict[str, float]):
    """`name{labels}` -> value of every sample line of a text exposition; looked up by
    any order of the labels."""

    def __getitem__(self, key: str) -> float:
        return super().__getitem__(get_canonical_key(key))

    def get(self, key: str, default: float = 0) -> float:  # type: ignore[override]
        return super().get(get_canonical_key(key), default)


def get_samples(text: str) -> Samples:
    samples = Samples()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            dict.__setitem__(samples, get_canonical_key(key), float(value))
    return samples


async def scrape(net: NodeNetwork) -> str:
    async with httpx.AsyncClient(timeout=10) as client:
        home = net.homes[0]
        url = f"http://127.0.0.1:{home.operator_port}/metrics"
        response = await client.get(url, headers=home.operator_headers)
    assert response.status_code == 200
    return response.text


async def wait_for_samples(
    net: NodeNetwork, done: Callable[[Samples], bool], timeout_s: float = 30
) -> Samples:
    """Scrapes until `done` holds or `timeout_s` passed; the last samples either way (the
    caller's asserts then name what did not move)."""
    with trio.move_on_after(timeout_s):
        while not done(samples := get_samples(await scrape(net))):
            await trio.sleep(0.2)
    return samples


def get_forged_batch() -> bytes:
    """Decodes, but is not signed by the venue it names: admission refuses it."""
    trade = Trade(1, "BTC-PERP", derive_member_key("m0").address, 0,
                  derive_member_key("m1").address, 0, 60_000_000, 1)  # fmt: skip
    return encode_tx(
        sign_trade_batch(
            derive_ed25519_key("not-venue-alpha"), CHAIN_ID, "alpha", 1, (trade,), *get_wall_times()
        )
    )


async def submit_until_seen_pending(net: NodeNetwork, client: httpx.AsyncClient) -> Samples:
    """Posts batches to node 0, scraping after each 202; the first scrape whose mempool
    holds the batch just accepted."""
    url = f"http://127.0.0.1:{net.homes[0].api_port}"
    for batch in make_batches(BATCHES):
        response = await client.post(url + ROUTE, content=batch, headers=MSGPACK)
        assert response.status_code == 202, response.text
        samples = get_samples(await scrape(net))
        if samples["clearnode_mempool_txs"] >= 1:
            assert samples["clearnode_mempool_bytes"] >= len(batch)
            return samples
    raise AssertionError(f"clearnode_mempool_txs stayed 0 after each of {BATCHES} batches")


def moved(first: Samples, later: Samples, key: str, by: float = 1) -> bool:
    return later.get(key, 0) >= first.get(key, 0) + by


async def test_every_documented_metric_exists_and_moves(tmp_path: Path) -> None:
    async with open_node_network(tmp_path, extra_config=ORACLE) as net:
        await net.wait_for_height(3)
        text = await scrape(net)
        first = get_samples(text)
        url = f"http://127.0.0.1:{net.homes[0].api_port}"
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("GET", url + "/v1/events") as events:
                await anext(events.aiter_bytes())  # ": connected": the node holds our stream
                pending = await submit_until_seen_pending(net, client)
            forged = await client.post(
                url + ROUTE,
                content=get_forged_batch(),
                headers={"content-type": "application/msgpack"},
            )
        assert forged.status_code == 401, forged.text

        def has_moved(later: Samples) -> bool:
            return (
                later["clearnode_height"] >= first["clearnode_height"] + 3
                and later["clearnode_event_subscribers"] == 0
                and later["clearnode_mempool_txs"] == 0
                and all(moved(first, later, key) for key in GROWING)
                and all(moved(first, later, key, 1e-9) for key in BUSY)
            )

        later = await wait_for_samples(net, has_moved)

    families = {name.removesuffix("_total") for name in re.findall(r"^# TYPE (\S+) ", text, re.M)}
    assert get_documented_metrics() - families == set()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)", text, re.M))
    dashboard = get_dashboard_series(types)
    assert len(dashboard) >= 12 and {s: p for s, p in dashboard.items() if p} == {}
    alerts = get_alert_series(types)
    assert len(alerts) >= 10 and {s: p for s, p in alerts.items() if p} == {}
    # the chain
    assert later["clearnode_height"] >= first["clearnode_height"] + 3 >= 6
    assert moved(first, later, "clearnode_blocks_committed_total", 3)
    assert moved(first, later, "clearnode_commit_seconds_count", 3)
    assert later["clearnode_peers"] == 3
    assert moved(first, later, 'clearnode_block_txs_total{result="ok"}')  # price updates
    # a venue's batches: pending while waiting for a block, drained once committed
    assert first["clearnode_mempool_txs"] == 0 and first["clearnode_mempool_bytes"] == 0
    assert pending["clearnode_mempool_txs"] >= 1
    assert later["clearnode_mempool_txs"] == 0 and later["clearnode_mempool_bytes"] == 0
    assert moved(first, later, 'clearnode_txs_submitted_total{result="accepted"}')
    route = 'clearnode_api_requests_total{route="submitTradeBatch",status="%s"}'
    assert moved(first, later, route % "202")
    assert moved(first, later, route % "401")
    assert moved(first, later, 'clearnode_txs_submitted_total{result="rejected"}')
    assert moved(first, later, 'clearnode_p2p_events_total{scope="tx",outcome="published"}')
    assert moved(first, later, 'clearnode_p2p_sent_bytes_total{channel="tx"}', 100)
    assert moved(first, later, 'clearnode_busy_seconds_total{part="tx_check"}', 1e-9)
    # an event stream: counted while open, not after it closed
    assert first["clearnode_event_subscribers"] == 0
    assert pending["clearnode_event_subscribers"] == 1
    assert later["clearnode_event_subscribers"] == 0
    # gossip and the oracle
    for key in GROWING:
        assert moved(first, later, key), f"{key} did not move: {first.get(key)} -> {later.get(key)}"
    for key in BUSY:
        assert moved(first, later, key, 1e-9), f"{key}: {first.get(key)} -> {later.get(key)}"


async def test_status_says_when_a_node_is_cut_off_and_stops_committing(tmp_path: Path) -> None:
    quiet = ORACLE_OFF + SHORT_TIMEOUTS  # a stall limit of seconds
    async with open_node_network(tmp_path, extra_config=quiet) as net:
        await net.wait_for_height(3)
        lonely, *others = net.homes
        limit_s = lonely.get_stall_limit_s()
        health = (await net.get_json(lonely, "/v1/status"))["health"]
        assert health["warnings"] == [] and health["blocks_behind"] == 0
        assert health["best_peer_height"] >= health["last_commit_height"] - 1 >= 2
        for home in others:
            await net.stop(home)
        with trio.fail_after(limit_s + 10):
            while not (status := await net.get_json(lonely, "/v1/status"))["health"]["warnings"]:
                await trio.sleep(0.5)
        (warning,) = status["health"]["warnings"]
        assert warning.startswith("no commit for ")
        # the age is shown to 0.1 s, the limit so rounded too (4.77 s reads 4.8)
        assert status["health"]["last_commit_age_s"] >= round(limit_s, 1)
        async with httpx.AsyncClient(timeout=10) as client:
            page = (await client.get(f"http://127.0.0.1:{lonely.api_port}/")).text
        assert "<li class='alert health'>no commit for " in page

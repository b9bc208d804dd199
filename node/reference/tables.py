"""The operator guide's reference tables and docs/openapi.json, made from the code.

Config keys are what `node.config.parse_config` reads (configs/node.example.toml and one
source of each oracle kind, in the loader's own words); metrics are the node's
declarations; routes are an ApiApp's with every node service's route table. The guide
holds each table between markers; `python -m node.reference` rewrites them, and
tests/node/test_reference.py fails when a committed table differs from the code.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from node.api.counters import COUNTER_FAMILIES
from node.api.node_interface import LocalNode
from node.api.openapi import COMMON_ERRORS, RouteDoc, build_document
from node.api.routes import RouteHandler
from node.api.server import API_VERSION, ApiApp
from node.api.tiers import OPERATOR, PUBLIC
from node.bridge.api import BridgeApi
from node.config import parse_config
from node.config_table import KeyRead
from node.metrics import NodeMetrics
from node.oracle.service import OracleNode
from node.oracle.status import OracleMetrics
from node.reports.api import ReportsApi
from node.status.service import StatusPage
from node.verifier.service import GenesisFile, VerifierPage

ROOT = Path(__file__).resolve().parents[2]
GUIDE = Path("docs/operator.md")
OPENAPI = Path("docs/openapi.json")
EXAMPLE_CONFIG = Path("configs/node.example.toml")
REGENERATE = "python -m node.reference"

T = TypeVar("T")

EXTRA_SOURCES = """
[[oracle.sources]]
kind = "simulator"
symbols = ["X"]
start_prices = [1]
shock_file = "shock"
shock_bps = -3000
[[oracle.sources]]
kind = "replay"
symbols = ["X"]
path = "prices.csv"
[[oracle.sources]]
kind = "http"
symbols = ["X"]
url = "https://prices.example.org"
json_paths = { X = "data.price" }
[[oracle.sources]]
kind = "evm"
chain = "c"
symbols = ["X"]
[oracle.sources.feeds.X]
address = "0x0000000000000000000000000000000000000001"
scale = 1
[[bridge_chains]]
name = "c"
chain_id = 1
rpc_url = "http://127.0.0.1:8545"
vault_address = "0x0000000000000000000000000000000000000002"
"""
"""A source of each kind the example leaves commented out, so the loader reads every key."""

CONFIG_MEANINGS: dict[str, str] = {
    "chain_id": "the clearing network id; must equal genesis `chain_id`",
    "moniker": "node name in logs and metrics",
    "genesis_file": "genesis document",
    "log_level": "threshold of the JSON logs on stderr",
    "keys.node_key_file": "libp2p identity",
    "keys.validator_key_file": "consensus key; a node whose key is not in genesis runs as "
    "a full node",
    "keys.bridge_key_file": "withdrawal-signing key",
    "keys.operator_token_file": "the operator listener's token (written when missing: "
    '"The two API listeners")',
    "p2p.listen_host": "libp2p TCP listener (Noise + yamux): host",
    "p2p.listen_port": "libp2p TCP listener: port",
    "p2p.persistent_peers": "multiaddrs ending in `/p2p/<peer id>`, dialled and re-dialled",
    "p2p.observers": 'full nodes allowed to connect besides the validators ("Who may connect")',
    "p2p.external_address": "where the other validators dial this node, when "
    "`listen_host:listen_port` is not it (`/ip4|ip6|dns4|dns6/HOST/tcp/PORT`, not "
    "`0.0.0.0`); announced by `clearnode genesis contribution`",
    "api.enabled": "the public HTTP API listener",
    "api.listen_host": "the public listener's host",
    "api.listen_port": "the public listener's port",
    "api.max_body_bytes": "the most any request body may carry (2 x 4 MiB + 1 KiB: the "
    'largest transaction as `{"tx": "0x<hex>"}`); each route also caps its own (Routes), '
    "and a larger body is refused with 413 `BodyTooLarge` naming the limit before it is read",
    "api.operator_enabled": "the operator listener (full blocks, members' health, `/metrics`; "
    '"The two API listeners"); `clearnode init` enables it',
    "api.operator_listen_host": "the operator listener's host",
    "api.operator_listen_port": "the operator listener's port, not the public one's",
    "metrics.enabled": "Prometheus text at `/metrics` on the operator listener",
    "cometbft.home": "this node's CometBFT home (mode 0700), rewritten from its keys, genesis "
    'and config at every start (`engine = "cometbft"` networks only); CometBFT\'s RPC is its '
    'Unix socket `rpc.sock` ("CometBFT\'s RPC")',
    "cometbft.p2p_port": "CometBFT's p2p port, on `p2p.listen_host`",
    "cometbft.metrics_port": "CometBFT's own Prometheus metrics on 127.0.0.1 (no credential: "
    "counts and sizes, no transaction); 0: off",
    "cometbft.pprof_port": "CometBFT's Go profiler (`/debug/pprof/`: heap, goroutines, CPU) "
    "on 127.0.0.1, for asking what its memory or CPU is spent on; its dumps may hold "
    "transactions' bytes; 0: off",
    "cometbft.persistent_peers": "the other validators' CometBFT nodes, `NODE_ID@HOST:PORT`",
    "cometbft.external_address": "`HOST:PORT` the other validators dial, if not "
    "`p2p.listen_host:p2p_port`",
    "cometbft.restart_behind_heights": "restart CometBFT into block sync when most of its "
    'peers stay this many heights ahead for 5 s; 0: never ("Catching up after an outage")',
    "consensus.timeout_propose_ms": "how long a validator waits for the round's proposal "
    'before it prevotes nil ("Consensus timeouts")',
    "consensus.timeout_propose_delta_ms": "added to `timeout_propose_ms` at each further round "
    "of a height",
    "consensus.timeout_prevote_ms": "how long it waits, holding +2/3 prevotes for no one "
    "block, before it precommits nil",
    "consensus.timeout_prevote_delta_ms": "added to `timeout_prevote_ms` at each further round",
    "consensus.timeout_precommit_ms": "how long it waits, holding +2/3 precommits for no one "
    "block, before the next round",
    "consensus.timeout_precommit_delta_ms": "added to `timeout_precommit_ms` at each further round",
    "consensus.timeout_commit_ms": "the pause after a commit before the next height",
    "consensus.create_empty_blocks_interval_ms": "an idle proposer's wait for a transaction "
    "before it proposes an empty block, in a height's first round (a later round's proposes "
    "at once); below `timeout_propose_ms`",
    "storage.path": "SQLite database",
    "storage.consensus_wal": "consensus WAL file",
    "storage.snapshot_interval": "blocks between state snapshots (the consensus WAL is "
    "compacted at each)",
    "storage.snapshots_kept": "newest snapshots kept; a corrupt one falls back to the one before",
    "storage.blocks_kept": "newest blocks kept (about 11.6 days at one block a second); "
    "pruning never passes the oldest snapshot, and keeps the blocks light clients read "
    '("Pruned and archive nodes"); 0: every block, an archive node',
    "storage.history_blocks_kept": "newest blocks whose members' history is kept; 0: all, "
    "from the first block",
    "state_sync.enabled": "a node started with an empty store takes its peers' newest "
    'trusted snapshot instead of every block since genesis ("State sync"; on CometBFT, '
    "its own state sync, fed the same snapshots)",
    "state_sync.checkpoint": "where the light-client walk that trusts the snapshot starts: "
    "empty for the genesis's set (within 14 days of the genesis time), else a block you "
    "trust, as `clearnode status` prints it",
    "state_sync.timeout_s": "how long it looks for a snapshot it can trust and fetch before "
    "`clearnode start` gives up (exit 2)",
    "state_sync.backfill": "after a restore, fetch the blocks below the snapshot that "
    "`[storage]` keeps from peers that hold them, then, when they reach genesis, rebuild "
    "the members' history below it (both engines)",
    "mempool.max_txs": "pending transactions at most",
    "mempool.max_bytes": "pending bytes at most (64 MiB)",
    "mempool.max_tx_bytes": "the largest transaction (the protocol's cap, 4 MiB), at most "
    "`max_bytes`; a larger one is refused as `TxTooLarge` naming the limit",
    "oracle.enabled": "a validator samples the price sources, signs and gossips observations",
    "oracle.interval_ms": "it samples at every multiple of this of the clock",
    "oracle.sources": "one price source each (keys below)",
    "oracle.sources[].kind": "which source",
    "oracle.sources[].symbols": "the price ids it gives, non-empty",
    "oracle.sources[].start_prices": "one positive integer per symbol",
    "oracle.sources[].seed": "the seeded path",
    "oracle.sources[].max_step_bps": "largest step of the path",
    "oracle.sources[].step_ms": "one step per this of wall-clock time",
    "oracle.sources[].shock_at_ms": "a devnet's scheduled shock: from this instant on",
    "oracle.sources[].shock_file": "or from the unix ms written in this file, read at each "
    "sample (absent until whoever schedules the shock writes it)",
    "oracle.sources[].shock_bps": "every price scaled by (10000 + shock_bps) / 10000",
    "oracle.sources[].path": "CSV or JSONL file",
    "oracle.sources[].url": "the JSON endpoint",
    "oracle.sources[].json_paths.<symbol>": "where each symbol's price is in the answer",
    "oracle.sources[].decimals": "the answer is scaled by 10**decimals",
    "oracle.sources[].timeout_ms": "a read not answered within this is this round's failure; "
    "keep it well below `oracle.interval_ms`",
    "oracle.sources[].chain": "a `[[bridge_chains]]` `name` whose `rpc_url` is `http(s)://`",
    "oracle.sources[].max_age_ms": "oldest `updatedAt` accepted (checked in whole seconds: "
    "`max_age_ms // 1000`)",
    "oracle.sources[].feeds.<symbol>.address": "the feed contract, one table per symbol",
    "oracle.sources[].feeds.<symbol>.decimals": "must equal the contract's `decimals()`",
    "oracle.sources[].feeds.<symbol>.scale": "ledger price units per whole unit of the answer",
    "reports.enabled": "build, sign, commit and serve each epoch's solvency report "
    "(`init` writes `true`)",
    "reports.seed_file": "validators only: the network's shared report seed",
    "reports.path": "where reports are stored",
    "reports.keep": "newest epochs kept",
    "reports.sync_max_bytes": "the largest complete report this node serves to, or accepts "
    "from, a peer over report sync; about 2 KiB per account, so 128 MiB covers some 60,000",
    "reports.share_wait_s": "validators: once its own share of an epoch's proofs is proven, "
    "how long it waits for the others' before it proves what has not arrived itself",
    "bridge.reobserve_after_ms": "how long a deposit sits in the pool below quorum, unsigned "
    "by this validator, before it re-observes it "
    "([bridge.md](bridge.md#re-observing-a-stuck-deposit))",
    "bridge.rotation_grace_blocks": "for how many blocks after losing its power a validator "
    "still signs the rotation of vaults that trust its bridge key, and stays an allowed peer "
    "([bridge.md](bridge.md))",
    "bridge_chains": "one watched EVM chain each (keys below)",
    "bridge_chains[].name": "unique; evm oracle sources name it",
    "bridge_chains[].chain_id": "EIP-155 chain id",
    "bridge_chains[].rpc_url": "JSON-RPC endpoint",
    "bridge_chains[].vault_address": "the CollateralVault contract",
    "bridge_chains[].confirmation_depth": "logs are read this many blocks below the head",
    "bridge_chains[].poll_interval_ms": "how long the watcher waits before it asks the chain "
    "again once it has read every final block",
}
"""Hand-written: the loader knows what a key takes, not what it is for."""


def get_config_keys(root: Path = ROOT) -> list[KeyRead]:
    """Every key the loader reads, in its order of reading."""
    file = root / EXAMPLE_CONFIG
    data = tomllib.loads(file.read_text() + EXTRA_SOURCES)
    reads: dict[tuple[str, str], KeyRead] = {}
    parse_config(data, file, root, reads)
    return list(reads.values())


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|")


def _default(value: object) -> str:
    if value is None:
        return "required"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str) and value.startswith("`"):
        return value  # written out by the loader: each engine's, say
    if isinstance(value, str) and value:
        return value if value == "none" else f"`{value}`"
    return f"`{json.dumps(value)}`"


def render_config_keys(keys: Iterable[KeyRead]) -> str:
    keys = list(keys)
    names = {k.key for k in keys}
    missing = sorted(names - set(CONFIG_MEANINGS))
    stale = sorted(set(CONFIG_MEANINGS) - names)
    if missing or stale:
        raise ValueError(
            f"node/reference/tables.py CONFIG_MEANINGS: add {missing}, remove {stale} "
            "(the loader's keys changed)"
        )
    rows = ["| Key | Where | Takes | Default | Meaning |", "| --- | --- | --- | --- | --- |"]
    for k in keys:
        where = f"`{k.scope}`" if k.scope else ""
        rows.append(
            f"| `{_cell(k.key)}` | {where} | {_cell(k.expected)} | {_cell(_default(k.default))} "
            f"| {CONFIG_MEANINGS[k.key]} |"
        )
    return "\n".join(rows)


@dataclass(frozen=True)
class MetricDoc:
    name: str
    """As Prometheus exposes it: a counter with `_total`."""
    type: str
    labels: tuple[str, ...]
    help: str


def _wrapped(metric: MetricWrapperBase) -> MetricDoc:
    # prometheus_client keeps a family's declaration only in these attributes; a family
    # with labels and no children yet shows no labels through collect().
    kind = str(metric._type)
    name = metric._name + ("_total" if kind == "counter" else "")
    return MetricDoc(name, kind, tuple(metric._labelnames), metric._documentation)


def get_metrics() -> list[MetricDoc]:
    """Every metric family a node may serve, by name."""
    registry = CollectorRegistry()
    declared: list[object] = [
        *vars(NodeMetrics()).values(),
        *vars(OracleMetrics(registry)).values(),
    ]
    docs = [_wrapped(m) for m in declared if isinstance(m, MetricWrapperBase)]
    docs += [
        MetricDoc(f.name + "_total", "counter", f.labels, f.documentation) for f in COUNTER_FAMILIES
    ]
    return sorted(docs, key=lambda d: d.name)


def render_metrics(metrics: Iterable[MetricDoc]) -> str:
    rows = ["| Name | Type | Labels | Help |", "| --- | --- | --- | --- |"]
    for m in metrics:
        labels = ", ".join(f"`{label}`" for label in m.labels)
        rows.append(f"| `{m.name}` | {m.type} | {labels} | {_cell(m.help)} |")
    return "\n".join(rows)


def _declared(cls: type[T]) -> T:
    """An instance made only to read its route table: the handlers are named, never run."""
    return cls.__new__(cls)


def build_app() -> ApiApp:
    """An ApiApp with every node service's routes, as a node with all of them on."""
    app = ApiApp(_declared(LocalNode))
    services: list[Callable[[], list[tuple[RouteDoc, RouteHandler]]]] = [
        _declared(BridgeApi).routes,
        _declared(OracleNode).routes,
        _declared(StatusPage).routes,
        _declared(ReportsApi).routes,
        _declared(VerifierPage).routes,
        _declared(GenesisFile).routes,
    ]
    for table in services:
        app.add_routes(table())
    return app


def get_routes() -> list[RouteDoc]:
    """Every route a node serves with all its services on, in the order they are matched."""
    return [r.doc for r in build_app().routes]


def render_routes(routes: Iterable[RouteDoc]) -> str:
    rows = [
        "| Method | Path | Tier | Listeners | Body cap (bytes) | Error statuses |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in routes:
        listeners = ", ".join(x.name for x in (PUBLIC, OPERATOR) if x.serves(r.tier))
        cap = f"{r.max_body_bytes:,}"
        errors = ", ".join(str(s) for s in sorted({*COMMON_ERRORS, *r.errors}))
        rows.append(f"| {r.method} | `{r.path}` | {r.tier} | {listeners} | {cap} | {errors} |")
    return "\n".join(rows)


def render_openapi(routes: list[RouteDoc]) -> str:
    """The operator listener's document: it serves every route."""
    served = [r for r in routes if OPERATOR.serves(r.tier)]
    return json.dumps(build_document(served, API_VERSION), indent=2) + "\n"


def render_tables() -> dict[str, str]:
    """Marker name -> the markdown between its markers."""
    return {
        "config-keys": render_config_keys(get_config_keys()),
        "metrics": render_metrics(get_metrics()),
        "routes": render_routes(get_routes()),
    }


def _marked(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- generated: {re.escape(name)} [^>]*-->\n)((?:(?!<!--).)*?)(<!-- end generated -->)",
        re.S,
    )


def replace_tables(text: str, tables: Mapping[str, str]) -> str:
    """`text` with each table between its markers; ValueError naming a missing marker."""
    for name, table in tables.items():
        found = _marked(name).search(text)
        if found is None:
            raise ValueError(f"no '<!-- generated: {name} ... -->' marker")
        text = text[: found.start(2)] + table + "\n" + text[found.end(2) :]
    return text


def get_generated_files(root: Path = ROOT) -> dict[Path, str]:
    """Each generated file -> its content as the code makes it now."""
    guide = replace_tables((root / GUIDE).read_text(), render_tables())
    return {GUIDE: guide, OPENAPI: render_openapi(get_routes())}


def main() -> int:
    for path, text in get_generated_files().items():
        (ROOT / path).write_text(text)
        print(f"wrote {path}")
    return 0

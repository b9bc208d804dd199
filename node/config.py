"""The node's own configuration: `config.toml` in the node's home → frozen records.

Every key is read through `ConfigTable` (node/config_table.py), which knows the file and
the dotted key path, so a bad value is reported as "file, key, what was expected, what
was found". Unknown keys are errors too: a typo must not silently fall back to a default.
Relative paths in the file are resolved against the home directory. The sections with
records of their own are read beside this module: `[p2p]` (node/p2p_config.py) and
`[oracle]` (node/oracle_config.py).

Validated by hand rather than with pydantic (issue #19): the same schema in pydantic
needs as many lines once its errors are translated into these and its models turned into
these records, and the translation leans on pydantic's error names; `python -m bench
config_schema` measures both.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from consensus.state_machine import TimeoutConfig
from lightclient.anchor import COMETBFT, OUR_ENGINE, Checkpoint
from node.config_table import ConfigError, ConfigTable, KeyRead, read_table
from node.keys import (
    BRIDGE_KEY,
    HOME_KEY_FILES,
    HOME_OPERATOR_TOKEN_FILE,
    NODE_KEY,
    VALIDATOR_KEY,
)
from node.limits import MAX_API_BODY_BYTES, MAX_MEMPOOL_TX_BYTES
from node.oracle_config import OracleConfig, read_oracle
from node.p2p_config import P2PConfig, read_p2p
from node.retention import MIN_BLOCKS_KEPT, Retention

CONFIG_FILE_NAME = "config.toml"
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class CometBFTConfig:
    """This node's CometBFT, on a network whose genesis says `engine = "cometbft"`
    (node/cometbft/): its home, written from this node's keys and genesis at every start,
    and its listeners (p2p on `p2p.listen_host`; metrics on loopback only; its RPC is a
    Unix socket in the home, node/cometbft/home.py)."""

    home: Path
    p2p_port: int = 26666
    metrics_port: int = 0
    """CometBFT's own Prometheus metrics on 127.0.0.1 (0: off)."""
    pprof_port: int = 0
    """CometBFT's Go profiler (`/debug/pprof/`) on 127.0.0.1 (0: off): for an operator
    asking what its memory or CPU is spent on. Off by default: its heap and goroutine
    dumps may hold transactions' bytes."""
    persistent_peers: tuple[str, ...] = ()
    """The other validators' CometBFT nodes, `NODE_ID@HOST:PORT` (`clearnode init` writes
    them; a node id is derived from the node key: node/cometbft/home.py)."""
    external_address: str = ""
    """`HOST:PORT` the other validators dial, when not p2p.listen_host:p2p_port."""
    restart_behind_heights: int = 20
    """Restart CometBFT, which then block-syncs, when most of its peers stay this many
    heights ahead of it for 5 s (0: never; node/cometbft/catchup.py)."""


@dataclass(frozen=True)
class ApiConfig:
    enabled: bool = True
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    max_body_bytes: int = MAX_API_BODY_BYTES
    """The JSON form of the largest transaction fits (node/limits.py)."""
    operator_enabled: bool = False
    """The operator listener: every route, and full blocks and each member's margin
    health on the public ones (node/api/tiers.py). Off unless asked for."""
    operator_listen_host: str = "127.0.0.1"
    operator_listen_port: int = 8081


@dataclass(frozen=True)
class MetricsConfig:
    # served at /metrics of the API listener
    enabled: bool = True


@dataclass(frozen=True)
class StorageConfig:
    """Where the node keeps its data, and how much of it (node/retention.py): the newest
    `blocks_kept` blocks and the history of the newest `history_blocks_kept` (0: all, an
    archive node)."""

    path: Path
    wal_path: Path
    snapshot_interval: int = 100
    snapshots_kept: int = 3
    blocks_kept: int = 1_000_000
    history_blocks_kept: int = 0


@dataclass(frozen=True)
class MempoolConfig:
    max_txs: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    max_tx_bytes: int = MAX_MEMPOOL_TX_BYTES


@dataclass(frozen=True)
class ReportsConfig:
    # build, sign and serve each epoch's solvency report (node/reports)
    enabled: bool = False
    # the validators' shared secret (validators only) and the stored reports' directory;
    # relative to the home
    seed_file: Path = Path("keys/report_seed.json")
    path: Path = Path("data/reports")
    keep: int = 10
    # the largest complete report this node serves to, or accepts from, a peer over
    # report sync (node/reports/sync.py); about 2 KiB per account
    sync_max_bytes: int = 128 * 1024 * 1024
    # validators prove each epoch's accounts between them (node/reports/sharing.py): once
    # its own share is proven, how long a validator waits for the others' before it
    # proves what has not arrived itself
    share_wait_s: int = 60


POLL_INTERVAL_MS_BOUNDS = (10, 60_000)
"""The least and most a chain watcher's `poll_interval_ms` may be."""


@dataclass(frozen=True)
class BridgeChainConfig:
    name: str
    chain_id: int
    rpc_url: str
    vault_address: str
    confirmation_depth: int = 12
    poll_interval_ms: int = 2_000


@dataclass(frozen=True)
class BridgeConfig:
    # a deposit pooled below quorum this long and unsigned by this validator is re-observed:
    # looked up on its own chain and asked of peers (node/bridge/reobserve.py)
    reobserve_after_ms: int = 30_000
    # a validator removed or jailed signs the rotations of vaults that still trust its
    # bridge key for this many blocks, and stays an allowed peer as long (0: it stops at
    # once), so removing a third of a vault's power at once cannot leave it stuck
    rotation_grace_blocks: int = 600


ENGINE_TIMEOUTS: Mapping[str, TimeoutConfig] = {
    # The steps' as CometBFT's own config.toml ships them; a block 20 ms after the last
    # when transactions wait, one a second when idle.
    OUR_ENGINE: TimeoutConfig(commit_ms=20, empty_block_wait_ms=1_000),
    # A block as soon as the last one is committed and transactions wait (20 ms, as ours:
    # 100 ms cost a loaded height a fifth of its length), and rounds that give up on a
    # silent proposer quickly.
    # The app's PrepareProposal waits for a transaction up to the empty-block wait, as
    # ours, also after a block that changed the app hash (node/cometbft/abci.py).
    COMETBFT: TimeoutConfig(
        propose_ms=2_000,
        propose_delta_ms=500,
        prevote_ms=500,
        prevote_delta_ms=500,
        precommit_ms=500,
        precommit_delta_ms=500,
        commit_ms=20,
        empty_block_wait_ms=1_000,
    ),
}
"""Each engine's consensus timeouts, as far as the `[consensus]` table leaves them."""
CONSENSUS_KEYS = {
    "timeout_propose_ms": "propose_ms",
    "timeout_propose_delta_ms": "propose_delta_ms",
    "timeout_prevote_ms": "prevote_ms",
    "timeout_prevote_delta_ms": "prevote_delta_ms",
    "timeout_precommit_ms": "precommit_ms",
    "timeout_precommit_delta_ms": "precommit_delta_ms",
    "timeout_commit_ms": "commit_ms",
    "create_empty_blocks_interval_ms": "empty_block_wait_ms",
}
"""`[consensus]` key -> TimeoutConfig field: CometBFT's names for them, in ms."""
MAX_TIMEOUT_MS = 60_000
"""A timeout of a minute already stalls the network a minute per failed round."""


@dataclass(frozen=True)
class StateSyncConfig:
    """`[state_sync]`: a node started with an empty store takes a peer's snapshot instead
    of every block since genesis (node/statesync/), trusting it from the genesis's set,
    or from `checkpoint` (lightclient/anchor.py), within the trusting period."""

    enabled: bool = False
    checkpoint: Checkpoint | None = None
    timeout_s: int = 300
    backfill: bool = False
    """After a restore, fetch the blocks below the snapshot that `[storage]` keeps from
    peers that hold them (node/statesync/backfill.py)."""


CHECKPOINT_PATTERN = r"[1-9][0-9]*:[0-9]+:0x[0-9a-fA-F]{64}"


def _state_sync(t: ConfigTable) -> StateSyncConfig:
    text = t.text("checkpoint", "", expected="empty, or HEIGHT:TIME_MS:0xHASH")
    if text and not re.fullmatch(CHECKPOINT_PATTERN, text):
        raise t.fail("checkpoint", "empty, or HEIGHT:TIME_MS:0xHASH", text)
    return StateSyncConfig(
        enabled=t.flag("enabled", StateSyncConfig.enabled),
        checkpoint=Checkpoint.parse(text) if text else None,
        timeout_s=t.integer("timeout_s", StateSyncConfig.timeout_s, lo=10, hi=3600),
        backfill=t.flag("backfill", StateSyncConfig.backfill),
    )


@dataclass(frozen=True)
class ConsensusConfig:
    """The `[consensus]` table: the timeouts it sets, by TimeoutConfig field. The engine is
    the genesis's, which the loader does not read: `get_timeouts` fills in the rest with
    that engine's."""

    timeouts_ms: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class NodeConfig:
    home: Path
    chain_id: int
    moniker: str
    genesis_file: Path
    node_key_file: Path
    validator_key_file: Path
    bridge_key_file: Path
    operator_token_file: Path
    """The operator listener's bearer token (node/keys.py): every request to it carries it."""
    storage: StorageConfig
    p2p: P2PConfig = field(default_factory=P2PConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    mempool: MempoolConfig = field(default_factory=MempoolConfig)
    oracle: OracleConfig = field(default_factory=OracleConfig)
    reports: ReportsConfig = field(default_factory=ReportsConfig)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    bridge_chains: tuple[BridgeChainConfig, ...] = ()
    cometbft: CometBFTConfig | None = None
    state_sync: StateSyncConfig = field(default_factory=StateSyncConfig)
    """Read from the `[cometbft]` table (its defaults when absent): used only when the
    genesis's engine is CometBFT."""
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    log_level: str = "info"
    config_file: Path | None = None

    @property
    def retention(self) -> Retention:
        """What this node's store keeps (node/retention.py)."""
        return Retention(
            self.storage.blocks_kept, self.storage.history_blocks_kept, self.reports.keep
        )


def _api(t: ConfigTable) -> ApiConfig:
    api = _read_api(t)
    shared = (api.listen_host, api.listen_port) == (
        api.operator_listen_host,
        api.operator_listen_port,
    )
    if api.operator_enabled and shared and api.listen_port != 0:
        raise t.fail(
            "operator_listen_port",
            "a port other than the public listener's",
            api.operator_listen_port,
        )
    return api


def _read_api(t: ConfigTable) -> ApiConfig:
    return ApiConfig(
        enabled=t.flag("enabled", ApiConfig.enabled),
        listen_host=t.text("listen_host", ApiConfig.listen_host),
        listen_port=t.integer("listen_port", ApiConfig.listen_port, hi=65535),
        max_body_bytes=t.integer("max_body_bytes", ApiConfig.max_body_bytes, lo=1024),
        operator_enabled=t.flag("operator_enabled", ApiConfig.operator_enabled),
        operator_listen_host=t.text("operator_listen_host", ApiConfig.operator_listen_host),
        operator_listen_port=t.integer(
            "operator_listen_port", ApiConfig.operator_listen_port, hi=65535
        ),
    )


RETIRED_RPC_PORT = (
    "no such key: CometBFT's RPC is the Unix socket rpc.sock in its home, for the node's "
    'user alone (docs/operator.md, "CometBFT\'s RPC"); delete the line'
)


def _cometbft(home: Path) -> Callable[[ConfigTable], CometBFTConfig]:
    def build(t: ConfigTable) -> CometBFTConfig:
        if "rpc_port" in t.data:  # a home written before the RPC left loopback TCP
            raise t.fail("rpc_port", RETIRED_RPC_PORT, t.data["rpc_port"])
        peers = t.list_of("persistent_peers", str, "a CometBFT peer NODE_ID@HOST:PORT")
        for index, peer in enumerate(peers):
            found = re.fullmatch(r"[0-9a-f]{40}@[^\s@:]+:(\d{1,5})", peer)
            if found is None or not 1 <= int(found.group(1)) <= 65535:
                raise t.fail(
                    f"persistent_peers[{index}]", "NODE_ID@HOST:PORT (40 hex digits)", peer
                )
        return CometBFTConfig(
            home=t.path("home", home, "cometbft"),
            p2p_port=t.integer("p2p_port", CometBFTConfig.p2p_port, hi=65535),
            metrics_port=t.integer("metrics_port", CometBFTConfig.metrics_port, hi=65535),
            pprof_port=t.integer("pprof_port", CometBFTConfig.pprof_port, hi=65535),
            persistent_peers=peers,
            external_address=t.text(
                "external_address", "", pattern=r"|[^\s@:]+:\d{1,5}", expected="HOST:PORT"
            ),
            restart_behind_heights=t.integer(
                "restart_behind_heights", CometBFTConfig.restart_behind_heights
            ),
        )

    return build


def _consensus(t: ConfigTable) -> ConsensusConfig:
    """Only the keys given: each left out is the engine's, noted with each engine's value."""
    expected = f"an integer between 1 and {MAX_TIMEOUT_MS} (ms)"
    given = []
    for key, name in CONSENSUS_KEYS.items():
        ours, comet = (getattr(ENGINE_TIMEOUTS[e], name) for e in (OUR_ENGINE, COMETBFT))
        t.note(key, expected, ours if ours == comet else f"`{ours}`; CometBFT `{comet}`")
        t.used.add(key)
        if key in t.data:
            given.append((name, t.integer(key, lo=1, hi=MAX_TIMEOUT_MS)))
    return ConsensusConfig(tuple(given))


def get_timeouts(config: NodeConfig, engine: str) -> TimeoutConfig:
    """The consensus timeouts of `config`'s node on `engine`: what `[consensus]` sets, the
    engine's defaults for the rest. ConfigError if the proposer's wait for a transaction is
    not below the propose timeout, naming the key the table sets: on our engine the other
    validators would give up on the proposal first."""
    given = dict(config.consensus.timeouts_ms)
    timeouts = replace(ENGINE_TIMEOUTS[engine], **given)
    wait, propose = timeouts.empty_block_wait_ms, timeouts.propose_ms
    if wait < propose:
        return timeouts
    file, default = config.config_file or config.home, f", the {engine} engine's default"
    if "empty_block_wait_ms" in given:
        origin = "" if "propose_ms" in given else default
        expected = f"below consensus.timeout_propose_ms ({propose}{origin})"
        raise ConfigError(file, "consensus.create_empty_blocks_interval_ms", expected, wait)
    expected = f"above consensus.create_empty_blocks_interval_ms ({wait}{default})"
    raise ConfigError(file, "consensus.timeout_propose_ms", expected, propose)


def _metrics(t: ConfigTable) -> MetricsConfig:
    return MetricsConfig(enabled=t.flag("enabled", MetricsConfig.enabled))


def _storage(home: Path) -> Callable[[ConfigTable], StorageConfig]:
    def build(t: ConfigTable) -> StorageConfig:
        return StorageConfig(
            path=t.path("path", home, "data/node.sqlite3"),
            wal_path=t.path("consensus_wal", home, "data/consensus.wal"),
            snapshot_interval=t.integer("snapshot_interval", StorageConfig.snapshot_interval, lo=1),
            snapshots_kept=t.integer("snapshots_kept", StorageConfig.snapshots_kept, lo=1),
            blocks_kept=_blocks_kept(t, "blocks_kept", StorageConfig.blocks_kept),
            history_blocks_kept=_blocks_kept(
                t, "history_blocks_kept", StorageConfig.history_blocks_kept
            ),
        )

    return build


def _blocks_kept(t: ConfigTable, name: str, default: int) -> int:
    expected = f"0 (keep all) or an integer >= {MIN_BLOCKS_KEPT}"
    t.note(name, expected, default)
    value = t._get(name, int, expected, default)
    if value != 0 and value < MIN_BLOCKS_KEPT:
        raise t.fail(name, expected, value)
    return value


def _mempool(t: ConfigTable) -> MempoolConfig:
    return MempoolConfig(
        max_txs=t.integer("max_txs", MempoolConfig.max_txs, lo=1),
        max_bytes=t.integer("max_bytes", MempoolConfig.max_bytes, lo=1),
        max_tx_bytes=t.integer(
            "max_tx_bytes", MempoolConfig.max_tx_bytes, lo=1, hi=MAX_MEMPOOL_TX_BYTES
        ),
    )


def _reports(home: Path) -> Callable[[ConfigTable], ReportsConfig]:
    def build(t: ConfigTable) -> ReportsConfig:
        return ReportsConfig(
            enabled=t.flag("enabled", ReportsConfig.enabled),
            seed_file=t.path("seed_file", home, str(ReportsConfig.seed_file)),
            path=t.path("path", home, str(ReportsConfig.path)),
            keep=t.integer("keep", ReportsConfig.keep, lo=1),
            sync_max_bytes=t.integer(
                "sync_max_bytes", ReportsConfig.sync_max_bytes, lo=1, hi=1 << 31
            ),
            share_wait_s=t.integer("share_wait_s", ReportsConfig.share_wait_s, lo=0, hi=3600),
        )

    return build


def _bridge(t: ConfigTable) -> BridgeConfig:
    after = t.integer("reobserve_after_ms", BridgeConfig.reobserve_after_ms, lo=100)
    grace = t.integer("rotation_grace_blocks", BridgeConfig.rotation_grace_blocks, lo=0)
    return BridgeConfig(reobserve_after_ms=after, rotation_grace_blocks=grace)


def _bridge_chain(t: ConfigTable) -> BridgeChainConfig:
    return BridgeChainConfig(
        name=t.text("name", pattern=r"[A-Za-z0-9_-]+"),
        chain_id=t.integer("chain_id", lo=1),
        rpc_url=t.text("rpc_url", pattern=r"(https?|wss?)://\S+"),
        vault_address=t.text("vault_address", pattern=r"0x[0-9a-fA-F]{40}"),
        confirmation_depth=t.integer("confirmation_depth", 12),
        poll_interval_ms=t.integer(
            "poll_interval_ms", BridgeChainConfig.poll_interval_ms, *POLL_INTERVAL_MS_BOUNDS
        ),
    )


def parse_config(
    data: Mapping[str, Any],
    file: Path,
    home: Path,
    reads: dict[tuple[str, str], KeyRead] | None = None,
) -> NodeConfig:
    """Build a NodeConfig from parsed TOML; raise ConfigError at the first bad key. Each
    key read is noted in `reads` when given (node/reference/tables.py's key table)."""
    t = ConfigTable(file, "", data, reads=reads)
    keys = t.table("keys")
    config = NodeConfig(
        home=home,
        chain_id=t.integer("chain_id", lo=1),
        moniker=t.text("moniker", pattern=r"[A-Za-z0-9_.-]{1,64}"),
        genesis_file=t.path("genesis_file", home, "genesis.json"),
        node_key_file=keys.path("node_key_file", home, HOME_KEY_FILES[NODE_KEY]),
        validator_key_file=keys.path("validator_key_file", home, HOME_KEY_FILES[VALIDATOR_KEY]),
        bridge_key_file=keys.path("bridge_key_file", home, HOME_KEY_FILES[BRIDGE_KEY]),
        operator_token_file=keys.path("operator_token_file", home, HOME_OPERATOR_TOKEN_FILE),
        log_level=t.choice("log_level", LOG_LEVELS, "info"),
        p2p=read_table(t.table("p2p"), read_p2p),
        api=read_table(t.table("api"), _api),
        metrics=read_table(t.table("metrics"), _metrics),
        storage=read_table(t.table("storage"), _storage(home)),
        mempool=read_table(t.table("mempool"), _mempool),
        oracle=read_table(t.table("oracle"), read_oracle(home)),
        reports=read_table(t.table("reports"), _reports(home)),
        bridge=read_table(t.table("bridge"), _bridge),
        bridge_chains=tuple(read_table(c, _bridge_chain) for c in t.tables("bridge_chains")),
        cometbft=read_table(t.table("cometbft"), _cometbft(home)),
        state_sync=read_table(t.table("state_sync"), _state_sync),
        consensus=read_table(t.table("consensus"), _consensus),
        config_file=file,
    )
    keys.check_no_unknown_keys()
    t.check_no_unknown_keys()
    _check_cross_references(config, file)
    return config


def _check_cross_references(config: NodeConfig, file: Path) -> None:
    names = [c.name for c in config.bridge_chains]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ConfigError(file, f"bridge_chains[{index}].name", "a unique chain name", name)
    for index, source in enumerate(config.oracle.sources):
        if source.kind == "evm" and source.chain not in names:
            raise ConfigError(
                file,
                f"oracle.sources[{index}].chain",
                f"a name from bridge_chains {names}",
                source.chain,
            )
        if source.kind == "evm" and not _get_chain(config, source.chain).rpc_url.startswith("http"):
            raise ConfigError(
                file,
                f"oracle.sources[{index}].chain",
                "a bridge chain whose rpc_url is http(s) (feeds are read over HTTP)",
                source.chain,
            )
    if config.mempool.max_tx_bytes > config.mempool.max_bytes:
        raise ConfigError(
            file,
            "mempool.max_tx_bytes",
            f"at most mempool.max_bytes = {config.mempool.max_bytes}",
            config.mempool.max_tx_bytes,
        )


def _get_chain(config: NodeConfig, name: str) -> BridgeChainConfig:
    return next(c for c in config.bridge_chains if c.name == name)


def load_config(home: Path, file: Path | None = None) -> NodeConfig:
    """Read `<home>/config.toml` (or `file`); raise ConfigError naming file and key."""
    path = file if file is not None else home / CONFIG_FILE_NAME
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, "(file)", "a readable TOML file", exc.strerror) from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "(syntax)", "valid UTF-8 TOML", str(exc)) from exc
    return parse_config(data, path, home.resolve())

"""The node's own configuration: `config.toml` in the node's home → frozen records.

Every key is read through `_Table`, which knows the file and the dotted key path,
so a bad value is reported as "file, key, what was expected, what was found".
Unknown keys are errors too: a typo must not silently fall back to a default.
Relative paths in the file are resolved against the home directory.

Validated by hand rather than with pydantic (issue #19): the same schema in pydantic
needs as many lines once its errors are translated into these and its models turned into
these records, and the translation leans on pydantic's error names; `python -m bench
config_schema` measures both.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from consensus.state_machine import TimeoutConfig
from lightclient.anchor import COMETBFT, OUR_ENGINE, Checkpoint
from node.keys import (
    BRIDGE_KEY,
    HOME_KEY_FILES,
    HOME_OPERATOR_TOKEN_FILE,
    NODE_KEY,
    VALIDATOR_KEY,
    check_peer_id,
)
from node.limits import MAX_API_BODY_BYTES, MAX_MEMPOOL_TX_BYTES
from node.retention import MIN_BLOCKS_KEPT

CONFIG_FILE_NAME = "config.toml"
LOG_LEVELS = ("debug", "info", "warning", "error")
ORACLE_SOURCE_KINDS = ("simulator", "replay", "http", "evm")

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is missing or wrong; names the file, the key and what is expected."""

    def __init__(self, file: Path, key: str, expected: str, found: object = None) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        self.found = found
        detail = "" if found is None else f", found {found!r}"
        super().__init__(f"{file}: key '{key}': expected {expected}{detail}")


P2P_ADDRESS = r"/(ip4|ip6|dns|dns4|dns6)/([^/\s]+)/tcp/([0-9]{1,5})"
"""A dialable p2p address: a multiaddr host and TCP port, without its /p2p/<peer id>."""
UNSPECIFIED_HOSTS = ("0.0.0.0", "::")
"""Listen hosts meaning every interface: no peer can dial them."""
DNS_NAME = r"(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?)+"


def check_p2p_address(text: str) -> str:
    """`text` if other validators can dial it: a multiaddr host and TCP port, no /p2p part,
    not an unspecified (listen-on-all) address; ValueError saying why not."""
    found = re.fullmatch(P2P_ADDRESS, text)
    if found is None:
        raise ValueError(f"{text!r} is not /ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT")
    protocol, host, port = found.groups()
    if protocol in ("ip4", "ip6"):
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IP address") from None
        if address.version != int(protocol[-1]):
            raise ValueError(f"{text!r}: {host!r} is not an IPv{protocol[-1]} address")
    elif re.fullmatch(DNS_NAME, host) is None:
        raise ValueError(f"{text!r}: {host!r} is not a DNS name")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: port {port} is not in 1..65535")
    if host in UNSPECIFIED_HOSTS:
        raise ValueError(f"{text!r} is an unspecified address no peer can dial")
    return text


def check_peer_address(text: str) -> str:
    """`text` if the node can dial it as a persistent peer: a dialable address (as
    `check_p2p_address`) then `/p2p/` and the peer's id; ValueError saying why not."""
    address, separator, peer = text.rpartition("/p2p/")
    if not separator:
        raise ValueError(f"{text!r} has no /p2p/<peer id> part")
    try:
        check_p2p_address(address)
        check_peer_id(peer)
    except ValueError as exc:
        raise ValueError(f"in {text!r}: {exc}") from None
    return text


@dataclass(frozen=True)
class P2PConfig:
    listen_host: str = "0.0.0.0"
    listen_port: int = 26656
    # multiaddrs with /p2p/<peer id>, dialled and re-dialled by the node
    persistent_peers: tuple[str, ...] = ()
    observers: tuple[str, ...] = ()
    """Peer ids of the full nodes allowed to connect besides the genesis validators."""
    external_address: str = ""
    """Where the other validators dial this node (a multiaddr without /p2p), when not
    listen_host:listen_port: `clearnode genesis contribution` announces it."""


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
class EvmFeedConfig:
    """One price-feed contract of an evm source: the price id it gives, the decimals the
    contract must report, and how many ledger price units one whole unit of its answer is."""

    symbol: str
    address: str
    decimals: int
    scale: Fraction


@dataclass(frozen=True)
class OracleSourceConfig:
    """One price source. `kind` picks which of the other fields apply (see node.example.toml)."""

    kind: str
    symbols: tuple[str, ...]
    # simulator
    seed: int = 0
    start_prices: tuple[int, ...] = ()
    max_step_bps: int = 50
    # the simulated path moves once per step_ms of wall-clock time
    step_ms: int = 1_000
    # from unix ms shock_at_ms on, every simulated price is scaled by (10_000 + shock_bps) / 10_000
    shock_at_ms: int | None = None
    shock_bps: int = 0
    # or from the unix ms written in this file at run time (absent: no shock yet)
    shock_file: Path | None = None
    # replay
    path: Path | None = None
    # http
    url: str = ""
    # symbol -> dotted path in the JSON answer, e.g. "data.BTC.price"
    json_paths: tuple[tuple[str, str], ...] = ()
    decimals: int = 8
    # http and evm: a read not answered within this is this round's failure
    timeout_ms: int = 2_000
    # evm: a [[bridge_chains]] name, one feed per symbol, and the oldest updatedAt accepted
    chain: str = ""
    feeds: tuple[EvmFeedConfig, ...] = ()
    max_age_ms: int = 3_600_000


@dataclass(frozen=True)
class OracleConfig:
    enabled: bool = True
    interval_ms: int = 1_000
    sources: tuple[OracleSourceConfig, ...] = ()


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
    # CometBFT skips the idle wait once after a block that changed the app hash (its
    # `needProofBlock`: the next header must commit the new hash), so a block that
    # changed the state is followed at once by an empty one; the state root commits to
    # neither height nor time, so after that one an idle network waits its second.
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


def _state_sync(t: _Table) -> StateSyncConfig:
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


@dataclass(frozen=True)
class KeyRead:
    """One key as the loader read it, in its own words: what a reference table lists."""

    key: str
    """Dotted, with `[]` for an array of tables and `<symbol>` for a table per symbol."""
    scope: str
    """Where the key applies when not everywhere its table does, e.g. `kind = "http"`."""
    expected: str
    default: object
    """None when the key is required."""


class _Table:
    """A TOML table with the file and key prefix, so every error can name both.

    Each key it reads is also noted in `reads` (shared by its sub-tables) under its
    generic name, so the operator guide's key table is made from the loader itself."""

    def __init__(
        self,
        file: Path,
        prefix: str,
        data: Mapping[str, Any],
        doc_prefix: str | None = None,
        reads: dict[tuple[str, str], KeyRead] | None = None,
    ) -> None:
        self.file = file
        self.prefix = prefix
        self.data = data
        self.used: set[str] = set()
        self.doc_prefix = prefix if doc_prefix is None else doc_prefix
        self.scope = ""
        self.names_are: str | None = None
        """The generic name of this table's keys when data names them, e.g. `<symbol>`."""
        self.reads: dict[tuple[str, str], KeyRead] = {} if reads is None else reads

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, expected: str, found: object = None) -> ConfigError:
        return ConfigError(self.file, self.key(name), expected, found)

    def note(self, name: str, expected: str, default: object) -> None:
        """The first note of a key stands: a caller may describe a key before reading it."""
        key = f"{self.doc_prefix}{name if self.names_are is None else self.names_are}"
        self.reads.setdefault((key, self.scope), KeyRead(key, self.scope, expected, default))

    def _get(self, name: str, kind: type[T], expected: str, default: T | None) -> T:
        self.used.add(name)
        if name not in self.data:
            if default is None:
                raise self.fail(name, f"{expected} (required, missing)")
            return default
        value = self.data[name]
        # bool is an int subclass: an int key must not accept `true`
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(name, expected, value)
        return value

    def text(
        self,
        name: str,
        default: str | None = None,
        pattern: str | None = None,
        expected: str | None = None,
    ) -> str:
        """`expected`: how a reference names the value when the caller checks it further."""
        matching = "a string" if pattern is None else f"a string matching {pattern}"
        self.note(name, matching if expected is None else expected, default)
        value = self._get(name, str, "a string", default)
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.fail(name, matching if expected is None else expected, value)
        return value

    def integer(
        self, name: str, default: int | None = None, lo: int = 0, hi: int | None = None
    ) -> int:
        span = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        self.note(name, f"an integer {span}", default)
        value = self._get(name, int, "an integer", default)
        if value < lo or (hi is not None and value > hi):
            raise self.fail(name, f"an integer {span}", value)
        return value

    def flag(self, name: str, default: bool | None = None) -> bool:
        self.note(name, "true or false", default)
        return self._get(name, bool, "true or false", default)

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        expected = f"one of {', '.join(options)}"
        value = self.text(name, default, expected=expected)
        if value not in options:
            raise self.fail(name, expected, value)
        return value

    def list_of(
        self, name: str, kind: type[T], what: str, default: tuple[T, ...] = ()
    ) -> tuple[T, ...]:
        self.note(name, f"a list of {what}", list(default))
        value = self._get(name, list, f"a list of {what}", list(default))
        for index, item in enumerate(value):
            if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
                raise ConfigError(self.file, f"{self.key(name)}[{index}]", what, item)
        return tuple(value)

    def path(self, name: str, home: Path, default: str | None = None) -> Path:
        text = self.text(name, default, expected="a path (relative: to the home)")
        value = Path(text).expanduser()
        return value if value.is_absolute() else home / value

    def table(self, name: str, doc_name: str | None = None) -> _Table:
        """`doc_name`: the generic name of a table named by data, e.g. `<symbol>`."""
        value = self._get(name, dict, "a table", {})
        doc_prefix = f"{self.doc_prefix}{name if doc_name is None else doc_name}."
        sub = _Table(self.file, f"{self.key(name)}.", value, doc_prefix, self.reads)
        sub.scope = self.scope
        return sub

    def tables(self, name: str) -> list[_Table]:
        self.note(name, "an array of tables ([[...]])", [])
        value = self._get(name, list, "an array of tables ([[...]])", [])
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise ConfigError(self.file, f"{self.key(name)}[{index}]", "a table", item)
            prefix, doc_prefix = f"{self.key(name)}[{index}].", f"{self.doc_prefix}{name}[]."
            out.append(_Table(self.file, prefix, item, doc_prefix, self.reads))
        return out

    def check_no_unknown_keys(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"a known key (known: {', '.join(sorted(self.used))})")


def _read(t: _Table, build: Callable[[_Table], T]) -> T:
    value = build(t)
    t.check_no_unknown_keys()
    return value


def _p2p(t: _Table) -> P2PConfig:
    return P2PConfig(
        listen_host=t.text("listen_host", P2PConfig.listen_host),
        listen_port=t.integer("listen_port", P2PConfig.listen_port, hi=65535),
        persistent_peers=_peer_addresses(t, "persistent_peers"),
        observers=_peer_ids(t, "observers"),
        external_address=_external_address(t),
    )


def _external_address(t: _Table) -> str:
    expected = "a dialable multiaddr /ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT (no /p2p, not 0.0.0.0)"
    text = t.text("external_address", "", expected=expected)
    try:
        return text and check_p2p_address(text)
    except ValueError as exc:
        raise t.fail("external_address", f"a dialable multiaddr ({exc})", text) from None


def _peer_addresses(t: _Table, name: str) -> tuple[str, ...]:
    expected = "a peer's multiaddr /ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT/p2p/PEER_ID"
    addresses = t.list_of(name, str, expected)
    for index, text in enumerate(addresses):
        try:
            check_peer_address(text)
        except ValueError as exc:
            raise ConfigError(t.file, f"{t.key(name)}[{index}]", expected, str(exc)) from None
    return addresses


def _peer_ids(t: _Table, name: str) -> tuple[str, ...]:
    ids = t.list_of(name, str, "a libp2p peer id string")
    for index, text in enumerate(ids):
        try:
            check_peer_id(text)
        except ValueError as exc:
            raise ConfigError(
                t.file, f"{t.key(name)}[{index}]", "a libp2p peer id", str(exc)
            ) from None
    return ids


def _api(t: _Table) -> ApiConfig:
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


def _read_api(t: _Table) -> ApiConfig:
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


def _cometbft(home: Path) -> Callable[[_Table], CometBFTConfig]:
    def build(t: _Table) -> CometBFTConfig:
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


def _consensus(t: _Table) -> ConsensusConfig:
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


def _metrics(t: _Table) -> MetricsConfig:
    return MetricsConfig(enabled=t.flag("enabled", MetricsConfig.enabled))


def _storage(home: Path) -> Callable[[_Table], StorageConfig]:
    def build(t: _Table) -> StorageConfig:
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


def _blocks_kept(t: _Table, name: str, default: int) -> int:
    expected = f"0 (keep all) or an integer >= {MIN_BLOCKS_KEPT}"
    t.note(name, expected, default)
    value = t._get(name, int, expected, default)
    if value != 0 and value < MIN_BLOCKS_KEPT:
        raise t.fail(name, expected, value)
    return value


def _mempool(t: _Table) -> MempoolConfig:
    return MempoolConfig(
        max_txs=t.integer("max_txs", MempoolConfig.max_txs, lo=1),
        max_bytes=t.integer("max_bytes", MempoolConfig.max_bytes, lo=1),
        max_tx_bytes=t.integer(
            "max_tx_bytes", MempoolConfig.max_tx_bytes, lo=1, hi=MAX_MEMPOOL_TX_BYTES
        ),
    )


def _oracle_source(home: Path) -> Callable[[_Table], OracleSourceConfig]:
    def build(t: _Table) -> OracleSourceConfig:
        kind = t.choice("kind", ORACLE_SOURCE_KINDS)
        symbols = t.list_of("symbols", str, "a symbol string such as BTC-USD")
        if not symbols:
            raise t.fail("symbols", "a non-empty list of symbols")
        t.scope = f'kind = "{kind}"'
        if kind == "simulator":
            prices = t.list_of("start_prices", int, "a positive integer price")
            if len(prices) != len(symbols) or any(p <= 0 for p in prices):
                raise t.fail(
                    "start_prices",
                    f"{len(symbols)} positive integers, one per symbol",
                    list(prices),
                )
            return OracleSourceConfig(
                kind=kind,
                symbols=symbols,
                seed=t.integer("seed", 0),
                start_prices=prices,
                max_step_bps=t.integer("max_step_bps", 50, lo=1, hi=10_000),
                step_ms=t.integer("step_ms", OracleSourceConfig.step_ms, lo=1),
                **_shock(t, home),
            )
        if kind == "replay":
            return OracleSourceConfig(kind=kind, symbols=symbols, path=t.path("path", home))
        if kind == "http":
            url = t.text("url", pattern=r"https?://\S+")
            paths = t.table("json_paths")
            paths.names_are = "<symbol>"
            paths.note("<symbol>", "a string: a dotted path in the JSON answer", None)
            json_paths = tuple((s, paths.text(s)) for s in symbols)
            paths.check_no_unknown_keys()
            return OracleSourceConfig(
                kind=kind,
                symbols=symbols,
                url=url,
                json_paths=json_paths,
                decimals=t.integer("decimals", 8, hi=36),
                timeout_ms=t.integer("timeout_ms", 2_000, lo=1),
            )
        feeds = t.table("feeds")
        source = OracleSourceConfig(
            kind=kind,
            symbols=symbols,
            chain=t.text("chain"),
            feeds=tuple(_read(feeds.table(s, "<symbol>"), _evm_feed(s)) for s in symbols),
            max_age_ms=t.integer("max_age_ms", OracleSourceConfig.max_age_ms, lo=1_000),
            timeout_ms=t.integer("timeout_ms", OracleSourceConfig.timeout_ms, lo=1),
        )
        feeds.check_no_unknown_keys()
        return source

    return build


def _evm_feed(symbol: str) -> Callable[[_Table], EvmFeedConfig]:
    def build(t: _Table) -> EvmFeedConfig:
        return EvmFeedConfig(
            symbol=symbol,
            address=t.text("address", pattern=r"0x[0-9a-fA-F]{40}"),
            decimals=t.integer("decimals", 8, hi=36),
            scale=_exact_number(t, "scale"),
        )

    return build


def _exact_number(t: _Table, name: str) -> Fraction:
    """A positive exact number: an integer, or a decimal string such as "0.001" (a TOML
    float is refused: it is binary, so 0.1 is not 1/10)."""
    value = t.data.get(name)
    t.used.add(name)
    expected = 'a positive integer or decimal string such as "0.001"'
    t.note(name, f"{expected} (a TOML float is refused)", None)
    if value is None:
        raise t.fail(name, f"{expected} (required, missing)")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise t.fail(name, expected, value)
    try:
        number = Fraction(Decimal(value))
    except (InvalidOperation, ValueError, OverflowError):  # not a number, NaN, Infinity
        raise t.fail(name, expected, value) from None
    if number <= 0:
        raise t.fail(name, expected, value)
    return number


SHOCK_BPS_RANGE = (-9_999, 100_000)


def _shock(t: _Table, home: Path) -> dict[str, Any]:
    """A devnet's scheduled price shock: `shock_bps` with its instant, either fixed
    (`shock_at_ms`) or written at run time into `shock_file` by whoever schedules it."""
    t.used.update(("shock_at_ms", "shock_file", "shock_bps"))  # known even when left out
    instant = "exactly one of shock_at_ms and shock_file, when shock_bps is set"
    t.note("shock_at_ms", f"an integer >= 0 (unix ms; {instant})", "none")
    t.note("shock_file", f"a path (relative: to the home; {instant})", "none")
    t.note("shock_bps", f"an integer between {SHOCK_BPS_RANGE[0]} and {SHOCK_BPS_RANGE[1]}", 0)
    given = [key for key in ("shock_at_ms", "shock_file") if key in t.data]
    if not given and "shock_bps" not in t.data:
        return {}
    if len(given) != 1:
        one = "a unix time in ms, or shock_file, when shock_bps is set (exactly one"
        if not given:
            raise t.fail("shock_at_ms", f"{one}; required, missing)")
        raise t.fail("shock_at_ms", f"{one})", "both")
    bps = t.integer("shock_bps", lo=SHOCK_BPS_RANGE[0], hi=SHOCK_BPS_RANGE[1])
    if given == ["shock_file"]:
        return {"shock_file": t.path("shock_file", home), "shock_bps": bps}
    return {"shock_at_ms": t.integer("shock_at_ms"), "shock_bps": bps}


def _oracle(home: Path) -> Callable[[_Table], OracleConfig]:
    def build(t: _Table) -> OracleConfig:
        return OracleConfig(
            enabled=t.flag("enabled", OracleConfig.enabled),
            interval_ms=t.integer("interval_ms", OracleConfig.interval_ms, lo=10),
            sources=tuple(_read(s, _oracle_source(home)) for s in t.tables("sources")),
        )

    return build


def _reports(home: Path) -> Callable[[_Table], ReportsConfig]:
    def build(t: _Table) -> ReportsConfig:
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


def _bridge(t: _Table) -> BridgeConfig:
    after = t.integer("reobserve_after_ms", BridgeConfig.reobserve_after_ms, lo=100)
    grace = t.integer("rotation_grace_blocks", BridgeConfig.rotation_grace_blocks, lo=0)
    return BridgeConfig(reobserve_after_ms=after, rotation_grace_blocks=grace)


def _bridge_chain(t: _Table) -> BridgeChainConfig:
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
    key read is noted in `reads` when given (node/reference.py's key table)."""
    t = _Table(file, "", data, reads=reads)
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
        p2p=_read(t.table("p2p"), _p2p),
        api=_read(t.table("api"), _api),
        metrics=_read(t.table("metrics"), _metrics),
        storage=_read(t.table("storage"), _storage(home)),
        mempool=_read(t.table("mempool"), _mempool),
        oracle=_read(t.table("oracle"), _oracle(home)),
        reports=_read(t.table("reports"), _reports(home)),
        bridge=_read(t.table("bridge"), _bridge),
        bridge_chains=tuple(_read(c, _bridge_chain) for c in t.tables("bridge_chains")),
        cometbft=_read(t.table("cometbft"), _cometbft(home)),
        state_sync=_read(t.table("state_sync"), _state_sync),
        consensus=_read(t.table("consensus"), _consensus),
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

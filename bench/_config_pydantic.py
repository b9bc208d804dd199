"""`node/config.py`'s schema written with pydantic v2, for the config_schema benchmark
(issue #19): the TOML's shape as models, their errors translated into `ConfigError`, and
the models turned into the node's records. Not used by the node.

It reuses what both loaders need alike: the records, `ConfigError`, file reading and
`_check_cross_references` (node/config.py). Checks that span fields and must name one
key (a port clash, the shock pair, one json path or feed per symbol) are made on the
models after validation, where the index of the source is known."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from node.config import (
    LOG_LEVELS,
    ApiConfig,
    BridgeChainConfig,
    BridgeConfig,
    MempoolConfig,
    MetricsConfig,
    NodeConfig,
    ReportsConfig,
    StorageConfig,
    _check_cross_references,
)
from node.config_table import ConfigError
from node.keys import (
    BRIDGE_KEY,
    HOME_KEY_FILES,
    HOME_OPERATOR_TOKEN_FILE,
    NODE_KEY,
    VALIDATOR_KEY,
    check_peer_id,
)
from node.limits import MAX_MEMPOOL_TX_BYTES
from node.oracle_config import (
    ORACLE_SOURCE_KINDS,
    SHOCK_BPS_RANGE,
    EvmFeedConfig,
    OracleConfig,
    OracleSourceConfig,
)
from node.p2p_config import P2PConfig


def _range(lo: int, hi: int | None = None) -> AfterValidator:
    """Both bounds in one message, as the node's errors give them (pydantic's own `ge`/`le`
    name only the bound that failed)."""
    span = f"between {lo} and {hi}" if hi is not None else f">= {lo}"

    def check(value: int) -> int:
        if value < lo or (hi is not None and value > hi):
            raise PydanticCustomError("range", "an integer {span}", {"span": span})
        return value

    return AfterValidator(check)


def _peer_id(text: str) -> str:
    try:
        return check_peer_id(text)
    except ValueError as exc:
        raise PydanticCustomError("peer_id", "a libp2p peer id: {why}", {"why": str(exc)}) from None


def _exact(value: object) -> Fraction:
    expected = 'a positive integer or decimal string such as "0.001"'
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError("exact", expected)
    try:
        number = Fraction(Decimal(value))
    except (InvalidOperation, ValueError, OverflowError):
        raise PydanticCustomError("exact", expected) from None
    if number <= 0:
        raise PydanticCustomError("exact", expected)
    return number


Port = Annotated[StrictInt, _range(0, 65535)]
Positive = Annotated[StrictInt, _range(1)]
Natural = Annotated[StrictInt, _range(0)]
Decimals = Annotated[StrictInt, _range(0, 36)]
Address = Annotated[StrictStr, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
PeerId = Annotated[StrictStr, AfterValidator(_peer_id)]
Symbols = Annotated[tuple[StrictStr, ...], Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Keys(_Section):
    node_key_file: StrictStr = HOME_KEY_FILES[NODE_KEY]
    validator_key_file: StrictStr = HOME_KEY_FILES[VALIDATOR_KEY]
    bridge_key_file: StrictStr = HOME_KEY_FILES[BRIDGE_KEY]
    operator_token_file: StrictStr = HOME_OPERATOR_TOKEN_FILE


class P2P(_Section):
    listen_host: StrictStr = P2PConfig.listen_host
    listen_port: Port = P2PConfig.listen_port
    persistent_peers: tuple[StrictStr, ...] = ()
    observers: tuple[PeerId, ...] = ()


class Api(_Section):
    enabled: StrictBool = ApiConfig.enabled
    listen_host: StrictStr = ApiConfig.listen_host
    listen_port: Port = ApiConfig.listen_port
    max_body_bytes: Annotated[StrictInt, _range(1024)] = ApiConfig.max_body_bytes
    operator_enabled: StrictBool = ApiConfig.operator_enabled
    operator_listen_host: StrictStr = ApiConfig.operator_listen_host
    operator_listen_port: Port = ApiConfig.operator_listen_port


class Metrics(_Section):
    enabled: StrictBool = MetricsConfig.enabled


class Storage(_Section):
    path: StrictStr = "data/node.sqlite3"
    consensus_wal: StrictStr = "data/consensus.wal"
    snapshot_interval: Positive = StorageConfig.snapshot_interval
    snapshots_kept: Positive = StorageConfig.snapshots_kept


class Mempool(_Section):
    max_txs: Positive = MempoolConfig.max_txs
    max_bytes: Positive = MempoolConfig.max_bytes
    max_tx_bytes: Annotated[StrictInt, _range(1, MAX_MEMPOOL_TX_BYTES)] = MempoolConfig.max_tx_bytes


class Simulator(_Section):
    kind: Literal["simulator"]
    symbols: Symbols
    start_prices: tuple[StrictInt, ...]
    seed: Natural = 0
    max_step_bps: Annotated[StrictInt, _range(1, 10_000)] = 50
    step_ms: Positive = OracleSourceConfig.step_ms
    shock_at_ms: Natural | None = None
    shock_bps: Annotated[StrictInt, _range(*SHOCK_BPS_RANGE)] | None = None

    @field_validator("start_prices")
    @classmethod
    def one_price_per_symbol(cls, prices: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        symbols = info.data.get("symbols", ())
        if len(prices) != len(symbols) or any(p <= 0 for p in prices):
            raise PydanticCustomError(
                "prices", "{n} positive integers, one per symbol", {"n": len(symbols)}
            )
        return prices


class Replay(_Section):
    kind: Literal["replay"]
    symbols: Symbols
    path: StrictStr


class Http(_Section):
    kind: Literal["http"]
    symbols: Symbols
    url: Annotated[StrictStr, StringConstraints(pattern=r"^https?://\S+$")]
    json_paths: dict[str, StrictStr] = {}
    decimals: Decimals = 8
    timeout_ms: Positive = 2_000


class Feed(_Section):
    address: Address
    decimals: Decimals = 8
    scale: Annotated[Fraction, PlainValidator(_exact)]


class Evm(_Section):
    kind: Literal["evm"]
    symbols: Symbols
    chain: StrictStr
    feeds: dict[str, Feed] = {}
    max_age_ms: Annotated[StrictInt, _range(1_000)] = OracleSourceConfig.max_age_ms
    timeout_ms: Positive = OracleSourceConfig.timeout_ms


Source = Annotated[Simulator | Replay | Http | Evm, Field(discriminator="kind")]


class Oracle(_Section):
    enabled: StrictBool = OracleConfig.enabled
    interval_ms: Annotated[StrictInt, _range(10)] = OracleConfig.interval_ms
    sources: tuple[Source, ...] = ()


class Reports(_Section):
    enabled: StrictBool = ReportsConfig.enabled
    seed_file: StrictStr = str(ReportsConfig.seed_file)
    path: StrictStr = str(ReportsConfig.path)
    keep: Positive = ReportsConfig.keep
    sync_max_bytes: Annotated[StrictInt, _range(1, 1 << 31)] = ReportsConfig.sync_max_bytes
    share_wait_s: Annotated[StrictInt, _range(0, 3600)] = ReportsConfig.share_wait_s


class Bridge(_Section):
    reobserve_after_ms: Annotated[StrictInt, _range(100)] = BridgeConfig.reobserve_after_ms
    rotation_grace_blocks: Natural = BridgeConfig.rotation_grace_blocks


class BridgeChain(_Section):
    name: Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]
    chain_id: Positive
    rpc_url: Annotated[StrictStr, StringConstraints(pattern=r"^(https?|wss?)://\S+$")]
    vault_address: Address
    confirmation_depth: Natural = 12


class Root(_Section):
    chain_id: Positive
    moniker: Annotated[StrictStr, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    genesis_file: StrictStr = "genesis.json"
    log_level: Literal[LOG_LEVELS] = "info"  # type: ignore[valid-type]
    keys: Keys = Keys()
    p2p: P2P = P2P()
    api: Api = Api()
    metrics: Metrics = Metrics()
    storage: Storage = Storage()
    mempool: Mempool = Mempool()
    oracle: Oracle = Oracle()
    reports: Reports = Reports()
    bridge: Bridge = Bridge()
    bridge_chains: tuple[BridgeChain, ...] = ()


# --- pydantic's errors in the node's words: file, dotted key, expected, found ---

EXPECTED = {
    "missing": "a value (required, missing)",
    "int_type": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "tuple_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "too_short": "a non-empty list",
    "union_tag_not_found": f"a kind, one of {', '.join(ORACLE_SOURCE_KINDS)} (required, missing)",
}
SOURCE_MODELS: dict[str, type[_Section]] = dict(
    simulator=Simulator, replay=Replay, http=Http, evm=Evm
)
# the model whose keys follow each table's name in a key path
SECTION_MODELS: dict[str, type[_Section]] = {
    **{
        name: type(f.default)
        for name, f in Root.model_fields.items()
        if isinstance(f.default, _Section)
    },
    **SOURCE_MODELS,
    "bridge_chains": BridgeChain,
    "feeds": Feed,
}


def translate(error: ValidationError, file: Path) -> ConfigError:
    """The first error, as `ConfigError`: the union's tag leaves the key path, pydantic's
    messages become the node's phrases, and an unknown key lists the known ones."""
    first = error.errors(include_url=False)[0]
    loc = first["loc"]
    path = [
        p
        for i, p in enumerate(loc)
        if not (i and isinstance(loc[i - 1], int) and p in SOURCE_MODELS)
    ]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    kind, ctx, found = first["type"], first.get("ctx", {}), first["input"]
    if kind == "missing":
        return ConfigError(file, key, EXPECTED[kind])
    if kind == "extra_forbidden":
        return ConfigError(file, key, f"a known key (known: {', '.join(_known_keys(loc))})")
    if kind == "union_tag_invalid":
        return ConfigError(
            file, f"{key}.kind", f"one of {', '.join(ORACLE_SOURCE_KINDS)}", ctx["tag"]
        )
    if kind == "literal_error":
        return ConfigError(file, key, f"one of {ctx['expected'].replace(chr(39), '')}", found)
    if kind == "string_pattern_mismatch":
        return ConfigError(file, key, f"a string matching {ctx['pattern'].strip('^$')}", found)
    return ConfigError(file, key, EXPECTED.get(kind, first["msg"]), found)


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: type[_Section] = Root
    for part in loc[:-1]:
        if isinstance(part, str) and part in SECTION_MODELS:
            model = SECTION_MODELS[part]
    return sorted(model.model_fields)


# --- the models as the node's records, with the checks that name one key of several ---


def _source(index: int, source: Source, home: Path, file: Path) -> OracleSourceConfig:
    key, fields = f"oracle.sources[{index}]", dict(source)
    if isinstance(source, Simulator):
        at, bps = source.shock_at_ms, source.shock_bps
        if bps is not None and at is None:
            raise ConfigError(
                file,
                f"{key}.shock_at_ms",
                "a unix time in ms when shock_bps is set (required, missing)",
            )
        if at is not None and bps is None:
            raise ConfigError(file, f"{key}.shock_bps", "an integer (required, missing)")
        return OracleSourceConfig(**{**fields, "shock_bps": bps or 0})
    if isinstance(source, Replay):
        return OracleSourceConfig(**{**fields, "path": _at(home, source.path)})
    per_symbol = source.json_paths if isinstance(source, Http) else source.feeds
    table = f"{key}.{'json_paths' if isinstance(source, Http) else 'feeds'}"
    for symbol in source.symbols:
        if symbol not in per_symbol:
            raise ConfigError(file, f"{table}.{symbol}", "a value (required, missing)")
    for name in per_symbol:
        if name not in source.symbols:
            raise ConfigError(
                file, f"{table}.{name}", f"a known key (known: {', '.join(source.symbols)})"
            )
    if isinstance(source, Http):
        paths = tuple((s, source.json_paths[s]) for s in source.symbols)
        return OracleSourceConfig(**{**fields, "json_paths": paths})
    feeds = tuple(EvmFeedConfig(s, **dict(source.feeds[s])) for s in source.symbols)
    return OracleSourceConfig(**{**fields, "feeds": feeds})


def _at(home: Path, text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else home / path


def to_records(root: Root, home: Path, file: Path) -> NodeConfig:
    api = root.api
    shared = (api.listen_host, api.listen_port) == (
        api.operator_listen_host,
        api.operator_listen_port,
    )
    if api.operator_enabled and shared and api.listen_port != 0:
        raise ConfigError(
            file,
            "api.operator_listen_port",
            "a port other than the public listener's",
            api.operator_listen_port,
        )
    storage, reports = root.storage, root.reports
    return NodeConfig(
        home=home,
        chain_id=root.chain_id,
        moniker=root.moniker,
        genesis_file=_at(home, root.genesis_file),
        node_key_file=_at(home, root.keys.node_key_file),
        validator_key_file=_at(home, root.keys.validator_key_file),
        bridge_key_file=_at(home, root.keys.bridge_key_file),
        operator_token_file=_at(home, root.keys.operator_token_file),
        log_level=root.log_level,
        p2p=P2PConfig(**dict(root.p2p)),
        api=ApiConfig(**dict(api)),
        metrics=MetricsConfig(**dict(root.metrics)),
        storage=StorageConfig(
            path=_at(home, storage.path),
            wal_path=_at(home, storage.consensus_wal),
            snapshot_interval=storage.snapshot_interval,
            snapshots_kept=storage.snapshots_kept,
        ),
        mempool=MempoolConfig(**dict(root.mempool)),
        oracle=OracleConfig(
            enabled=root.oracle.enabled,
            interval_ms=root.oracle.interval_ms,
            sources=tuple(_source(i, s, home, file) for i, s in enumerate(root.oracle.sources)),
        ),
        reports=ReportsConfig(
            **{
                **dict(reports),
                "seed_file": _at(home, reports.seed_file),
                "path": _at(home, reports.path),
            }
        ),
        bridge=BridgeConfig(**dict(root.bridge)),
        bridge_chains=tuple(BridgeChainConfig(**dict(c)) for c in root.bridge_chains),
        config_file=file,
    )


def parse_config(data: Mapping[str, Any], file: Path, home: Path) -> NodeConfig:
    """`node.config.parse_config`'s contract, through the models."""
    try:
        root = Root.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, file) from None
    config = to_records(root, home, file)
    _check_cross_references(config, file)
    return config


def load_config(home: Path, file: Path) -> NodeConfig:
    return parse_config(tomllib.loads(file.read_text()), file, home.resolve())

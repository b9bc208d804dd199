"""Parse and validate a genesis document (a dict loaded from JSON).

Every problem raises ``GenesisError(key, expected, got)`` where ``key`` is the
dotted path into the document (``instruments[2].tick_size``). Keys starting
with ``_`` (e.g. ``_doc``) are comments and ignored. Unknown keys are errors so
that a typo never silently falls back to a default (clearing/genesis_reader.py). The
entries of records of their own are parsed beside this module: the instruments and
listing templates (clearing/instrument_docs.py), the settlement asset and collateral
tokens (clearing/asset_docs.py); this one reads the rest and checks the whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated, Any

from clearing.asset_docs import parse_collateral, parse_settlement_asset
from clearing.assets import (
    CollateralKey,
    CollateralToken,
    SettlementAsset,
)
from clearing.errors import GenesisError
from clearing.genesis_reader import DocumentReader, join_key, parse_hex
from clearing.instrument_docs import parse_instrument, parse_listing_template
from clearing.instruments import (
    Instrument,
    InstrumentKind,
)
from clearing.listing_template import (
    ListingTemplate,
)
from clearing.replay_protection import (
    DEFAULT_MAX_REQUEST_LIFETIME_MS,
    DEFAULT_TRADE_ID_WINDOW,
    MAX_MAX_REQUEST_LIFETIME_MS,
    MAX_TRADE_ID_WINDOW,
    MIN_MAX_REQUEST_LIFETIME_MS,
    MIN_TRADE_ID_WINDOW,
    is_valid_trade_id_window,
)
from clearing.roles import NO_MEMBER, ClientAccount, SegregationModel
from clearing.units import BPS_DENOMINATOR, MAX_UINT64
from lightclient.anchor import COMETBFT, OUR_ENGINE
from records.codec import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_TOTAL_POWER,
    MAX_VALIDATORS,
    DecodeError,
    expect_int,
    expect_list,
    expect_str,
)
from records.declared import (
    Address,
    Checked,
    Declared,
    Name,
    PublicKey,
    Str,
    Uint,
    declare_record,
)

GENESIS_VERSION = 1
DEFAULT_WITHDRAWAL_TTL_S = 7 * 24 * 3600
DEFAULT_MIN_DELAY_BLOCKS = 14_400  # a day at 6 s blocks: members see a change coming
DEFAULT_MAX_VOTING_BLOCKS = 100_800  # a week at 6 s blocks
MAX_WITHDRAWAL_TTL_S = 365 * 24 * 3600
MAX_PORTING_WINDOW_BLOCKS = 100_800  # a week at 6 s blocks
DEFAULT_SETTLED_INSTRUMENT_RETENTION_MS = 7 * 24 * 3_600_000
DEFAULT_MIN_PUBLIC_CONTRIBUTORS = 3
ENGINES = (OUR_ENGINE, COMETBFT)
"""Our own engine (consensus/, the embedded default) and CometBFT (node/cometbft/)."""
DEFAULT_ENGINE = OUR_ENGINE
MIN_PUBLIC_CONTRIBUTORS = 2
"""An aggregate of one member is that member's figure: no genesis may publish it."""
MAX_PUBLIC_CONTRIBUTORS = 1_000


@dataclass(frozen=True, slots=True)
class Vault:
    chain_id: int
    address: bytes  # 20 bytes


def expect_peer_id(obj: object, what: str) -> str:
    """A libp2p peer id (node/keys.py checks it), or "": not given."""
    return "" if obj == "" else expect_str(obj, what, MAX_TEXT_CHARS)


def expect_chain_ids(obj: object, what: str) -> tuple[int, ...]:
    """One or more chain ids, strictly ascending: as ``parse_external_bridge`` leaves
    them (the state root encodes them as given)."""
    chains = tuple(expect_int(chain, what, 1) for chain in expect_list(obj, what))
    if not chains or any(a >= b for a, b in pairwise(chains)):
        raise DecodeError(what, f"{list(chains)} is not a non-empty, strictly ascending list")
    return chains


@declare_record
@dataclass(frozen=True, slots=True)
class Validator(Declared):
    """``[name, pubkey, power, evm_address, peer_id]`` in a change and the snapshot."""

    name: Annotated[str, Str(MAX_TEXT_CHARS)]
    pubkey: PublicKey  # Ed25519
    power: Uint
    evm_address: Address  # signs bridge withdrawals
    peer_id: Annotated[str, Checked(expect_peer_id)] = ""


@declare_record
@dataclass(frozen=True, slots=True)
class Venue(Declared):
    id: Name
    pubkey: PublicKey  # Ed25519


@declare_record
@dataclass(frozen=True, slots=True)
class ExternalBridge(Declared):
    """A bridge that reports deposits on chains no validator watches (bridge/external.py):
    its Ed25519 key signs each event, and it may report only on ``chains``."""

    id: Name
    pubkey: PublicKey  # Ed25519
    chains: Annotated[tuple[int, ...], Checked(expect_chain_ids, list)]  # each with collateral


@dataclass(frozen=True, slots=True)
class OracleParams:
    max_age_ms: int
    max_move_bps: int


@dataclass(frozen=True, slots=True)
class GovernanceParams:
    """How proposals run (clearing/governance/): a delayed change executes at least
    ``min_delay_blocks`` after its vote closes; a vote stays open at most
    ``max_voting_blocks``."""

    min_delay_blocks: int = DEFAULT_MIN_DELAY_BLOCKS
    max_voting_blocks: int = DEFAULT_MAX_VOTING_BLOCKS


@dataclass(frozen=True, slots=True)
class Genesis:
    chain_id: int
    genesis_time_ms: int
    epoch_length_blocks: int
    settlement_asset: SettlementAsset
    collateral: tuple[CollateralToken, ...]
    instruments: tuple[Instrument, ...]
    validators: tuple[Validator, ...]
    venues: tuple[Venue, ...]
    oracle: OracleParams
    index_prices: tuple[tuple[str, int], ...]  # feed id -> price, sorted
    mark_prices: tuple[tuple[str, int], ...]  # instrument id -> price, sorted
    risk: Mapping[str, Any]  # validated as a JSON object; clearing/risk/params.py parses it
    trade_id_window: int = DEFAULT_TRADE_ID_WINDOW  # optional; clearing/replay_protection.py
    fee_to_insurance_bps: int = BPS_DENOMINATOR  # share of clearing fees; the rest: fee pool
    withdrawal_ttl_s: int = DEFAULT_WITHDRAWAL_TTL_S  # optional; clearing/transition/withdrawal.py
    governance: GovernanceParams = GovernanceParams()
    vaults: tuple[Vault, ...] = ()
    """The vault contract holding the collateral on each chain (optional): what
    `clearnode verify --rpc` reads the reserves of."""
    external_bridges: tuple[ExternalBridge, ...] = ()
    """Registered external bridges (optional); governance adds and removes them."""
    listing_templates: tuple[ListingTemplate, ...] = ()
    """The series listed at each expiry (optional key; clearing/listing_template.py)."""
    clearing_members: tuple[bytes, ...] | None = None
    """The admitted clearing members (optional key; clearing/roles.py): None keeps the
    open membership where every address that is not a client clears for itself."""
    clients: tuple[tuple[bytes, ClientAccount], ...] = ()
    """Client accounts open at genesis, by client address (optional key)."""
    porting_window_blocks: int = 0
    """How long a client of a defaulted member that no backup took may choose another
    member before its positions are closed out (optional key; 0: at once)."""
    settled_instrument_retention_ms: int = DEFAULT_SETTLED_INSTRUMENT_RETENTION_MS
    """How long after its expiry a settled dated instrument stays in the configuration
    before it is pruned (optional key; clearing/governance/pruning.py)."""
    min_public_contributors: int = DEFAULT_MIN_PUBLIC_CONTRIBUTORS
    """The fewest members an aggregate the public views show may sum over (optional key;
    node/api/disclosure.py). A node's policy for its public listener, not a clearing
    rule: it is not governed and not in the configuration under the state root."""
    max_request_lifetime_ms: int = DEFAULT_MAX_REQUEST_LIFETIME_MS
    """The longest lifetime a request may be signed with, from its ``issued_at_ms`` to its
    ``expires_ms`` (optional key; clearing/replay_protection.py ``check_request_times``)."""

    engine: str = DEFAULT_ENGINE
    """The consensus engine that orders this network's blocks (optional key): one of
    ENGINES. Not in the state root: the same blocks give the same root on either."""

    def feeds(self) -> frozenset[str]:
        """Every price feed id some collateral token or instrument refers to."""
        return frozenset(
            [t.price_feed for t in self.collateral] + [i.index_feed for i in self.instruments]
        )


TOP_KEYS = {
    "version", "chain_id", "genesis_time_ms", "epoch_length_blocks", "settlement_asset",
    "collateral", "instruments", "validators", "venues", "oracle", "index_prices",
    "mark_prices", "insurance_fund", "risk", "trade_id_window", "fees",
    "withdrawal_ttl_s", "vaults", "governance", "external_bridges", "listing_templates",
    "clearing_members", "clients", "porting_window_blocks", "settled_instrument_retention_ms",
    "min_public_contributors", "max_request_lifetime_ms", "engine",
}  # fmt: skip


def compute_genesis_hash(document: bytes) -> bytes:
    """The genesis's hash as the network publishes it: SHA-256 of the genesis file's bytes,
    what `sha256sum genesis.json` prints (CometBFT's genesis hash too). Every node holds the
    same file (operator.md) and serves it as is (`GET /v1/genesis`), so a verifier pins the
    genesis it fetches by this hash; a re-formatted copy is another genesis here."""
    return hashlib.sha256(document).digest()


def parse_genesis(doc: object) -> Genesis:
    """Validate ``doc`` and return the typed ``Genesis``; raise ``GenesisError``."""
    top = DocumentReader(doc, "", TOP_KEYS)
    if top.get_int("version") != GENESIS_VERSION:
        raise GenesisError("version", str(GENESIS_VERSION), top.get_raw("version"))
    asset = DocumentReader(
        top.get_raw("settlement_asset"),
        "settlement_asset",
        {"symbol", "decimals", "tokens", "conversion_threshold"},
    )
    collateral = tuple(
        parse_collateral(item, f"collateral[{n}]")
        for n, item in enumerate(top.get_list("collateral"))
    )
    instruments = tuple(
        parse_instrument(item, f"instruments[{n}]")
        for n, item in enumerate(top.get_list("instruments"))
    )
    validators = tuple(
        _parse_validator(item, f"validators[{n}]")
        for n, item in enumerate(top.get_list("validators"))
    )
    venues = tuple(
        parse_venue(item, f"venues[{n}]") for n, item in enumerate(top.get_list("venues"))
    )
    oracle = DocumentReader(top.get_raw("oracle"), "oracle", {"max_age_ms", "max_move_bps"})
    risk = top.get_raw("risk")
    if not isinstance(risk, dict) or not all(isinstance(k, str) for k in risk):
        raise GenesisError("risk", "an object with string keys", risk)
    genesis = Genesis(
        chain_id=top.get_int("chain_id", 1),
        genesis_time_ms=top.get_int("genesis_time_ms"),
        epoch_length_blocks=top.get_int("epoch_length_blocks", 1),
        settlement_asset=parse_settlement_asset(asset),
        collateral=collateral,
        instruments=instruments,
        validators=validators,
        venues=venues,
        oracle=OracleParams(
            oracle.get_int("max_age_ms", 1), oracle.get_int("max_move_bps", 1, BPS_DENOMINATOR)
        ),
        index_prices=_parse_prices(top.get_raw("index_prices"), "index_prices"),
        mark_prices=_parse_prices(top.get_raw("mark_prices"), "mark_prices"),
        risk=risk,
        trade_id_window=_parse_trade_id_window(top),
        fee_to_insurance_bps=_parse_fee_split(top),
        withdrawal_ttl_s=_parse_withdrawal_ttl_s(top),
        governance=_parse_governance(top),
        vaults=_parse_vaults(top),
        external_bridges=tuple(
            parse_external_bridge(item, f"external_bridges[{n}]")
            for n, item in enumerate(top.get_list("external_bridges"))
        )
        if top.has("external_bridges")
        else (),
        listing_templates=tuple(
            parse_listing_template(item, f"listing_templates[{n}]")
            for n, item in enumerate(top.get_list("listing_templates"))
        )
        if top.has("listing_templates")
        else (),
        clearing_members=_parse_clearing_members(top),
        clients=_parse_clients(top),
        porting_window_blocks=top.get_int("porting_window_blocks", 0, MAX_PORTING_WINDOW_BLOCKS)
        if top.has("porting_window_blocks")
        else 0,
        settled_instrument_retention_ms=top.get_int("settled_instrument_retention_ms")
        if top.has("settled_instrument_retention_ms")
        else DEFAULT_SETTLED_INSTRUMENT_RETENTION_MS,
        min_public_contributors=top.get_int(
            "min_public_contributors", MIN_PUBLIC_CONTRIBUTORS, MAX_PUBLIC_CONTRIBUTORS
        )
        if top.has("min_public_contributors")
        else DEFAULT_MIN_PUBLIC_CONTRIBUTORS,
        max_request_lifetime_ms=top.get_int(
            "max_request_lifetime_ms", MIN_MAX_REQUEST_LIFETIME_MS, MAX_MAX_REQUEST_LIFETIME_MS
        )
        if top.has("max_request_lifetime_ms")
        else DEFAULT_MAX_REQUEST_LIFETIME_MS,
        engine=_parse_engine(top),
    )
    _check_cross_references(genesis)
    _check_clients(genesis)
    _check_vaults(genesis)
    _check_external_bridges(genesis)
    _check_settlement_tokens(genesis)
    _check_insurance_fund(top)
    return genesis


def _parse_engine(top: DocumentReader) -> str:
    if not top.has("engine"):
        return DEFAULT_ENGINE
    engine = top.get_raw("engine")
    if engine not in ENGINES:
        raise GenesisError("engine", " or ".join(ENGINES), engine)
    return str(engine)


def _parse_clearing_members(top: DocumentReader) -> tuple[bytes, ...] | None:
    if not top.has("clearing_members"):
        return None
    items = top.get_list("clearing_members")
    members = tuple(parse_hex(a, 20, f"clearing_members[{n}]") for n, a in enumerate(items))
    _check_unique(list(members), "clearing_members")
    return members


def _parse_clients(top: DocumentReader) -> tuple[tuple[bytes, ClientAccount], ...]:
    if not top.has("clients"):
        return ()
    clients = []
    for n, item in enumerate(top.get_list("clients")):
        r = DocumentReader(item, f"clients[{n}]", {"address", "clearing_member", "model", "backup"})
        backup = r.get_hex("backup", 20) if r.has("backup") else NO_MEMBER
        account = ClientAccount(
            r.get_hex("clearing_member", 20), r.get_enum("model", SegregationModel), backup
        )
        clients.append((r.get_hex("address", 20), account))
    _check_unique([address for address, _ in clients], "clients")
    return tuple(sorted(clients))


def _check_clients(g: Genesis) -> None:
    """Each client is under an admitted clearing member, names another admitted one (or
    none) as its backup, and is not a clearing member itself; the zero address (the
    clearing house's account) is neither."""
    if g.clients and g.clearing_members is None:
        raise GenesisError("clearing_members", "the clearing members of the clients", None)
    admitted = set(g.clearing_members or ())
    if bytes(20) in admitted:
        raise GenesisError("clearing_members", "no zero address (the clearing house's)", "0x00")
    for address, account in g.clients:
        path = f"clients.0x{address.hex()}"
        if address in admitted or address == bytes(20):
            raise GenesisError(path, "an address that is not a clearing member", address.hex())
        if account.clearing_member not in admitted:
            raise GenesisError(f"{path}.clearing_member", "an admitted clearing member",
                               account.clearing_member.hex())  # fmt: skip
        if account.backup != NO_MEMBER and (
            account.backup not in admitted or account.backup == account.clearing_member
        ):
            raise GenesisError(f"{path}.backup", "another admitted clearing member",
                               account.backup.hex())  # fmt: skip


def _parse_governance(top: DocumentReader) -> GovernanceParams:
    """Optional ``governance.min_delay_blocks`` and ``governance.max_voting_blocks``."""
    if not top.has("governance"):
        return GovernanceParams()
    r = DocumentReader(
        top.get_raw("governance"), "governance", {"min_delay_blocks", "max_voting_blocks"}
    )
    return GovernanceParams(
        r.get_int("min_delay_blocks", 1) if r.has("min_delay_blocks") else DEFAULT_MIN_DELAY_BLOCKS,
        r.get_int("max_voting_blocks", 1)
        if r.has("max_voting_blocks")
        else DEFAULT_MAX_VOTING_BLOCKS,
    )


def _parse_vaults(top: DocumentReader) -> tuple[Vault, ...]:
    if not top.has("vaults"):
        return ()
    vaults = []
    for n, item in enumerate(top.get_list("vaults")):
        r = DocumentReader(item, f"vaults[{n}]", {"chain_id", "address"})
        vaults.append(Vault(r.get_int("chain_id", 1), r.get_hex("address", 20)))
    return tuple(vaults)


def parse_external_bridge(item: object, path: str) -> ExternalBridge:
    """Its chains sorted, without repeats (the state root encodes them as given)."""
    r = DocumentReader(item, path, {"id", "pubkey", "chains"})
    chains: list[int] = []
    for n, chain in enumerate(r.get_list("chains")):
        if not isinstance(chain, int) or isinstance(chain, bool) or not 0 < chain <= MAX_UINT64:
            raise GenesisError(f"{r.key('chains')}[{n}]", "a chain id", chain)
        chains.append(chain)
    if not chains or len(set(chains)) != len(chains):
        raise GenesisError(r.key("chains"), "a non-empty list of distinct chain ids", chains)
    bridge_id = r.get_str("id", MAX_NAME_CHARS)
    return ExternalBridge(bridge_id, r.get_hex("pubkey", 32), tuple(sorted(chains)))


def _check_external_bridges(genesis: Genesis) -> None:
    """Ids and keys unique; each bridge reports only chains holding registered collateral."""
    _check_unique([b.id for b in genesis.external_bridges], "external_bridges")
    _check_unique([b.pubkey for b in genesis.external_bridges], "external_bridges")
    chains = {t.chain_id for t in genesis.collateral}
    for n, bridge in enumerate(genesis.external_bridges):
        for chain in bridge.chains:
            if chain not in chains:
                raise GenesisError(
                    f"external_bridges[{n}].chains", f"collateral chains {sorted(chains)}", chain
                )


def _check_vaults(genesis: Genesis) -> None:
    """One vault per chain, and only on chains some collateral token lives on."""
    chains = {t.chain_id for t in genesis.collateral}
    seen: set[int] = set()
    for n, vault in enumerate(genesis.vaults):
        if vault.chain_id not in chains:
            raise GenesisError(
                f"vaults[{n}].chain_id", f"a collateral chain {sorted(chains)}", vault.chain_id
            )
        if vault.chain_id in seen:
            raise GenesisError(f"vaults[{n}].chain_id", "one vault per chain", vault.chain_id)
        seen.add(vault.chain_id)


def _check_insurance_fund(top: DocumentReader) -> None:
    """The insurance fund starts empty: a figure in genesis would be cash no vault holds
    (members could be owed more than the vaults pay out). It grows only by what is paid in:
    settlement tokens deposited to the clearing house's account, fees, liquidation fees
    and auction premiums. ``insurance_fund`` may still be given, as 0."""
    if not top.has("insurance_fund"):
        return
    value = top.get_raw("insurance_fund")
    if type(value) is not int or value != 0:
        raise GenesisError(
            "insurance_fund",
            "0 (seed the fund by depositing the settlement token to the clearing house's "
            "account, member 0x0000000000000000000000000000000000000000, sub-account 0)",
            value,
        )


def _parse_fee_split(top: DocumentReader) -> int:
    """Optional ``fees.insurance_fund_bps`` (default all of it to the insurance fund)."""
    if not top.has("fees"):
        return BPS_DENOMINATOR
    fees = DocumentReader(top.get_raw("fees"), "fees", {"insurance_fund_bps"})
    return fees.get_int("insurance_fund_bps", 0, BPS_DENOMINATOR)


def _check_settlement_tokens(g: Genesis) -> None:
    """A settlement token is a listed collateral token, one per chain, with no haircut and a
    quantum of exactly one ``Amount`` (so a token unit converts to cash without rounding)."""
    by_key = collateral_by_key(g)
    chains: set[int] = set()
    for n, key in enumerate(g.settlement_asset.tokens):
        path = f"settlement_asset.tokens[{n}]"
        token = by_key.get(key)
        if token is None:
            raise GenesisError(path, "a listed collateral token", f"{key[0]}:0x{key[1].hex()}")
        if key[0] in chains:
            raise GenesisError(f"{path}.chain_id", "one settlement token per chain", key[0])
        chains.add(key[0])
        if token.haircut_bps:
            raise GenesisError(f"{path}", "a token with haircut_bps 0", token.haircut_bps)
        unit = 10 ** (token.decimals - g.settlement_asset.decimals)
        if token.decimals < g.settlement_asset.decimals or token.quantum != unit:
            raise GenesisError(
                f"{path}", f"a token whose quantum is one settlement unit ({unit})", token.quantum
            )


def _parse_trade_id_window(top: DocumentReader) -> int:
    """Optional (default ``DEFAULT_TRADE_ID_WINDOW``); a power of two so a slot is a mask."""
    if not top.has("trade_id_window"):
        return DEFAULT_TRADE_ID_WINDOW
    size = top.get_int("trade_id_window", MIN_TRADE_ID_WINDOW, MAX_TRADE_ID_WINDOW)
    if not is_valid_trade_id_window(size):
        raise GenesisError("trade_id_window", "a power of two", size)
    return size


def _parse_withdrawal_ttl_s(top: DocumentReader) -> int:
    """Optional (default ``DEFAULT_WITHDRAWAL_TTL_S``): how long the vault may pay a
    withdrawal after the block that debited it; past it the debit can be refunded."""
    if not top.has("withdrawal_ttl_s"):
        return DEFAULT_WITHDRAWAL_TTL_S
    return top.get_int("withdrawal_ttl_s", 1, MAX_WITHDRAWAL_TTL_S)


def _parse_validator(item: object, path: str) -> Validator:
    r = DocumentReader(item, path, {"name", "pubkey", "power", "evm_address", "peer_id"})
    return Validator(
        r.get_str("name", MAX_TEXT_CHARS),
        r.get_hex("pubkey", 32),
        r.get_int("power", 1),
        r.get_hex("evm_address", 20),
        r.get_str("peer_id", MAX_TEXT_CHARS) if r.has("peer_id") else "",
    )


def parse_venue(item: object, path: str) -> Venue:
    r = DocumentReader(item, path, {"id", "pubkey"})
    return Venue(r.get_str("id", MAX_NAME_CHARS), r.get_hex("pubkey", 32))


def _parse_prices(obj: object, path: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(obj, dict):
        raise GenesisError(path, "an object of id -> price", obj)
    out = []
    for key in sorted(obj):
        value = obj[key]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_UINT64:
            raise GenesisError(join_key(path, str(key)), "a positive integer price", value)
        out.append((str(key), value))
    return tuple(out)


def _check_unique(keys: list[object], path: str, expected: str = "a unique id") -> None:
    seen: set[object] = set()
    for n, key in enumerate(keys):
        if key in seen:
            raise GenesisError(f"{path}[{n}]", expected, key)
        seen.add(key)


def _check_cross_references(g: Genesis) -> None:
    """Ids unique; options written on a listed future; a price for every feed and instrument."""
    _check_unique([t.key for t in g.collateral], "collateral")
    _check_unique([i.id for i in g.instruments], "instruments")
    _check_unique([v.pubkey for v in g.validators], "validators")
    # a vault's signer set holds each address once: two validators sharing one would
    # count one bridge signature twice (governance refuses it too: check_validator_set)
    _check_unique([v.evm_address for v in g.validators], "validators", "a unique evm_address")
    _check_unique([v.id for v in g.venues], "venues")
    if not 1 <= len(g.validators) <= MAX_VALIDATORS:
        raise GenesisError("validators", f"1 to {MAX_VALIDATORS} validators", len(g.validators))
    total_power = sum(v.power for v in g.validators)
    if total_power > MAX_TOTAL_POWER:
        raise GenesisError("validators", f"a total power of at most {MAX_TOTAL_POWER}", total_power)
    by_id = {i.id: i for i in g.instruments}
    for n, inst in enumerate(g.instruments):
        if inst.kind is InstrumentKind.OPTION:
            future = by_id.get(inst.underlying)
            if future is None or future.kind is not InstrumentKind.FUTURE:
                raise GenesisError(
                    f"instruments[{n}].underlying", "a listed future", inst.underlying
                )
    _check_unique([t.id for t in g.listing_templates], "listing_templates")
    for n, template in enumerate(g.listing_templates):
        if template.future.index_feed not in g.feeds():
            raise GenesisError(
                f"listing_templates[{n}].future.index_feed",
                f"one of {sorted(g.feeds())}",
                template.future.index_feed,
            )
    _check_price_keys(dict(g.index_prices), sorted(g.feeds()), "index_prices")
    _check_price_keys(dict(g.mark_prices), sorted(by_id), "mark_prices")


def _check_price_keys(prices: dict[str, int], ids: list[str], path: str) -> None:
    """Exactly one starting price per id: valuation never meets a missing price."""
    for price_id in prices:
        if price_id not in ids:
            raise GenesisError(f"{path}.{price_id}", f"one of {ids}", price_id)
    for price_id in ids:
        if price_id not in prices:
            raise GenesisError(f"{path}.{price_id}", "a starting price", "missing")


def collateral_by_key(g: Genesis) -> dict[CollateralKey, CollateralToken]:
    return {t.key: t for t in g.collateral}

"""The EVM chains `clearnode init` writes into a network's genesis and configs.

Either given by the operator (`--bridge-chain name=...,chain_id=...,rpc_url=...,
vault=0x...,USDC=0x...`: a vault and token contracts already on a real chain), or
deployed by init on a local anvil (`--deploy-anvil NAME=URL`: a vault trusting the
new validators and a test token per collateral symbol, as the devnet deploys them).
Each becomes a `[[bridge_chains]]` section in every config and one genesis
collateral entry per token, the template's entry of that symbol at that address.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from bridge.validators import EvmValidatorSet
from node.config import POLL_INTERVAL_MS_BOUNDS, BridgeChainConfig

URL_PATTERN = re.compile(r"(https?|wss?)://\S+")
ADDRESS_PATTERN = re.compile(r"0x[0-9a-fA-F]{40}")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
CHAIN_KEYS = ("name", "chain_id", "rpc_url", "vault", "confirmation_depth", "poll_interval_ms")
GIVEN_CONFIRMATION_DEPTH = 12
# An anvil chain mines each transaction at once and never reorganises; asking a local
# anvil costs nothing, and every deposit would wait half the poll on average.
ANVIL_CONFIRMATION_DEPTH = 0
ANVIL_POLL_INTERVAL_MS = 250


class ChainSpecError(ValueError):
    """A chain option is malformed; names the option, the key and what is expected."""

    def __init__(self, option: str, key: str, expected: str, found: object = None) -> None:
        self.option = option
        self.key = key
        self.expected = expected
        self.found = found
        detail = "" if found is None else f", found {found!r}"
        super().__init__(f"{option}: key '{key}': expected {expected}{detail}")


@dataclass(frozen=True)
class ChainSpec:
    """One chain's vault and collateral tokens (symbol -> 20-byte address)."""

    name: str
    chain_id: int
    rpc_url: str
    vault: bytes
    tokens: dict[str, bytes]
    confirmation_depth: int = GIVEN_CONFIRMATION_DEPTH
    poll_interval_ms: int = BridgeChainConfig.poll_interval_ms


@dataclass(frozen=True)
class AnvilTarget:
    """An anvil RPC that init deploys a vault and test tokens on."""

    name: str
    rpc_url: str


def _check(option: str, key: str, value: str, pattern: re.Pattern[str], expected: str) -> str:
    if not pattern.fullmatch(value):
        raise ChainSpecError(option, key, expected, value)
    return value


def _integer(option: str, key: str, value: str, lo: int, hi: int | None = None) -> int:
    if not value.isdigit() or int(value) < lo or (hi is not None and int(value) > hi):
        span = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ChainSpecError(option, key, f"an integer {span}", value)
    return int(value)


def _address(option: str, key: str, value: str) -> bytes:
    _check(option, key, value, ADDRESS_PATTERN, "a 0x address of 40 hex digits")
    return bytes.fromhex(value[2:])


def _split_pairs(option: str, text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ChainSpecError(option, item, "KEY=VALUE pairs separated by commas", text)
        if key in pairs:
            raise ChainSpecError(option, key, "each key once", text)
        pairs[key] = value
    return pairs


def parse_bridge_chain(text: str) -> ChainSpec:
    """`name=N,chain_id=ID,rpc_url=URL,vault=0x..[,confirmation_depth=D][,poll_interval_ms=MS],
    SYMBOL=0x..`."""
    option = "--bridge-chain"
    pairs = _split_pairs(option, text)
    for key in ("name", "chain_id", "rpc_url", "vault"):
        if key not in pairs:
            raise ChainSpecError(option, key, "present")
    tokens = {k: _address(option, k, v) for k, v in pairs.items() if k not in CHAIN_KEYS}
    if not tokens:
        raise ChainSpecError(option, "SYMBOL", "at least one SYMBOL=0x token address", text)
    depth = pairs.get("confirmation_depth", str(GIVEN_CONFIRMATION_DEPTH))
    poll = pairs.get("poll_interval_ms", str(BridgeChainConfig.poll_interval_ms))
    return ChainSpec(
        name=_check(option, "name", pairs["name"], NAME_PATTERN, "letters, digits, _ or -"),
        chain_id=_integer(option, "chain_id", pairs["chain_id"], lo=1),
        rpc_url=_check(option, "rpc_url", pairs["rpc_url"], URL_PATTERN, "an http(s)/ws(s) URL"),
        vault=_address(option, "vault", pairs["vault"]),
        tokens=tokens,
        confirmation_depth=_integer(option, "confirmation_depth", depth, lo=0),
        poll_interval_ms=_integer(option, "poll_interval_ms", poll, *POLL_INTERVAL_MS_BOUNDS),
    )


def parse_anvil_target(text: str) -> AnvilTarget:
    """`NAME=URL` of an anvil to deploy on."""
    option = "--deploy-anvil"
    name, sep, url = text.partition("=")
    if not sep:
        raise ChainSpecError(option, text, "NAME=URL")
    return AnvilTarget(
        _check(option, "NAME", name, NAME_PATTERN, "letters, digits, _ or -"),
        _check(option, "URL", url, re.compile(r"https?://\S+"), "an http(s) URL"),
    )


def check_unique_names(chains: list[ChainSpec], anvils: list[AnvilTarget]) -> None:
    """Chain names are config section names: each once across both options."""
    names = [c.name for c in chains] + [a.name for a in anvils]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise ChainSpecError("--bridge-chain/--deploy-anvil", "name", "each name once", name)


def get_token_decimals(template: dict[str, Any]) -> list[tuple[str, int]]:
    """(symbol, decimals) of each collateral symbol of `template`, first entry wins."""
    found: dict[str, int] = {}
    for entry in template["collateral"]:
        found.setdefault(entry["symbol"], entry["decimals"])
    return list(found.items())


def deploy_on_anvil(
    target: AnvilTarget, validator_set: EvmValidatorSet, template: dict[str, Any]
) -> ChainSpec:
    """Deploy a vault trusting `validator_set` and a test token per collateral symbol
    of `template` on the anvil at `target`, with anvil's funded dev account."""
    # web3 takes seconds to import: only a deploy pays for it.
    from web3 import Web3
    from web3.exceptions import Web3Exception

    from bridge.chain import connect
    from bridge.chain_answers import ChainError
    from bridge.devchain import deploy_devnet_chain

    try:
        provider = Web3.HTTPProvider(target.rpc_url, request_kwargs={"timeout": 10})
        chain = connect(target.rpc_url, int(Web3(provider).eth.chain_id))
        deployed = deploy_devnet_chain(chain, validator_set, get_token_decimals(template))
    except (OSError, ChainError, Web3Exception) as exc:
        raise ChainSpecError(
            f"--deploy-anvil {target.name}", "URL", "an anvil answering", f"{target.rpc_url}: {exc}"
        ) from None
    return ChainSpec(
        target.name,
        deployed.chain_id,
        target.rpc_url,
        deployed.vault,
        deployed.tokens,
        ANVIL_CONFIRMATION_DEPTH,
        ANVIL_POLL_INTERVAL_MS,
    )


def build_collateral(template: dict[str, Any], chains: list[ChainSpec]) -> list[dict[str, Any]]:
    """One collateral entry per chain token: the template's entry of that symbol there."""
    specs: dict[str, dict[str, Any]] = {}
    for entry in template["collateral"]:
        specs.setdefault(entry["symbol"], entry)
    collateral = []
    for chain in chains:
        for symbol, token in chain.tokens.items():
            if symbol not in specs:
                raise ChainSpecError(
                    f"chain {chain.name!r}",
                    symbol,
                    f"a collateral symbol of the genesis template {sorted(specs)}",
                )
            entry = copy.deepcopy(specs[symbol])
            collateral.append({**entry, "chain_id": chain.chain_id, "token": "0x" + token.hex()})
    return collateral


def place_collateral(doc: dict[str, Any], collateral: list[dict[str, Any]]) -> None:
    """Give genesis ``doc`` this collateral list; the settlement asset's tokens follow it
    (each chain's token of the symbol the template settles in, its USDC say), and the
    starting prices of feeds no token or instrument uses any more are dropped (chains
    listing only some of the template's tokens make a valid genesis)."""
    old = {(e["chain_id"], e["token"].lower()): e["symbol"] for e in doc["collateral"]}
    asset = doc["settlement_asset"]
    symbols = {old.get((t["chain_id"], t["token"].lower())) for t in asset.get("tokens", [])}
    doc["collateral"] = collateral
    if "tokens" in asset:
        asset["tokens"] = [
            {"chain_id": e["chain_id"], "token": e["token"]}
            for e in collateral
            if e["symbol"] in symbols
        ]
    used = {e["price_feed"] for e in collateral} | {i["index_feed"] for i in doc["instruments"]}
    doc["index_prices"] = {f: p for f, p in doc["index_prices"].items() if f in used}


def place_vaults(doc: dict[str, Any], vaults: dict[int, bytes]) -> None:
    """Genesis `vaults`: the vault of each collateral chain, whose reserves anyone can
    check against a report (`clearnode verify --rpc`)."""
    doc["vaults"] = [
        {"chain_id": chain_id, "address": "0x" + vault.hex()}
        for chain_id, vault in sorted(vaults.items())
    ]


def render_bridge_chains(chains: list[ChainSpec]) -> str:
    """The `[[bridge_chains]]` sections of config.toml (configs/node.example.toml)."""
    return "".join(
        f'\n[[bridge_chains]]\nname = "{c.name}"\nchain_id = {c.chain_id}\n'
        f'rpc_url = "{c.rpc_url}"\nvault_address = "0x{c.vault.hex()}"\n'
        f"confirmation_depth = {c.confirmation_depth}\npoll_interval_ms = {c.poll_interval_ms}\n"
        for c in chains
    )

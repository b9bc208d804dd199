"""The genesis file a node's config names, read and checked before anything runs."""

from __future__ import annotations

import json

from clearing.errors import GenesisError
from clearing.genesis import Genesis, compute_genesis_hash, parse_genesis
from clearing.risk.engine import compute_risk_setup
from node.config import NodeConfig
from node.config_table import ConfigError


def read_genesis_hash(config: NodeConfig) -> bytes:
    """The hash of the genesis file the config names, as the network publishes it."""
    path = config.genesis_file
    try:
        return compute_genesis_hash(path.read_bytes())
    except OSError as exc:
        raise ConfigError(path, "(file)", "a readable genesis JSON file", exc.strerror) from exc


def load_genesis(config: NodeConfig) -> Genesis:
    """The genesis named by the config, its risk section parsed too (a bad one would
    otherwise halt the chain at its first block); its chain id must be the config's."""
    path = config.genesis_file
    try:
        genesis = parse_genesis(json.loads(path.read_text()))
        compute_risk_setup(genesis)
    except OSError as exc:
        raise ConfigError(path, "(file)", "a readable genesis JSON file", exc.strerror) from exc
    except ValueError as exc:
        raise ConfigError(path, "(syntax)", "valid JSON", str(exc)) from exc
    except GenesisError as exc:
        raise ConfigError(path, exc.key, exc.expected, exc.got) from exc
    if genesis.chain_id != config.chain_id:
        raise ConfigError(
            config.config_file or config.home, "chain_id",
            f"the genesis chain_id {genesis.chain_id} of {path}", config.chain_id,
        )  # fmt: skip
    return genesis

"""Validator homes for the devnet, laid out exactly as `clearnode init` does.

Keys and operator tokens are generated (never derived from public names), the genesis is
`clearnode init`'s genesis of the devnet template, and each config.toml is
init's config plus the sections of the node services the devnet drives
(oracle, bridge chains, reports). A section is written only if this node's
config reader knows it, so a service that has not landed is reported as not
exercised instead of failing every node at start.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.loopback import get_free_port
from lightclient.anchor import COMETBFT
from node.commands.init import (
    LOOPBACK,
    REPORT_SEED_FILE,
    NodeKeys,
    build_genesis,
    render_cometbft_tables,
    render_config,
)
from node.config import CONFIG_FILE_NAME, NodeConfig, load_config
from node.keys import (
    BRIDGE_KEY,
    HOME_OPERATOR_TOKEN_FILE,
    NODE_KEY,
    VALIDATOR_KEY,
    compute_peer_id,
    generate_key,
    generate_operator_token,
    load_operator_token,
    save_key,
    save_operator_token,
)
from node.oracle_config import OracleSourceConfig
from node.reports.seed import create_report_seed, save_report_seed


@dataclass(frozen=True)
class Home:
    """One validator's home and where it listens."""

    path: Path
    name: str
    keys: NodeKeys
    p2p_port: int
    api_port: int
    operator_port: int
    cometbft_ports: tuple[int, int] = (0, 0)
    """Its CometBFT's p2p and metrics ports, on a network whose engine is CometBFT."""

    @property
    def addr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.p2p_port}/p2p/{compute_peer_id(self.keys.node)}"

    @property
    def cometbft_home(self) -> Path:
        """Its CometBFT's home (the default `[cometbft] home`): its RPC socket is in it."""
        return self.path / "cometbft"

    @property
    def api_url(self) -> str:
        """The public listener: what members, venues and relayers use."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def operator_url(self) -> str:
        """The operator listener: full blocks, each member's margin health, /metrics."""
        return f"http://127.0.0.1:{self.operator_port}"

    @property
    def operator_token_file(self) -> Path:
        return self.path / HOME_OPERATOR_TOKEN_FILE

    @property
    def operator_headers(self) -> dict[str, str]:
        """What every request to the operator listener carries (node/api/operator_auth.py)."""
        return {"authorization": f"Bearer {load_operator_token(self.operator_token_file)}"}

    @property
    def evm_address(self) -> bytes:
        return self.keys.bridge.public_key()


def make_homes(base: Path, count: int) -> list[Home]:
    """`count` validator homes under `base` with fresh keys and free loopback ports."""
    return [
        Home(
            base / f"node{n}",
            f"node{n}",
            NodeKeys(generate_key(NODE_KEY), generate_key(VALIDATOR_KEY), generate_key(BRIDGE_KEY)),
            get_free_port(),
            get_free_port(),
            get_free_port(),
            (get_free_port(), get_free_port()),
        )
        for n in range(count)
    ]


def is_known_section(name: str) -> bool:
    """Whether this node's config.toml accepts a top-level `name` section."""
    return name in {f.name for f in dataclasses.fields(NodeConfig)}


def is_known_source_key(name: str) -> bool:
    return name in {f.name for f in dataclasses.fields(OracleSourceConfig)}


def write_homes(homes: list[Home], template: dict[str, Any], services_toml: str) -> dict[str, Any]:
    """Write keys, the network's report seed, the shared genesis and each config.toml
    (init's plus `services_toml`); every config must load. Returns the genesis document."""
    chain_id = int(template["chain_id"])
    genesis = build_genesis(template, chain_id, [(h.name, h.keys) for h in homes])
    seed = create_report_seed()
    engine_tables = [""] * len(homes)
    if genesis.get("engine") == COMETBFT:
        ports = [h.cometbft_ports for h in homes]
        engine_tables = render_cometbft_tables(
            [h.keys.node for h in homes], [LOOPBACK] * len(homes), ports
        )
    for home, engine_table in zip(homes, engine_tables, strict=True):
        home.path.mkdir(parents=True, exist_ok=True)
        save_key(home.path / "keys" / "node_key.json", home.keys.node)
        save_key(home.path / "keys" / "validator_key.json", home.keys.validator)
        save_key(home.path / "keys" / "bridge_key.json", home.keys.bridge)
        save_report_seed(home.path / REPORT_SEED_FILE, seed)
        save_operator_token(home.operator_token_file, generate_operator_token())
        (home.path / "genesis.json").write_text(json.dumps(genesis, indent=2) + "\n")
        peers = [h.addr for h in homes if h is not home]
        config = render_config(
            chain_id, home.name, home.p2p_port, home.api_port, home.operator_port, peers
        )
        (home.path / CONFIG_FILE_NAME).write_text(config + "\n" + services_toml + engine_table)
        load_config(home.path)
    return genesis

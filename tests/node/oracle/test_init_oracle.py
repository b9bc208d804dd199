"""`clearnode init` writes an oracle the generated genesis knows: a simulator over every
index and mark price, from its genesis value, whose observations lose no id."""

from __future__ import annotations

from pathlib import Path

from clearing.state import initialize_state
from node.commands.init import init_homes
from node.config import load_config
from node.genesis_file import load_genesis
from node.keys import VALIDATOR_KEY, load_key
from node.oracle.sampler import OracleSampler
from node.oracle.service import build_sources


async def test_init_oracle_simulates_every_genesis_price_from_its_value(tmp_path: Path) -> None:
    (node,) = init_homes(tmp_path / "n", 1, 4242, "node", 26656, 8080).nodes
    home = node.home
    config = load_config(home)
    genesis = load_genesis(config)
    (source,) = config.oracle.sources
    assert config.oracle.enabled and source.kind == "simulator"
    start = dict(zip(source.symbols, source.start_prices, strict=True))
    assert start == {**dict(genesis.index_prices), **dict(genesis.mark_prices)}
    key = load_key(config.validator_key_file, VALIDATOR_KEY).ed25519()
    state = initialize_state(genesis)
    service = OracleSampler(build_sources(config), key, lambda: state, clock_ms=lambda: 10**12)
    observation = await service.observe()
    assert observation is not None
    assert {k for k, _ in observation.index_prices} == genesis.feeds()
    assert {k for k, _ in observation.mark_prices} == {i.id for i in genesis.instruments}

"""The devnet's parts that need no network: homes as `clearnode init` lays
them out, the services' config sections, the members' request bodies as the
API parses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearing.genesis import parse_genesis
from clearnode.client.signers import get_member_request_body
from devnet import sections
from devnet.config import DevnetConfig
from devnet.genesis import EXAMPLE_GENESIS
from devnet.homes import make_homes, write_homes
from devnet.market import make_members
from node.api.bodies import parse_member_request
from node.commands.start import check_home
from node.config import load_config


def test_homes_are_init_homes_that_start_checks_accept(tmp_path: Path) -> None:
    homes = make_homes(tmp_path, 3)
    template = json.loads(EXAMPLE_GENESIS.read_text())
    oracle = sections.get_oracle_toml(template, 7, with_shock=True)
    genesis = write_homes(homes, template, oracle)
    assert [v["name"] for v in genesis["validators"]] == ["node0", "node1", "node2"]
    assert [v["evm_address"] for v in genesis["validators"]] == [
        "0x" + h.evm_address.hex() for h in homes
    ]
    for home in homes:
        config = check_home(home.path)
        assert set(config.p2p.persistent_peers) == {h.addr for h in homes if h is not home}
        assert config.api.listen_port == home.api_port
    source = load_config(homes[0].path).oracle.sources[0]
    assert "BTC/0.001" in source.symbols and "USDC/quantum" not in source.symbols
    assert source.shock_bps == -sections.CRASH_BPS
    assert source.shock_file == homes[0].path / sections.SHOCK_FILE
    ports = [*(h.p2p_port for h in homes), *(h.api_port for h in homes)]
    assert len(set(ports)) == 6


def test_member_request_bodies_parse_to_the_signed_records() -> None:
    genesis = parse_genesis(json.loads(EXAMPLE_GENESIS.read_text()))
    member = make_members(6)[2]
    chain, token = genesis.collateral[0].key
    for record in (
        member.key.authorise_venue(genesis.chain_id, 3, "alpha"),
        member.key.withdrawal(genesis.chain_id, 4, chain, token, 1_000),
    ):
        body = json.dumps(get_member_request_body(record, genesis.chain_id)).encode()
        assert parse_member_request(body, genesis.chain_id) == record


@pytest.mark.parametrize("missing", ["oracle", "bridge", "reports"])
def test_a_service_the_node_lacks_is_reported_not_configured(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    names = {"status", "oracle", "bridge", "reports"} - {missing}
    monkeypatch.setattr(sections, "get_service_names", lambda: names)

    template = json.loads(EXAMPLE_GENESIS.read_text())
    services = sections.get_service_sections(template, [], DevnetConfig())
    assert not getattr(services, missing)
    assert any(line.startswith(missing) for line in services.missing)

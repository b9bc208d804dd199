"""`clearnode init` writes only fresh keys (no public test key) and says what it made."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from bridge.anvil import AnvilNode
from bridge.chain import connect
from clearing.genesis import parse_genesis
from clearnode.client.sandbox_keys import derive_ed25519_key
from node.commands import main
from node.commands.keys import get_public_keys
from node.config import load_config
from node.genesis_file import load_genesis
from node.keys import NODE_KEY, VENUE_KEY, get_node_id, load_key, load_operator_token
from node.p2p.allowed_peers import get_allowed_peers

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((ROOT / "configs" / "genesis.example.json").read_text())


def sandbox_public_keys(template: dict[str, Any]) -> set[str]:
    """The public keys the sandbox derives for the template's validators and venues,
    and the keys the template itself lists."""
    names = [v["name"] for v in template["validators"]]
    names += [f"venue-{v['id']}" for v in template["venues"]]
    keys = {derive_ed25519_key(n).public_key().public_bytes_raw().hex() for n in names}
    listed = {e["pubkey"][2:] for e in template["validators"] + template["venues"]}
    return keys | listed | {v["evm_address"][2:] for v in template["validators"]}


def test_init_genesis_holds_no_sandbox_key_and_venue_keys_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--home", str(tmp_path), "--validators", "2"]) == 0
    text = (tmp_path / "node0" / "genesis.json").read_text().lower()
    leaked = [k for k in sandbox_public_keys(TEMPLATE) if k in text]
    assert leaked == []
    genesis = parse_genesis(json.loads(text))
    assert [v.id for v in genesis.venues] == [v["id"] for v in TEMPLATE["venues"]]
    for venue in genesis.venues:
        path = tmp_path / "venue_keys" / f"{venue.id}.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_key(path, VENUE_KEY).public_key() == venue.pubkey
    out = capsys.readouterr().out
    assert str(tmp_path / "venue_keys" / "alpha.json") in out


def test_init_twice_gives_different_keys(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main(["init", "--home", str(tmp_path / name)]) == 0
    a, b = (json.loads((tmp_path / n / "genesis.json").read_text()) for n in ("a", "b"))
    assert a["venues"] != b["venues"]
    assert a["validators"][0]["pubkey"] != b["validators"][0]["pubkey"]


def test_init_prints_addresses_status_urls_and_next_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--validators", "2", "--p2p-port", "5100", "--api-port", "5200", "--moniker", "v"]
    assert main(["init", "--home", str(tmp_path), *args]) == 0
    out = capsys.readouterr().out
    tokens: set[str] = set()
    for i in range(2):
        home = tmp_path / f"v{i}"
        keys = json.loads((home / "genesis.json").read_text())["validators"][i]
        assert keys["name"] == f"v{i}"
        assert f"/ip4/127.0.0.1/tcp/{5100 + i}/p2p/" in out
        assert f"http://127.0.0.1:{5200 + i}/status" in out
        assert f"http://127.0.0.1:{5202 + i}/status" in out  # the operator's, after the API's
        config = (home / "config.toml").read_text()
        assert "operator_enabled = true" in config and f"= {5202 + i}\n" in config
        token_file = home / "keys" / "operator_token"  # each home its own, 0600
        assert f"its token: {token_file}" in out
        tokens.add(load_operator_token(token_file))
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert f"clearnode start --home {home}" in out
        assert f"clearnode status --home {home}" in out
    assert main(["keys", "--home", str(tmp_path / "v1")]) == 0
    assert json.loads(capsys.readouterr().out)["peer_id"] in out
    assert len(tokens) == 2 and not any(token in out for token in tokens)


def generate_keys(homes: list[Path], capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    """`clearnode keys generate` in each home; the public keys each printed."""
    printed = []
    for home in homes:
        assert main(["keys", "generate", "--home", str(home)]) == 0
        printed.append(json.loads(capsys.readouterr().out))
    return printed


def test_init_keeps_the_keys_generated_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    homes = [tmp_path / "node0", tmp_path / "node1"]
    made = generate_keys(homes, capsys)
    files = {path: path.read_bytes() for home in homes for path in (home / "keys").iterdir()}
    assert len(files) == 6
    assert main(["init", "--home", str(tmp_path), "--validators", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("keys     kept node_key.json, validator_key.json, bridge_key.json") == 2
    assert {path: path.read_bytes() for path in files} == files
    genesis = json.loads((homes[0] / "genesis.json").read_text())
    assert [(v["pubkey"], v["evm_address"]) for v in genesis["validators"]] == [
        (keys["validator_pubkey"], keys["bridge_address"]) for keys in made
    ]
    for home, keys in zip(homes, made, strict=True):
        assert keys["peer_id"] in out
        assert main(["keys", "--home", str(home)]) == 0
        assert json.loads(capsys.readouterr().out) == keys


def test_init_writes_only_the_keys_a_home_lacks(tmp_path: Path) -> None:
    assert main(["keys", "generate", "--home", str(tmp_path)]) == 0
    kept = (tmp_path / "keys" / "bridge_key.json").read_bytes()
    (tmp_path / "keys" / "node_key.json").unlink()
    (tmp_path / "keys" / "validator_key.json").unlink()
    assert main(["init", "--home", str(tmp_path)]) == 0
    assert (tmp_path / "keys" / "bridge_key.json").read_bytes() == kept
    assert main(["keys", "--home", str(tmp_path)]) == 0


def test_keys_generate_never_overwrites_a_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "bridge_key.json").write_text("mine")
    assert main(["keys", "generate", "--home", str(tmp_path)]) == 2
    out = capsys.readouterr().out.strip()
    assert out == (
        f"clearnode keys: {tmp_path / 'keys' / 'bridge_key.json'}: "
        "already exists; refusing to overwrite a key"
    )
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["bridge_key.json"]
    assert (tmp_path / "keys" / "bridge_key.json").read_text() == "mine"


def test_init_names_an_unusable_key_it_found_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "generate", "--home", str(tmp_path)]) == 0
    key = tmp_path / "keys" / "validator_key.json"
    key.chmod(0o644)
    capsys.readouterr()
    assert main(["init", "--home", str(tmp_path)]) == 2
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"clearnode init: {key}: permissions 0o644 are too open")
    assert len(out.splitlines()) == 1
    assert not (tmp_path / "config.toml").exists() and not (tmp_path / "genesis.json").exists()


@pytest.mark.chain
def test_a_vault_deployed_by_init_trusts_the_keys_generated_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = generate_keys([tmp_path / "node0", tmp_path / "node1"], capsys)
    with AnvilNode(chain_id=31337) as anvil:
        deploy = ["--deploy-anvil", f"a={anvil.url}"]
        assert main(["init", "--home", str(tmp_path), "--validators", "2", *deploy]) == 0
        (chain,) = load_config(tmp_path / "node0").bridge_chains
        assert (chain.confirmation_depth, chain.poll_interval_ms) == (0, 250)  # anvil's
        vault = connect(anvil.url, 31337).contract("CollateralVault", chain.vault_address)
        addresses, _ = vault.functions.getValidators().call()
    assert sorted(a.lower() for a in addresses) == sorted(k["bridge_address"] for k in made)


def test_init_refuses_an_existing_venue_keys_dir(tmp_path: Path) -> None:
    (tmp_path / "venue_keys").mkdir()
    assert main(["init", "--home", str(tmp_path)]) == 2
    assert not (tmp_path / "config.toml").exists()


VAULT = "0x" + "11" * 20
USDC_TOKEN, WETH_TOKEN = "0x" + "22" * 20, "0x" + "33" * 20
GIVEN = f"name=sepolia,chain_id=11155111,rpc_url=https://rpc.example,vault={VAULT},USDC={USDC_TOKEN},WETH={WETH_TOKEN}"


def test_init_writes_a_given_bridge_chain_into_genesis_and_configs(tmp_path: Path) -> None:
    assert (
        main(["init", "--home", str(tmp_path), "--validators", "2", "--bridge-chain", GIVEN]) == 0
    )
    for home in (tmp_path / "node0", tmp_path / "node1"):
        (chain,) = load_config(home).bridge_chains
        assert (chain.name, chain.chain_id, chain.vault_address) == ("sepolia", 11155111, VAULT)
        assert chain.rpc_url == "https://rpc.example"
        assert (chain.confirmation_depth, chain.poll_interval_ms) == (12, 2_000)
        genesis = json.loads((home / "genesis.json").read_text())
        found = [(c["chain_id"], c["token"], c["symbol"]) for c in genesis["collateral"]]
        assert found == [(11155111, USDC_TOKEN, "USDC"), (11155111, WETH_TOKEN, "WETH")]


def test_a_chain_listing_only_some_tokens_makes_a_valid_genesis(tmp_path: Path) -> None:
    only_usdc = GIVEN.replace(f",WETH={WETH_TOKEN}", "")
    assert main(["init", "--home", str(tmp_path), "--bridge-chain", only_usdc]) == 0
    genesis = parse_genesis(json.loads((tmp_path / "genesis.json").read_text()))
    assert [c.symbol for c in genesis.collateral] == ["USDC"]
    assert genesis.settlement_asset.tokens == ((11155111, bytes.fromhex("22" * 20)),)
    assert "ETH/quantum" not in dict(genesis.index_prices)  # no token uses that feed now


@pytest.mark.parametrize(
    ("option", "key"),
    [
        (GIVEN.replace("https://rpc.example", "rpc.example"), "rpc_url"),
        (GIVEN.replace(VAULT, "0x1234"), "vault"),
        (GIVEN.replace("11155111", "-5"), "chain_id"),
        (GIVEN.replace(USDC_TOKEN, "0xzz"), "USDC"),
        (GIVEN.replace("USDC=", "DAI="), "DAI"),
        (GIVEN.replace("name=sepolia,", ""), "name"),
        (GIVEN + ",confirmation_depth=x", "confirmation_depth"),
        (GIVEN + ",poll_interval_ms=60001", "poll_interval_ms"),
    ],
)
def test_init_refuses_a_bad_bridge_chain_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, key: str
) -> None:
    assert main(["init", "--home", str(tmp_path), "--bridge-chain", option]) == 2
    assert f"key '{key}'" in capsys.readouterr().out
    assert not (tmp_path / "config.toml").exists()


def test_init_refuses_a_deploy_target_that_is_not_name_equals_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--home", str(tmp_path), "--deploy-anvil", "a=localhost:8545"]) == 2
    assert "--deploy-anvil: key 'URL'" in capsys.readouterr().out


def test_init_names_an_anvil_that_does_not_answer_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        assert main(["init", "--home", str(tmp_path), "--deploy-anvil", f"a={url}"]) == 2
    assert f"--deploy-anvil a: key 'URL': expected an anvil answering, found '{url}:" in (
        capsys.readouterr().out
    )
    assert list(tmp_path.iterdir()) == []


def test_init_refuses_a_chain_name_given_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    twice = ["--bridge-chain", GIVEN, "--deploy-anvil", "sepolia=http://127.0.0.1:1"]
    assert main(["init", "--home", str(tmp_path), *twice]) == 2
    assert "key 'name': expected each name once, found 'sepolia'" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_init_names_each_validators_node_so_the_validators_allow_each_other(
    tmp_path: Path,
) -> None:
    assert main(["init", "--home", str(tmp_path), "--validators", "3"]) == 0
    homes = [tmp_path / f"node{i}" for i in range(3)]
    peer_ids = {get_public_keys(home)["peer_id"] for home in homes}
    assert len(peer_ids) == 3
    for home in homes:
        config = load_config(home)
        genesis = load_genesis(config)
        assert {v.peer_id for v in genesis.validators} == peer_ids
        assert get_allowed_peers(config, genesis, genesis.validators) == peer_ids


def test_init_takes_the_stress_days_of_a_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """configs/stress_days.csv replaces the template's days; a bad line stops init, named."""
    days = Path(__file__).resolve().parents[2] / "configs" / "stress_days.csv"
    args = ["init", "--home", str(tmp_path / "a"), "--stress-days", str(days)]
    assert main(args) == 0
    genesis = json.loads((tmp_path / "a" / "genesis.json").read_text())
    labels = [day["label"] for day in genesis["risk"]["stress_days"]]
    assert "2020-03-13" in labels and len(labels) > 1
    bad = tmp_path / "bad.csv"
    bad.write_text("label,underlying,move_bps\n2020-03-13,BTC,-35%\n")
    args = ["init", "--home", str(tmp_path / "b"), "--stress-days", str(bad)]
    assert main(args) == 2
    assert f"{bad}:2: expected label,underlying,integer" in capsys.readouterr().out
    assert not (tmp_path / "b" / "config.toml").exists()


def test_init_for_cometbft_names_the_engine_and_peers_each_cometbft(tmp_path: Path) -> None:
    assert main(["init", "--home", str(tmp_path), "--validators", "3", "--engine", "cometbft",
                 "--p2p-port", "41000", "--api-port", "42000"]) == 0  # fmt: skip
    homes = [tmp_path / f"node{i}" for i in range(3)]
    configs = [load_config(home) for home in homes]
    assert load_genesis(configs[0]).engine == "cometbft"
    comets = [c.cometbft for c in configs]
    assert all(c is not None for c in comets)
    assert [(c.p2p_port, c.metrics_port) for c in comets if c] == [
        (41003, 0),
        (41004, 0),
        (41005, 0),
    ]
    node_ids = [get_node_id(load_key(h / "keys/node_key.json", NODE_KEY).ed25519()) for h in homes]
    assert comets[0] is not None and comets[0].persistent_peers == (
        f"{node_ids[1]}@127.0.0.1:41004", f"{node_ids[2]}@127.0.0.1:41005"
    )  # fmt: skip

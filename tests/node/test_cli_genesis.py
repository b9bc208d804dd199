"""`clearnode init --ceremony` and `clearnode genesis ...`: four homes made apart end with one
genesis, each other as peers and one report seed; a bad file is refused by name and field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clearing.genesis import compute_genesis_hash
from node.cli import main
from node.cometbft.home import get_node_id
from node.config import load_config
from node.keys import HOME_OPERATOR_TOKEN_FILE, NODE_KEY, load_key
from node.reports.seed import load_report_seed

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "configs" / "genesis.example.json"
NETWORK = ["--network", "testnet"]


def init_home(base: Path, i: int, *flags: str) -> Path:
    home = base / f"v{i}"
    ports = ["--p2p-port", str(26656 + i), "--api-port", str(8080 + 2 * i)]
    assert main(["init", "--ceremony", "--home", str(home), "--moniker", f"v{i}", *ports,
                 "--p2p-host", f"10.77.0.{i + 1}", *flags]) == 0  # fmt: skip
    return home


def contribute(base: Path, homes: list[Path]) -> list[Path]:
    files = [base / f"c{i}.json" for i in range(len(homes))]
    for home, path in zip(homes, files, strict=True):
        assert main(["genesis", "contribution", "--home", str(home), *NETWORK,
                     "--out", str(path)]) == 0  # fmt: skip
    return files


def collect(base: Path, files: list[Path]) -> int:
    given = [arg for path in files for arg in ("--contribution", str(path))]
    out = ["--out", str(base / "genesis.json")]
    return main(["genesis", "collect", "--template", str(TEMPLATE), *NETWORK, *given, *out])


def test_four_homes_made_apart_share_one_genesis_their_peers_and_one_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    homes = [init_home(tmp_path, i) for i in range(4)]
    assert not (homes[0] / "genesis.json").exists()
    assert load_config(homes[0]).p2p.listen_host == "10.77.0.1"
    assert collect(tmp_path, contribute(tmp_path, homes)) == 0
    capsys.readouterr()
    shares = [tmp_path / f"s{i}.json" for i in range(4)]
    for home, path in zip(homes, shares, strict=True):
        args = ["--genesis", str(tmp_path / "genesis.json"), "--shares-out", str(path)]
        assert main(["genesis", "check", "--home", str(home), *args]) == 0
    out = capsys.readouterr().out
    printed = set(re.findall(r"genesis hash +(0x[0-9a-f]{64})", out))
    assert len(re.findall(r"genesis hash", out)) == 4
    # the hash members pin: the installed file's, as `GET /v1/genesis` serves it
    installed = {
        "0x" + compute_genesis_hash((h / "genesis.json").read_bytes()).hex() for h in homes
    }
    assert printed == installed and len(printed) == 1
    assert all((h / HOME_OPERATOR_TOKEN_FILE).stat().st_mode & 0o077 == 0 for h in homes)
    configs = [load_config(home) for home in homes]
    for i, config in enumerate(configs):
        assert json.loads(config.genesis_file.read_text())["validators"][i]["name"] == f"v{i}"
        assert [p.split("/")[2] for p in config.p2p.persistent_peers] == [
            f"10.77.0.{j + 1}" for j in range(4) if j != i
        ]
    given = [arg for path in shares for arg in ("--shares", str(path))]
    ceremony = ["--ceremony", str(tmp_path / "genesis.ceremony.json")]
    for home in homes:
        assert main(["genesis", "seed", "--home", str(home), *ceremony, *given]) == 0
    seeds = {load_report_seed(c.home / c.reports.seed_file) for c in configs}
    (seed,) = seeds
    seen_by_coordinator = [path.read_text() for path in tmp_path.glob("*.json")]
    assert len(seen_by_coordinator) == 4 + 4 + 2
    assert not any(seed.hex() in text for text in seen_by_coordinator)


def test_collect_refuses_a_tampered_or_repeated_contribution(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    homes = [init_home(tmp_path, i) for i in range(2)]
    files = contribute(tmp_path, homes)
    capsys.readouterr()
    assert collect(tmp_path, [files[0], files[1], files[0]]) == 2
    assert f"{files[0]}: name: the same as contribution 1 ({files[0]})" in capsys.readouterr().out
    doc = json.loads(files[1].read_text())
    files[1].write_text(json.dumps({**doc, "power": 1000}))
    assert collect(tmp_path, files) == 2
    assert f"{files[1]}: signature:" in capsys.readouterr().out
    assert not (tmp_path / "genesis.json").exists()


def test_check_refuses_a_genesis_that_is_not_the_contributions_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    homes = [init_home(tmp_path, i) for i in range(3)]
    assert collect(tmp_path, contribute(tmp_path, homes[:2])) == 0
    genesis = tmp_path / "genesis.json"
    capsys.readouterr()
    assert main(["genesis", "check", "--home", str(homes[2]), "--genesis", str(genesis)]) == 2
    assert "validators: no entry for this home's validator key" in capsys.readouterr().out
    doc = json.loads(genesis.read_text())
    doc["validators"][0]["power"] = 1000
    genesis.write_text(json.dumps(doc))
    assert main(["genesis", "check", "--home", str(homes[0]), "--genesis", str(genesis)]) == 2
    assert f"{genesis}: (hash):" in capsys.readouterr().out
    assert not (homes[0] / "genesis.json").exists()
    assert load_config(homes[0]).p2p.persistent_peers == ()


def test_a_home_listening_everywhere_announces_its_external_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "a"
    assert main(["init", "--ceremony", "--home", str(home), "--p2p-host", "0.0.0.0"]) == 0
    capsys.readouterr()
    assert main(["genesis", "contribution", "--home", str(home), *NETWORK]) == 2
    assert "p2p.external_address" in capsys.readouterr().out
    flags = ["--p2p-host", "0.0.0.0", "--external-address", "node.example.org:30000"]
    assert main(["init", "--ceremony", "--home", str(tmp_path / "b"), *flags]) == 0
    capsys.readouterr()
    assert main(["genesis", "contribution", "--home", str(tmp_path / "b"), *NETWORK]) == 0
    assert json.loads(capsys.readouterr().out)["p2p_address"] == "/dns4/node.example.org/tcp/30000"


def test_on_a_cometbft_network_each_home_gets_the_others_cometbft_as_peers(
    tmp_path: Path,
) -> None:
    """The template names CometBFT: `genesis check` installs `[cometbft] persistent_peers`,
    each the node id of a contributor's node key at its announced CometBFT address."""
    template = tmp_path / "template.json"
    template.write_text(json.dumps({**json.loads(TEMPLATE.read_text()), "engine": "cometbft"}))
    homes = [init_home(tmp_path, i) for i in range(3)]
    given = [arg for path in contribute(tmp_path, homes) for arg in ("--contribution", str(path))]
    out = ["--out", str(tmp_path / "genesis.json")]
    assert main(["genesis", "collect", "--template", str(template), *NETWORK, *given, *out]) == 0
    args = ["--genesis", str(tmp_path / "genesis.json"), "--shares-out", str(tmp_path / "s.json")]
    for _ in range(2):  # the second finds the table the first added, and rewrites it
        assert main(["genesis", "check", "--home", str(homes[0]), *args]) == 0
    assert (homes[0] / "config.toml").read_text().count("[cometbft]") == 1
    comet = load_config(homes[0]).cometbft
    node_ids = [
        get_node_id(load_key(h / "keys" / "node_key.json", NODE_KEY).ed25519()) for h in homes
    ]
    assert comet is not None and comet.persistent_peers == (
        f"{node_ids[1]}@10.77.0.2:26666", f"{node_ids[2]}@10.77.0.3:26666"
    )  # fmt: skip

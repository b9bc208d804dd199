"""`clearnode init --ceremony` and `clearnode genesis ...`: four homes made apart end with one
genesis, each other as peers and one report seed; a bad file is refused by name and field,
and so is a genesis with the devnet's public test keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clearing.genesis import compute_genesis_hash
from clearnode.client.sandbox_keys import derive_seed
from node.commands import main
from node.config import load_config
from node.keys import (
    HOME_KEY_FILES,
    HOME_OPERATOR_TOKEN_FILE,
    NODE_KEY,
    VALIDATOR_KEY,
    VENUE_KEY,
    KeyFile,
    get_node_id,
    load_key,
    save_key,
)
from node.reports.seed import load_report_seed

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "genesis.example.json"
NETWORK = ["--network", "testnet"]
CHAIN_ID = "4242"  # `init --ceremony`'s default


def make_venue_key(path: Path, capsys: pytest.CaptureFixture[str], venue: str = "alpha") -> str:
    """`clearnode keys venue`: the `--venue` argument of the genesis entry it printed."""
    capsys.readouterr()
    assert main(["keys", "venue", "--id", venue, "--out", str(path)]) == 0
    entry = json.loads(capsys.readouterr().out)
    return f"{entry['id']}={entry['pubkey']}"


def make_template(base: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> Path:
    """The coordinator's template: `genesis template` with a venue key of its own."""
    venue = make_venue_key(base / "venue" / "alpha.json", capsys)
    template = base / "template.json"
    args = ["--chain-id", CHAIN_ID, "--venue", venue, "--out", str(template), *flags]
    assert main(["genesis", "template", *args]) == 0
    return template


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


def collect(base: Path, files: list[Path], template: Path) -> int:
    given = [arg for path in files for arg in ("--contribution", str(path))]
    out = ["--out", str(base / "genesis.json")]
    return main(["genesis", "collect", "--template", str(template), *NETWORK, *given, *out])


def test_four_homes_made_apart_share_one_genesis_their_peers_and_one_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    homes = [init_home(tmp_path, i) for i in range(4)]
    assert not (homes[0] / "genesis.json").exists()
    assert load_config(homes[0]).p2p.listen_host == "10.77.0.1"
    template = make_template(tmp_path / "coordinator", capsys)
    assert collect(tmp_path, contribute(tmp_path, homes), template) == 0
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
        assert (home / "keys" / "ceremony_secret.json").exists()
        assert main(["genesis", "seed", "--home", str(home), *ceremony, *given]) == 0
        # the seed is made: what it was made of leaves the keys (and their backups)
        assert not (home / "keys" / "ceremony_secret.json").exists()
    assert "deleted" in capsys.readouterr().out
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
    template = make_template(tmp_path / "coordinator", capsys)
    assert collect(tmp_path, [files[0], files[1], files[0]], template) == 2
    assert f"{files[0]}: name: the same as contribution 1 ({files[0]})" in capsys.readouterr().out
    doc = json.loads(files[1].read_text())
    files[1].write_text(json.dumps({**doc, "power": 1000}))
    assert collect(tmp_path, files, template) == 2
    assert f"{files[1]}: signature:" in capsys.readouterr().out
    assert not (tmp_path / "genesis.json").exists()


def test_check_refuses_a_genesis_that_is_not_the_contributions_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    homes = [init_home(tmp_path, i) for i in range(3)]
    template = make_template(tmp_path / "coordinator", capsys)
    assert collect(tmp_path, contribute(tmp_path, homes[:2]), template) == 0
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
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The template names CometBFT: `genesis check` installs `[cometbft] persistent_peers`,
    each the node id of a contributor's node key at its announced CometBFT address."""
    template = make_template(tmp_path / "coordinator", capsys, "--engine", "cometbft")
    homes = [init_home(tmp_path, i) for i in range(3)]
    assert collect(tmp_path, contribute(tmp_path, homes), template) == 0
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


def test_the_template_is_the_example_genesis_with_its_venues_and_no_validators(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venues = [make_venue_key(tmp_path / f"{v}.json", capsys, v) for v in ("alpha", "beta")]
    template = tmp_path / "template.json"
    args = ["--chain-id", "7001", "--out", str(template)]
    assert main(["genesis", "template", *args, "--venue", venues[0], "--venue", venues[1]]) == 0
    assert "venues       alpha, beta" in capsys.readouterr().out
    example, doc = json.loads(EXAMPLE.read_text()), json.loads(template.read_text())
    assert doc["validators"] == [] and doc["chain_id"] == 7001 and "engine" not in doc
    assert [f"{v['id']}={v['pubkey']}" for v in doc["venues"]] == venues
    rest = {"validators", "chain_id", "venues"}
    assert {k: v for k, v in doc.items() if k not in rest} == {
        k: v for k, v in example.items() if k not in rest
    }
    assert main(["genesis", "template", *args]) == 2  # the coordinator's edits stay
    assert "already exists; refusing to overwrite" in capsys.readouterr().out
    assert json.loads(template.read_text()) == doc


@pytest.mark.parametrize(
    ("venue", "refusal"),
    [
        ("alpha=0x1234", "--venue alpha=0x1234: pubkey: expected 0x-hex of 32 bytes"),
        ("=0x" + "11" * 32, "id: expected a non-empty string"),
        (
            f"alpha={json.loads(EXAMPLE.read_text())['venues'][0]['pubkey']}",
            "--venue: venues[0].pubkey: venue alpha's key is a public test key of the devnet "
            "(derived from the public name 'venue-alpha' by clearnode/client/sandbox_keys.py): "
            "anyone can sign with it; make its own: clearnode keys venue --id alpha --out FILE",
        ),
    ],
)
def test_the_template_refuses_a_bad_or_public_venue_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], venue: str, refusal: str
) -> None:
    args = ["--chain-id", "7001", "--venue", venue, "--out", str(tmp_path / "t.json")]
    assert main(["genesis", "template", *args]) == 2
    out = capsys.readouterr().out
    assert out.startswith("clearnode genesis template: ") and refusal in out, out
    assert out.count("\n") == 1 and not (tmp_path / "t.json").exists()


def test_collect_refuses_the_devnets_public_test_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example genesis as the template (its venue's key derives from `venue-alpha`), or a
    contribution whose validator key is the example's `validator-0`: exit 2, one line naming
    the file, the key and why; nothing written."""
    sandboxed = tmp_path / "v0"
    seed = derive_seed("validator-0")
    save_key(sandboxed / HOME_KEY_FILES[VALIDATOR_KEY], KeyFile(VALIDATOR_KEY, seed))
    homes = [init_home(tmp_path, i) for i in range(2)]  # v0 keeps the key found
    files = contribute(tmp_path, homes)
    template = make_template(tmp_path / "coordinator", capsys)
    capsys.readouterr()
    assert collect(tmp_path, files[1:], EXAMPLE) == 2
    out = capsys.readouterr().out
    assert out == (
        f"clearnode genesis collect: {EXAMPLE}: venues[0].pubkey: venue alpha's key is a public "
        "test key of the devnet (derived from the public name 'venue-alpha' by "
        "clearnode/client/sandbox_keys.py): anyone can sign with it; make its own: "
        "clearnode keys venue --id alpha --out FILE\n"
    )
    assert collect(tmp_path, files, template) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"clearnode genesis collect: {files[0]}: validator_pubkey: ")
    assert "validator v0's consensus key is a public test key" in out
    assert "'validator-0'" in out and out.count("\n") == 1
    assert not (tmp_path / "genesis.json").exists()


def test_a_venue_key_is_new_private_and_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "venue_keys" / "alpha.json"
    printed = make_venue_key(path, capsys)
    key = load_key(path, VENUE_KEY)  # 0600, or it would not load
    assert printed == f"alpha=0x{key.public_key().hex()}"
    before = path.read_bytes()
    assert make_venue_key(path, capsys) == printed and path.read_bytes() == before
    assert make_venue_key(tmp_path / "other.json", capsys) != printed
    assert main(["keys", "venue", "--out", str(tmp_path / "x.json")]) == 2
    assert capsys.readouterr().out == "clearnode keys venue: needs --id\n"
    assert main(["keys", "venue", "--id", "", "--out", str(tmp_path / "x.json")]) == 2
    assert "--id: expected a non-empty string" in capsys.readouterr().out
    assert not (tmp_path / "x.json").exists()

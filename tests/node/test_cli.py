"""The CLI: init (single node and a local testnet), keys, start's pre-flight checks,
status against a real API server, and the JSON log format."""

from __future__ import annotations

import ast
import copy
import gc
import importlib.util
import io
import json
import logging
import os
import re
import socket
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import trio

from clearing.genesis import compute_genesis_hash, parse_genesis
from devnet.sandbox import Sandbox
from lightclient.anchor import COMETBFT
from node.api.http import get_bound_port
from node.api.node_interface import LocalNode
from node.api.server import ApiApp, serve_api
from node.cometbft.home import MAX_SOCKET_PATH_BYTES
from node.commands import get_command_modules, get_summary, main
from node.commands.start import check_home
from node.config import load_config
from node.config_table import ConfigError
from node.gc_policy import GC_THRESHOLDS
from node.keys import KeyFileError
from node.logs import setup_logging
from node.mempool import Mempool
from node.storage import NodeStore
from tests.node.netproc import get_free_port
from tests.vectors.make_reports import NOW_MS, REPORTS

ROOT = Path(__file__).resolve().parents[2]
GENESIS = json.loads((ROOT / "configs" / "genesis.example.json").read_text())


def test_init_single_node_home_is_startable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "n"
    assert main(["init", "--home", str(home), "--chain-id", "77"]) == 0
    config = check_home(home)
    assert config.chain_id == 77
    genesis = parse_genesis(json.loads((home / "genesis.json").read_text()))
    assert len(genesis.validators) == 1
    for name in ("node_key.json", "validator_key.json", "bridge_key.json"):
        assert stat.S_IMODE((home / "keys" / name).stat().st_mode) == 0o600
    capsys.readouterr()
    assert main(["keys", "--home", str(home)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["validator_pubkey"] == "0x" + genesis.validators[0].pubkey.hex()
    assert shown["bridge_address"] == "0x" + genesis.validators[0].evm_address.hex()
    assert "secret" not in json.dumps(shown)
    assert main(["init", "--home", str(home)]) == 2  # never overwrites


def test_init_local_testnet_shares_genesis_and_peers(tmp_path: Path) -> None:
    assert main(["init", "--home", str(tmp_path), "--validators", "3", "--p2p-port", "5000"]) == 0
    homes = [tmp_path / f"node{i}" for i in range(3)]
    geneses = {(h / "genesis.json").read_text() for h in homes}
    assert len(geneses) == 1
    assert len(json.loads(geneses.pop())["validators"]) == 3
    configs = [load_config(h) for h in homes]
    assert [c.p2p.listen_port for c in configs] == [5000, 5001, 5002]
    assert all(len(c.p2p.persistent_peers) == 2 for c in configs)
    assert "/tcp/5001/" in configs[0].p2p.persistent_peers[0]


def test_start_preflight_names_what_is_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "n"
    main(["init", "--home", str(home)])
    config_file = home / "config.toml"
    config_file.write_text(config_file.read_text().replace("chain_id = 4242", "chain_id = 5"))
    with pytest.raises(ConfigError) as info:
        check_home(home)
    assert info.value.key == "chain_id" and "genesis chain_id 4242" in info.value.expected
    capsys.readouterr()
    assert main(["start", "--home", str(home)]) == 2
    assert "chain_id" in capsys.readouterr().out
    config_file.write_text(config_file.read_text().replace("chain_id = 5", "chain_id = 4242"))
    genesis_file = home / "genesis.json"
    doc = json.loads(genesis_file.read_text())
    doc["validators"][0]["power"] = -1
    genesis_file.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        check_home(home)
    assert info.value.file == genesis_file and info.value.key == "validators[0].power"
    doc["validators"][0]["power"] = 1
    doc["risk"]["extreme_multiple"] = 100  # 100 scan ranges down: every price below zero
    genesis_file.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as info:
        check_home(home)
    assert info.value.key.startswith("risk.underlyings.") and info.value.key.endswith(".scan_bps")
    genesis_file.write_text("{")
    with pytest.raises(ConfigError, match="valid JSON"):
        check_home(home)


def test_start_refuses_an_empty_block_wait_its_engines_propose_timeout_does_not_cover(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The genesis names the engine, whose defaults fill in `[consensus]`: 2.5 s is below
    our engine's propose timeout (3 s), not CometBFT's (2 s). Refused before anything is
    written."""
    home = tmp_path / "n"
    main(["init", "--home", str(home)])
    config_file = home / "config.toml"
    table = "[consensus]\ncreate_empty_blocks_interval_ms = 2500\n"
    config_file.write_text(config_file.read_text() + table)
    check_home(home)
    genesis_file = home / "genesis.json"
    genesis_file.write_text(
        json.dumps({**json.loads(genesis_file.read_text()), "engine": COMETBFT})
    )
    with pytest.raises(ConfigError) as info:
        check_home(home)
    assert (info.value.key, info.value.found) == ("consensus.create_empty_blocks_interval_ms", 2500)
    assert info.value.expected == (
        "below consensus.timeout_propose_ms (2000, the cometbft engine's default)"
    )
    capsys.readouterr()
    written = sorted(home.iterdir())
    assert main(["start", "--home", str(home)]) == 2
    assert "create_empty_blocks_interval_ms" in capsys.readouterr().out
    assert sorted(home.iterdir()) == written  # no data directory, no CometBFT home


def test_start_refuses_a_malformed_peer_address_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in a peer's port used to pass the check and end the node 3 s after start in
    an 88-line traceback, which systemd's Restart=on-failure repeated forever."""
    home = tmp_path / "n"
    main(["init", "--home", str(home), "--validators", "2"])
    node = home / "node0"
    config_file = node / "config.toml"
    text = config_file.read_text()
    typo = re.sub(r"/tcp/(\d+)/p2p/", r"/tcp/\g<1>b/p2p/", text, count=1)
    assert typo != text
    config_file.write_text(typo)
    capsys.readouterr()
    written = sorted(node.iterdir())
    assert main(["start", "--home", str(node)]) == 2
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1 and "p2p.persistent_peers[0]" in out and "b/p2p/" in out
    assert sorted(node.iterdir()) == written


def test_start_refuses_a_cometbft_home_too_long_for_its_sockets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CometBFT's RPC and the app's ABCI are Unix sockets in the CometBFT home, whose
    paths an address holds up to 107 bytes: a longer one is refused before anything is
    written, naming the key and the socket's path."""
    home = tmp_path / "n"
    main(["init", "--home", str(home), "--engine", COMETBFT])
    config_file = home / "config.toml"
    deep = home / ("d" * (MAX_SOCKET_PATH_BYTES - len(f"{home}/") - len("/abci.sock")))
    config_file.write_text(
        config_file.read_text().replace("[cometbft]\n", f"[cometbft]\nhome = '{deep}'\n")
    )
    check_home(home)  # 107 bytes for abci.sock, 106 for rpc.sock: both fit
    config_file.write_text(config_file.read_text().replace(str(deep), f"{deep}d"))
    with pytest.raises(ConfigError) as info:
        check_home(home)
    assert info.value.key == "cometbft.home"
    assert info.value.found == f"{deep}d/abci.sock ({MAX_SOCKET_PATH_BYTES + 1} bytes)"
    capsys.readouterr()
    written = sorted(home.iterdir())
    assert main(["start", "--home", str(home)]) == 2
    assert "key 'cometbft.home'" in capsys.readouterr().out
    assert sorted(home.iterdir()) == written


def test_start_names_an_unusable_data_directory_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "n"
    main(["init", "--home", str(home)])
    store = load_config(home).storage.path
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b"this is not an SQLite database" * 100)
    capsys.readouterr()
    thresholds = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's default
    try:
        assert main(["start", "--home", str(home)]) == 2
        assert gc.get_threshold() == GC_THRESHOLDS  # set before the store was opened
    finally:
        gc.set_threshold(*thresholds)
    err = capsys.readouterr().err
    assert f"clearnode start: {store}" in err and "not a usable node database" in err
    assert "Traceback" not in err


def test_start_names_a_store_of_another_genesis_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The node ran on its genesis; the file then changed by one byte (its time's last
    digit): the start stops with one line naming both hashes, the store and the file."""
    home = tmp_path / "n"
    main(["init", "--home", str(home)])
    config = load_config(home)
    made_with = compute_genesis_hash(config.genesis_file.read_bytes())
    with NodeStore(config.storage.path) as store:
        store.bind_genesis(made_with, config.genesis_file)  # as its first start did
    text = config.genesis_file.read_text()
    time_ms = json.loads(text)["genesis_time_ms"]
    config.genesis_file.write_text(text.replace(str(time_ms), str(time_ms + 1)))
    changed = compute_genesis_hash(config.genesis_file.read_bytes())
    capsys.readouterr()
    assert main(["start", "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if not line.startswith("{")] == [
        f"clearnode start: {config.storage.path} holds the chain of genesis 0x{made_with.hex()}, "
        f"and {config.genesis_file} is genesis 0x{changed.hex()}: start with the genesis the "
        "store was made with, or move the data aside to join the network of this one"
    ]


@pytest.mark.parametrize("key", ["p2p.listen_port", "api.listen_port"])
def test_start_names_a_port_in_use_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    home = tmp_path / "n"
    p2p, api = get_free_port(), get_free_port()
    main(["init", "--home", str(home), "--p2p-port", str(p2p), "--api-port", str(api)])
    taken = p2p if key.startswith("p2p") else api
    capsys.readouterr()
    with socket.socket() as other_node:
        other_node.bind(("127.0.0.1", taken))
        other_node.listen()
        assert main(["start", "--home", str(home)]) == 2
    out = capsys.readouterr().out.strip()
    assert len(out.splitlines()) == 1, out
    assert f"key '{key}'" in out and str(taken) in out


def test_start_refuses_a_readable_key(tmp_path: Path) -> None:
    home = tmp_path / "n"
    main(["init", "--home", str(home)])
    os.chmod(home / "keys" / "node_key.json", 0o644)
    with pytest.raises(KeyFileError, match="too open"):
        check_home(home)


def test_start_refuses_a_readable_operator_token(tmp_path: Path) -> None:
    """Anyone on the host who reads it reads every member's margin health."""
    home = tmp_path / "n"
    main(["init", "--home", str(home)])
    check_home(home)
    os.chmod(home / "keys" / "operator_token", 0o640)
    with pytest.raises(KeyFileError, match="too open"):
        check_home(home)


async def test_status_queries_a_running_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    box = Sandbox.from_genesis_doc(copy.deepcopy(GENESIS))
    node = LocalNode(box.chain_id, "st", Mempool(lambda tx: None), lambda: box.state)  # type: ignore[arg-type, return-value]
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            lambda task_status: serve_api(
                ApiApp(node), "127.0.0.1", 0, max_body_bytes=4096, task_status=task_status
            )
        )
        url = f"http://127.0.0.1:{get_bound_port(listeners)}"
        code = await trio.to_thread.run_sync(main, ["status", "--api", url])
        nursery.cancel_scope.cancel()
    assert code == 0
    assert json.loads(capsys.readouterr().out)["moniker"] == "st"


def test_status_without_a_node_fails_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--api", "http://127.0.0.1:9", "--timeout", "2"]) == 1
    assert "no answer" in capsys.readouterr().out


def test_version_is_the_packaged_one_and_has_a_changelog_entry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"clearnode {version}"
    headings = (ROOT / "CHANGELOG.md").read_text().splitlines()
    assert any(line.startswith(f"## {version}") for line in headings)


IMPORTED = """
import sys
from node.commands import get_command_modules, main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(sorted(name for name, module in get_command_modules().items() if module in sys.modules))
print(sorted({name.split(".")[0] for name, module in sys.modules.items() if module}))
"""
FAST_COMMANDS_NEVER_LOAD = {"web3", "py_ecc", "httpx", "trio", "libp2p"}
"""What `clearnode --help`, `status` and `verify` must not import: each is tenths of a
second of their start-up (python -m bench commands: 300 ms targets, 500 for verify's).
py_ecc is the verifier's group arithmetic only where the native core is absent."""


def run_fresh(argv: list[str]) -> tuple[set[str], set[str]]:
    """What a fresh interpreter imports to run `clearnode ARGV`: the commands' modules,
    and the top-level names of every module loaded."""
    done = subprocess.run([sys.executable, "-c", IMPORTED, *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    commands, roots = done.stdout.strip().splitlines()[-2:]
    return set(ast.literal_eval(commands)), set(ast.literal_eval(roots))


def get_never_loaded() -> set[str]:
    if importlib.util.find_spec("clearnode_native") is None:
        return FAST_COMMANDS_NEVER_LOAD - {"py_ecc"}
    return FAST_COMMANDS_NEVER_LOAD


def test_a_command_line_imports_only_the_command_it_names() -> None:
    """`clearnode gov vote` must not pay for the devnet's, relay's and start's imports
    (seconds each); help and a mistyped command list every command by its SUMMARY, read
    from its source, and import none (1.5 s down to 0.1: python -m bench commands). The
    fast commands load none of the heavy libraries, a whole verify of a report included."""
    modules = get_command_modules()
    every = set(modules)
    assert {"devnet", "relay", "start"} <= every
    never = get_never_loaded()
    for command in ("gov", "keys", "verify"):
        imported, roots = run_fresh([command, "--help"])
        assert command in imported and not imported & {"devnet", "relay", "start"}, imported
        if command == "verify":
            assert roots & never == set()
    imported, roots = run_fresh(["--help"])
    assert imported == set() and roots & never == set()
    assert run_fresh(["no-such-command"])[0] == set()
    valid = REPORTS / "valid" / "report.bin"
    for argv in (
        ["status", "--api", f"http://127.0.0.1:{get_free_port()}"],
        ["verify", str(valid), "--genesis", str(REPORTS / "genesis.json"), "--now", str(NOW_MS)],
    ):
        imported, roots = run_fresh(argv)
        assert imported == {argv[0]} and roots & never == set(), (argv, roots & never)
    assert all(get_summary(modules[name]) for name in every)


def test_json_logs_carry_extra_fields_and_libp2p_records() -> None:
    out = io.StringIO()
    handler = setup_logging("info", out)
    try:
        logging.getLogger("node.test").info("hello %s", "x", extra={"height": 3})
        lib = logging.getLogger("libp2p.pubsub")
        lib.propagate = False  # what the library does on import
        from node.logs import route_libp2p_logs

        route_libp2p_logs()
        lib.error("from the library")
        requests = logging.getLogger("httpx")  # a line per request: not in the node's log
        requests.info('HTTP Request: POST http://cometbft "HTTP/1.1 200 OK"')
        requests.warning("kept")
    finally:
        logging.getLogger().removeHandler(handler)
    first, second, third = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "hello x" and first["height"] == 3 and first["level"] == "info"
    assert second["logger"] == "libp2p.pubsub" and second["level"] == "error"
    assert third["logger"] == "httpx" and third["message"] == "kept"

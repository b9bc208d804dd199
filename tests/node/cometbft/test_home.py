"""The CometBFT config a node writes: every timeout the node's liveness counts is the one
CometBFT runs, the node's `[consensus]` table's or CometBFT's defaults, only p2p listens
beyond loopback and no TCP port serves the RPC (a socket in the 0700 home), and it asks
the app about every peer, and writes no key the pinned CometBFT does not read; a libp2p
peer id names the CometBFT node of the same key."""

from __future__ import annotations

import hashlib
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import base58
import pytest

from clearing.genesis import compute_genesis_hash, parse_genesis
from clearnode.client.sandbox_keys import derive_ed25519_key
from consensus.state_machine import TimeoutConfig
from lightclient.anchor import COMETBFT
from node.cometbft.home import (
    FLUSH_THROTTLE_MS,
    MAX_SOCKET_PATH_BYTES,
    PEER_GOSSIP_SLEEP_MS,
    Listeners,
    SocketPathTooLong,
    TrustedBlock,
    build_config_toml,
    check_home_genesis,
    write_home,
)
from node.cometbft.process import find_binary
from node.cometbft.runtime import get_listeners
from node.config import CONFIG_FILE_NAME, ENGINE_TIMEOUTS, get_timeouts, load_config
from node.keys import (
    NODE_KEY,
    SHA256_MULTIHASH,
    KeyFile,
    PeerIdError,
    compute_peer_id,
    get_node_id,
    get_peer_node_id,
)
from node.liveness import get_stall_limit_ms
from node.storage import OtherGenesisStore
from tests.clearing.support import genesis_doc

DEFAULTS = ENGINE_TIMEOUTS[COMETBFT]


def read_consensus(timeouts: TimeoutConfig) -> dict[str, object]:
    """The `[consensus]` table of CometBFT's config.toml written with `timeouts`."""
    consensus = read_config(timeouts)["consensus"]
    assert isinstance(consensus, dict)
    return consensus


def read_config(timeouts: TimeoutConfig) -> dict[str, object]:
    listeners = Listeners("0.0.0.0", 26666, 26670)
    text = build_config_toml("v0", Path("/h"), listeners, (), timeouts)
    return tomllib.loads(text)


def test_each_timeout_is_written_in_cometbfts_own_key() -> None:
    consensus = read_consensus(TimeoutConfig(1100, 110, 600, 60, 700, 70, 80, 900))
    written = {key: value for key, value in consensus.items() if "timeout" in key}
    assert written == {
        "timeout_propose": "1100ms",
        "timeout_propose_delta": "110ms",
        "timeout_prevote": "600ms",
        "timeout_prevote_delta": "60ms",
        "timeout_precommit": "700ms",
        "timeout_precommit_delta": "70ms",
        "timeout_commit": "80ms",
    }
    assert "create_empty_blocks_interval" not in written  # the app waits: below


def test_the_nodes_consensus_table_is_what_cometbft_runs_and_the_stall_limit_counts(
    tmp_path: Path,
) -> None:
    """The keys `[consensus]` sets; CometBFT's defaults for the rest (not our engine's)."""
    (tmp_path / CONFIG_FILE_NAME).write_text(
        "chain_id = 7\nmoniker = 'v0'\n[consensus]\n"
        "timeout_propose_ms = 1200\ntimeout_prevote_delta_ms = 250\n"
    )
    timeouts = get_timeouts(load_config(tmp_path), COMETBFT)
    consensus = read_consensus(timeouts)
    assert (consensus["timeout_propose"], consensus["timeout_prevote_delta"]) == ("1200ms", "250ms")
    assert consensus["timeout_prevote"] == f"{DEFAULTS.prevote_ms}ms" == "500ms"
    assert consensus["timeout_commit"] == "20ms"
    rounds = (1200 + 500 + 500) + (1200 + 500 + 500 + 500 + 250 + 500)
    assert get_stall_limit_ms(timeouts) == 1000 + rounds + 20
    assert get_stall_limit_ms(DEFAULTS) == 8_520


def test_only_p2p_listens_beyond_loopback_and_the_rpc_on_no_port() -> None:
    config: dict[str, Any] = read_config(DEFAULTS)
    assert (config["proxy_app"], config["rpc"]["laddr"]) == (
        "unix:///h/abci.sock", "unix:///h/rpc.sock"
    )  # fmt: skip
    off = (
        config["rpc"]["grpc_laddr"],
        config["rpc"]["pprof_laddr"],
        config["priv_validator_laddr"],
    )
    assert off == ("", "", "")
    assert config["instrumentation"]["prometheus_listen_addr"] == "127.0.0.1:26670"
    assert config["p2p"]["laddr"] == "tcp://0.0.0.0:26666"


def test_the_profiler_listens_on_loopback_only_when_the_operator_sets_its_port(
    tmp_path: Path,
) -> None:
    """`[cometbft] pprof_port`: its heap and goroutine dumps may hold transactions, so it
    is off unless set, and on 127.0.0.1 whatever host p2p listens on."""
    base = "chain_id = 7\nmoniker = 'v0'\n[p2p]\nlisten_host = '0.0.0.0'\n[cometbft]\n"
    found = []
    for table in ("", "pprof_port = 6061\n"):
        (tmp_path / CONFIG_FILE_NAME).write_text(base + table)
        config = load_config(tmp_path)
        assert config.cometbft is not None
        listeners = get_listeners(config, config.cometbft)
        text = build_config_toml("v0", Path("/h"), listeners, (), DEFAULTS)
        found.append(tomllib.loads(text)["rpc"]["pprof_laddr"])
    assert found == ["", "127.0.0.1:6061"]


def test_state_sync_is_on_only_with_a_trusted_block_and_reads_the_peers_through_the_relays() -> (
    None
):
    assert "statesync" not in read_config(DEFAULTS)  # CometBFT's default: off
    listeners = Listeners("0.0.0.0", 26666, 26670)
    trusted = TrustedBlock(1, bytes(range(32)))
    text = build_config_toml("v0", Path("/h"), listeners, (), DEFAULTS, trusted)
    assert tomllib.loads(text)["statesync"] == {
        "enable": True,
        # its light client's two RPC servers: relays to two different peers, no RPC port
        "rpc_servers": "unix:///h/lc-0.sock,unix:///h/lc-1.sock",
        "trust_height": 1,
        "trust_hash": bytes(range(32)).hex().upper(),
        "trust_period": f"{14 * 24 * 3600 * 1000}ms",  # the light clients' trusting period
        "discovery_time": "5000ms",
    }


def list_keys(table: dict[str, Any], prefix: str = "") -> set[str]:
    """Every key of a TOML document, a table's as `table.key`."""
    keys = set()
    for key, value in table.items():
        keys.add(prefix + key)
        if isinstance(value, dict):
            keys |= list_keys(value, f"{prefix}{key}.")
    return keys


def test_every_key_the_node_writes_is_one_the_pinned_cometbft_reads(tmp_path: Path) -> None:
    """CometBFT ignores a key it does not know: a misspelt one would leave its default
    running unseen. The keys of the fullest config a node writes (state sync and the
    profiler on) against those `cometbft init` writes, all of its settings."""
    subprocess.run([find_binary(), "init", "--home", tmp_path], check=True, capture_output=True)
    theirs = list_keys(tomllib.loads((tmp_path / "config" / "config.toml").read_text()))
    listeners = Listeners("0.0.0.0", 26666, 26670, pprof_port=6061)
    trusted = TrustedBlock(1, bytes(range(32)))
    text = build_config_toml("v0", Path("/h"), listeners, (), DEFAULTS, trusted)
    ours = list_keys(tomllib.loads(text))
    assert {"p2p.flush_throttle_timeout", "consensus.peer_gossip_sleep_duration"} <= ours
    assert ours - theirs == set()


def test_the_peer_links_flush_and_gossip_within_milliseconds() -> None:
    config: dict[str, Any] = read_config(DEFAULTS)
    assert config["p2p"]["flush_throttle_timeout"] == f"{FLUSH_THROTTLE_MS}ms" == "2ms"
    assert config["consensus"]["peer_gossip_sleep_duration"] == f"{PEER_GOSSIP_SLEEP_MS}ms"


def test_cometbft_runs_no_mempool_and_enters_each_height_s_propose_step_at_once() -> None:
    """The node's mempool holds the transactions (node/startup/tx_gossip.py); with none
    of its own CometBFT cannot wait for one, so it proposes at once and the app's
    PrepareProposal waits the node's `create_empty_blocks_interval_ms` (abci.py)."""
    config: dict[str, Any] = read_config(DEFAULTS)
    assert config["mempool"] == {"type": "nop"}
    consensus = config["consensus"]
    assert (consensus["create_empty_blocks"], consensus["create_empty_blocks_interval"]) == (
        True,
        "0s",
    )


def test_cometbft_keeps_no_per_height_copy_of_what_the_app_stores() -> None:
    config: dict[str, Any] = read_config(DEFAULTS)
    assert config["storage"]["discard_abci_responses"] is True
    assert config["tx_index"]["indexer"] == "null"


def write_one(home: Path) -> None:
    doc = genesis_doc()
    write_home(
        home,
        moniker="v0",
        genesis=parse_genesis(doc),
        genesis_hash=compute_genesis_hash(repr(doc).encode()),
        node_key=derive_ed25519_key("node-0"),
        validator_key=derive_ed25519_key("validator-0"),
        listeners=Listeners("127.0.0.1", 26666),
        timeouts=DEFAULTS,
    )


def test_the_home_is_the_nodes_users_alone_even_one_made_open(tmp_path: Path) -> None:
    """Its sockets, keys and stores of every block's transactions: 0700 whatever the
    umask, and a home an older node left 0755 is closed at the next write."""
    home = tmp_path / "cometbft"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    write_one(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_a_home_too_long_for_its_sockets_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    home = tmp_path / ("d" * (MAX_SOCKET_PATH_BYTES - len(f"{tmp_path}/") - len("/abci.sock")))
    write_one(home)  # abci.sock's path at 107 bytes, the longest an address holds
    longer = Path(f"{home}d")
    with pytest.raises(SocketPathTooLong) as raised:
        write_one(longer)
    assert (raised.value.path, raised.value.size) == (longer / "abci.sock", 108)
    assert str(raised.value).startswith(f"{longer}/abci.sock is 108 bytes, a Unix socket's")
    assert not longer.exists()


def test_cometbft_asks_the_app_about_every_peer() -> None:
    assert read_config(DEFAULTS)["filter_peers"] is True


def test_a_peer_id_names_the_cometbft_node_of_the_same_key() -> None:
    for name in ("node-0", "node-1", "observer"):
        key = derive_ed25519_key(name)
        peer_id = compute_peer_id(KeyFile(NODE_KEY, key.private_bytes_raw()))  # py-libp2p's
        assert get_peer_node_id(peer_id) == get_node_id(key)


@pytest.mark.parametrize(
    "peer_id",
    [
        "",
        "not base58 0OIl",
        "12D3KooW",  # cut short
        base58.b58encode(bytes([SHA256_MULTIHASH, 32]) + bytes(32)).decode(),  # a hashed key
    ],
)
def test_a_peer_id_holding_no_ed25519_key_names_no_node(peer_id: str) -> None:
    with pytest.raises(PeerIdError) as raised:
        get_peer_node_id(peer_id)
    assert raised.value.peer_id == peer_id and str(raised.value).startswith(
        f"peer id {peer_id!r} names no CometBFT node: "
    )


def test_cometbft_data_of_another_genesis_stops_the_start(tmp_path: Path) -> None:
    """The genesis.json of the start that made CometBFT's data names its genesis's hash: a
    start on another genesis stops, naming both hashes, the data and our genesis file."""
    ours, theirs = hashlib.sha256(b"ours").digest(), hashlib.sha256(b"theirs").digest()
    home, genesis_file = tmp_path / "cometbft", tmp_path / "genesis.json"
    genesis = parse_genesis(genesis_doc())
    write_home(home, moniker="v0", genesis=genesis, genesis_hash=ours,
               node_key=derive_ed25519_key("node-0"), validator_key=None,
               listeners=Listeners("127.0.0.1", 26666, 26667), timeouts=DEFAULTS)  # fmt: skip
    check_home_genesis(home, theirs, genesis_file)  # no blocks yet: nothing to refuse
    (home / "data" / "state.db").mkdir()
    check_home_genesis(home, ours, genesis_file)
    with pytest.raises(OtherGenesisStore) as info:
        check_home_genesis(home, theirs, genesis_file)
    assert (info.value.store, info.value.stored, info.value.found) == (home / "data", ours, theirs)
    assert info.value.genesis_file == genesis_file

"""Config loading: the documented example parses; every bad value names file and key."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from consensus.state_machine import TimeoutConfig
from lightclient.anchor import COMETBFT, OUR_ENGINE, Checkpoint
from node.config import (
    CONFIG_FILE_NAME,
    CONSENSUS_KEYS,
    ENGINE_TIMEOUTS,
    StateSyncConfig,
    get_timeouts,
    load_config,
)
from node.config_table import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "configs" / "node.example.toml"

MINIMAL = "chain_id = 7\nmoniker = 'n0'\n"
OBSERVER = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
PEERS_KEY = "p2p.persistent_peers[0]"


def write(home: Path, text: str) -> Path:
    path = home / CONFIG_FILE_NAME
    path.write_text(text)
    return path


def test_example_config_loads_with_paths_under_home(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / CONFIG_FILE_NAME)
    config = load_config(tmp_path)
    home = tmp_path.resolve()
    assert config.chain_id == 4242
    assert config.storage.path == home / "data" / "node.sqlite3"
    assert config.storage.wal_path == home / "data" / "consensus.wal"
    assert config.validator_key_file == home / "keys" / "validator_key.json"
    assert config.oracle.sources[0].kind == "simulator"
    assert config.oracle.sources[0].start_prices == (60_000_000, 30_000_000) * 2
    assert config.p2p.persistent_peers == ()


def test_minimal_config_takes_defaults(tmp_path: Path) -> None:
    config = load_config(tmp_path, write(tmp_path, MINIMAL))
    assert config.api.listen_port == 8080
    assert config.mempool.max_txs == 10_000
    assert config.p2p.observers == ()
    assert config.cometbft is not None and config.cometbft.home == tmp_path.resolve() / "cometbft"
    assert (config.cometbft.p2p_port, config.cometbft.metrics_port) == (26666, 0)
    assert config.cometbft.pprof_port == 0


def test_a_state_sync_checkpoint_is_read_as_the_block_it_names(tmp_path: Path) -> None:
    table = f"[state_sync]\nenabled = true\ncheckpoint = '5:1700:0x{'ab' * 32}'\n"
    config = load_config(tmp_path, write(tmp_path, MINIMAL + table))
    assert config.state_sync == StateSyncConfig(True, Checkpoint(5, 1700, b"\xab" * 32))


def test_a_cometbft_rpc_port_is_refused_saying_where_the_rpc_went(tmp_path: Path) -> None:
    """A home written when CometBFT's RPC listened on loopback TCP: the key names what
    replaced it, not just that it is unknown."""
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, write(tmp_path, MINIMAL + "[cometbft]\nrpc_port = 26657\n"))
    assert (info.value.key, info.value.found) == ("cometbft.rpc_port", 26657)
    assert "the Unix socket rpc.sock in its home" in info.value.expected


def test_observers_are_read_as_peer_ids(tmp_path: Path) -> None:
    config = load_config(
        tmp_path, write(tmp_path, MINIMAL + f"[p2p]\nobservers = ['{OBSERVER}']\n")
    )
    assert config.p2p.observers == (OBSERVER,)
    assert config.storage.snapshot_interval == 100
    assert (config.storage.blocks_kept, config.storage.history_blocks_kept) == (1_000_000, 0)
    assert config.state_sync == StateSyncConfig()
    assert config.log_level == "info"


def test_full_config_with_bridge_chain_and_all_source_kinds(tmp_path: Path) -> None:
    text = MINIMAL + (
        "[p2p]\nlisten_port = 4001\npersistent_peers = ['/ip4/127.0.0.1/tcp/4002/p2p/"
        + OBSERVER
        + "']\n"
        "[[bridge_chains]]\nname = 'a'\nchain_id = 31337\nrpc_url = 'http://127.0.0.1:8545'\n"
        "vault_address = '0x" + "11" * 20 + "'\nconfirmation_depth = 0\npoll_interval_ms = 250\n"
        "[[oracle.sources]]\nkind = 'replay'\nsymbols = ['X']\npath = 'p.csv'\n"
        "[[oracle.sources]]\nkind = 'http'\nsymbols = ['X']\nurl = 'http://127.0.0.1:1/p'\n"
        "json_paths = { X = 'a.b' }\ndecimals = 2\n"
        "[[oracle.sources]]\nkind = 'evm'\nsymbols = ['X']\nchain = 'a'\n"
        "feeds = { X = { address = '0x" + "22" * 20 + "', scale = '0.001' } }\n"
    )
    config = load_config(tmp_path, write(tmp_path, text))
    assert config.p2p.listen_port == 4001
    (chain,) = config.bridge_chains
    assert (chain.chain_id, chain.poll_interval_ms) == (31337, 250)
    replay, http, evm = config.oracle.sources
    assert replay.path == tmp_path.resolve() / "p.csv"
    assert http.json_paths == (("X", "a.b"),)
    assert evm.chain == "a"


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("moniker = 'x'\n", "chain_id", "required"),
        (MINIMAL + "log_level = 'loud'\n", "log_level", "one of debug"),
        (MINIMAL + "[api]\nlisten_port = 70000\n", "api.listen_port", "between 0 and 65535"),
        (MINIMAL + "[api]\nlisten_port = '80'\n", "api.listen_port", "an integer"),
        (MINIMAL + "[api]\nenabled = 1\n", "api.enabled", "true or false"),
        (MINIMAL + "[mempool]\nmax_txs = true\n", "mempool.max_txs", "an integer"),
        (MINIMAL + "[mempool]\nmax_txs = 0\n", "mempool.max_txs", ">= 1"),
        (
            MINIMAL + "[mempool]\nmax_bytes = 10\nmax_tx_bytes = 11\n",
            "mempool.max_tx_bytes",
            "at most",
        ),
        (MINIMAL + "[storage]\nblocks_kept = 9\n", "storage.blocks_kept", "0 (keep all)"),
        (
            MINIMAL + "[state_sync]\ncheckpoint = '12:34:0xab'\n",
            "state_sync.checkpoint",
            "HEIGHT:TIME_MS:0xHASH",
        ),
        (
            MINIMAL + "[storage]\nhistory_blocks_kept = -1\n",
            "storage.history_blocks_kept",
            "0 (keep all) or an integer >= 10",
        ),
        (
            MINIMAL + "[storage]\nsnapshot_intervall = 5\n",
            "storage.snapshot_intervall",
            "known key",
        ),
        (MINIMAL + "[p2p]\npersistent_peers = [1]\n", "p2p.persistent_peers[0]", "multiaddr"),
        *(
            (MINIMAL + f"[p2p]\npersistent_peers = ['{address}']\n", PEERS_KEY, "multiaddr")
            for address in (
                f"/ip4/10.0.0.5/tcp/2665b/p2p/{OBSERVER}",  # a typo in the port
                f"/ip4/10.0.0.5/tcp/70000/p2p/{OBSERVER}",
                f"/ip4/10.0.0.256/tcp/26656/p2p/{OBSERVER}",
                f"/ip6/10.0.0.5/tcp/26656/p2p/{OBSERVER}",
                f"/dns4/node one/tcp/26656/p2p/{OBSERVER}",
                f"/ip4/0.0.0.0/tcp/26656/p2p/{OBSERVER}",
                "/ip4/10.0.0.5/tcp/26656",  # no peer id
                "/ip4/10.0.0.5/tcp/26656/p2p/Qm",
                f"/ip4/10.0.0.5/udp/26656/p2p/{OBSERVER}",
            )
        ),
        (MINIMAL + "p2p = 3\n", "p2p", "a table"),
        (MINIMAL + "[p2p]\nobservers = 'Qm'\n", "p2p.observers", "a list"),
        (MINIMAL + "[p2p]\nobservers = [7]\n", "p2p.observers[0]", "peer id"),
        (MINIMAL + "[p2p]\nobservers = ['12D3KooW0OIl']\n", "p2p.observers[0]", "peer id"),
        (
            MINIMAL + f"[p2p]\nobservers = ['{OBSERVER}', '{OBSERVER[:-1]}']\n",
            "p2p.observers[1]",
            "peer id",
        ),
        (
            MINIMAL + "[[oracle.sources]]\nkind = 'magic'\nsymbols = ['X']\n",
            "oracle.sources[0].kind",
            "one of simulator",
        ),
        (
            MINIMAL
            + "[[oracle.sources]]\nkind = 'simulator'\nsymbols = ['X']\nstart_prices = [1, 2]\n",
            "oracle.sources[0].start_prices",
            "1 positive integers",
        ),
        (
            MINIMAL + "[[oracle.sources]]\nkind = 'http'\nsymbols = ['X']\nurl = 'ftp://x'\n",
            "oracle.sources[0].url",
            "matching",
        ),
        (
            MINIMAL + "[[oracle.sources]]\nkind = 'http'\nsymbols = ['X']\nurl = 'http://x'\n",
            "oracle.sources[0].json_paths.X",
            "required",
        ),
        (
            MINIMAL + "[[oracle.sources]]\nkind = 'evm'\nsymbols = ['X']\nchain = 'nope'\n"
            "feeds = { X = { address = '0x" + "22" * 20 + "', scale = 1 } }\n",
            "oracle.sources[0].chain",
            "bridge_chains",
        ),
        (
            MINIMAL + "[[bridge_chains]]\nname = 'a'\nchain_id = 1\nrpc_url = 'http://h'\n"
            "vault_address = '0x12'\n",
            "bridge_chains[0].vault_address",
            "matching",
        ),
        (
            MINIMAL + "[[bridge_chains]]\nname = 'a'\nchain_id = 0\n",
            "bridge_chains[0].chain_id",
            ">= 1",
        ),
        (
            MINIMAL + "[[bridge_chains]]\nname = 'a'\nchain_id = 1\nrpc_url = 'http://h'\n"
            "vault_address = '0x" + "11" * 20 + "'\npoll_interval_ms = 0\n",
            "bridge_chains[0].poll_interval_ms",
            "between 10 and 60000",
        ),
        (MINIMAL + "[reports]\nshare_wait_s = 3601\n", "reports.share_wait_s", "and 3600"),
        (
            MINIMAL + "[cometbft]\npersistent_peers = ['abc@127.0.0.1:26666']\n",
            "cometbft.persistent_peers[0]",
            "NODE_ID@HOST:PORT",
        ),
        (
            MINIMAL + f"[cometbft]\npersistent_peers = ['{'ab' * 20}@127.0.0.1:66666']\n",
            "cometbft.persistent_peers[0]",
            "NODE_ID@HOST:PORT",
        ),
        (MINIMAL + "[cometbft]\nexternal_address = 'h'\n", "cometbft.external_address", "HOST"),
        (MINIMAL + "consensus = 3000\n", "consensus", "a table"),
        (MINIMAL + "chain_id = 8\n", "(syntax)", "TOML"),
        ("chain_id = '7'\nmoniker = 'x'\n", "chain_id", "an integer"),
    ],
)
def test_bad_config_names_file_key_and_expectation(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, path)
    assert info.value.file == path
    assert info.value.key == key
    assert expected in info.value.expected
    assert str(path) in str(info.value) and key in str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert info.value.file == tmp_path / CONFIG_FILE_NAME
    assert info.value.key == "(file)"


def load_consensus(tmp_path: Path, table: str) -> Path:
    return write(tmp_path, MINIMAL + "[consensus]\n" + table)


@pytest.mark.parametrize(
    ("table", "key", "expected", "found"),
    [
        ("timeout_propose_ms = 0\n", "timeout_propose_ms", "an integer between 1 and 60000", 0),
        (
            "timeout_commit_ms = 60001\n",
            "timeout_commit_ms",
            "an integer between 1 and 60000",
            60001,
        ),
        ("timeout_prevote_ms = '1s'\n", "timeout_prevote_ms", "an integer", "1s"),
        ("timeout_precommit_delta_ms = 0.5\n", "timeout_precommit_delta_ms", "an integer", 0.5),
        (
            "create_empty_blocks_interval_ms = true\n",
            "create_empty_blocks_interval_ms",
            "an integer",
            True,
        ),
        (  # CometBFT's own key, a duration
            "timeout_propose = '3s'\n",
            "timeout_propose",
            f"a known key (known: {', '.join(sorted(CONSENSUS_KEYS))})",
            None,
        ),
    ],
)
def test_a_bad_consensus_timeout_names_its_key_the_bounds_and_the_value(
    tmp_path: Path, table: str, key: str, expected: str, found: object
) -> None:
    path = load_consensus(tmp_path, table)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, path)
    assert (info.value.file, info.value.key) == (path, f"consensus.{key}")
    assert (info.value.expected, info.value.found) == (expected, found)


def test_consensus_timeouts_set_reach_either_engine(tmp_path: Path) -> None:
    table = (
        "timeout_propose_ms = 1500\ntimeout_propose_delta_ms = 150\n"
        "timeout_prevote_ms = 400\ntimeout_prevote_delta_ms = 40\n"
        "timeout_precommit_ms = 300\ntimeout_precommit_delta_ms = 30\n"
        "timeout_commit_ms = 10\ncreate_empty_blocks_interval_ms = 600\n"
    )
    config = load_config(tmp_path, load_consensus(tmp_path, table))
    given = TimeoutConfig(1500, 150, 400, 40, 300, 30, commit_ms=10, empty_block_wait_ms=600)
    assert get_timeouts(config, OUR_ENGINE) == get_timeouts(config, COMETBFT) == given


def test_each_consensus_timeout_left_out_is_the_engines(tmp_path: Path) -> None:
    config = load_config(tmp_path, write(tmp_path, MINIMAL))
    assert get_timeouts(config, OUR_ENGINE) == ENGINE_TIMEOUTS[OUR_ENGINE]
    assert get_timeouts(config, COMETBFT) == ENGINE_TIMEOUTS[COMETBFT]
    # DriverConfig's defaults before the table; CometBFT's home writer's, its commit wait ours
    assert ENGINE_TIMEOUTS[OUR_ENGINE] == TimeoutConfig(3000, 500, 1000, 500, 1000, 500, 20, 1000)
    assert ENGINE_TIMEOUTS[COMETBFT] == TimeoutConfig(2000, 500, 500, 500, 500, 500, 20, 1000)
    config = load_config(tmp_path, load_consensus(tmp_path, "timeout_prevote_ms = 700\n"))
    for engine, defaults in ENGINE_TIMEOUTS.items():
        assert get_timeouts(config, engine) == replace(defaults, prevote_ms=700)


@pytest.mark.parametrize(
    ("table", "engine", "key", "expected", "found"),
    [
        (
            "timeout_propose_ms = 1200\ncreate_empty_blocks_interval_ms = 1200\n",
            OUR_ENGINE,
            "consensus.create_empty_blocks_interval_ms",
            "below consensus.timeout_propose_ms (1200)",
            1200,
        ),
        (  # below our engine's propose timeout (3000), not CometBFT's
            "create_empty_blocks_interval_ms = 2500\n",
            COMETBFT,
            "consensus.create_empty_blocks_interval_ms",
            "below consensus.timeout_propose_ms (2000, the cometbft engine's default)",
            2500,
        ),
        (
            "timeout_propose_ms = 900\n",
            OUR_ENGINE,
            "consensus.timeout_propose_ms",
            "above consensus.create_empty_blocks_interval_ms (1000, the clearnode engine's "
            "default)",
            900,
        ),
    ],
)
def test_an_empty_block_wait_not_below_the_propose_timeout_is_refused(
    tmp_path: Path, table: str, engine: str, key: str, expected: str, found: int
) -> None:
    """The other validators would give up on an idle proposer's block before it proposed."""
    path = load_consensus(tmp_path, table)
    config = load_config(tmp_path, path)
    with pytest.raises(ConfigError) as info:
        get_timeouts(config, engine)
    assert (info.value.file, info.value.key) == (path, key)
    assert (info.value.expected, info.value.found) == (expected, found)

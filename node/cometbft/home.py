"""A CometBFT home for a clearnode node: `<node home>/cometbft`, written from the node's
own keys and genesis so the operator keeps one set of keys and one genesis.

- `config/genesis.json`: derived from our genesis (chain id, time, validators and
  their power, block size from clearing's limits); its `app_state` names our
  genesis's hash, which InitChain checks, so a CometBFT home cannot run another
  network's app.
- `config/priv_validator_key.json`, `config/node_key.json`: our validator key and
  node key in CometBFT's format (the same Ed25519 keys: the validator's address is
  the one our genesis lists; the node id is derived from the node key).
- `config/config.toml`: only what a clearing node sets; CometBFT's defaults fill the
  rest. Its consensus timeouts are the node's (its `[consensus]` table, node/config.py).
  Transactions are not indexed; CometBFT asks the app about every peer before it
  gossips it anything (`filter_peers`, answered in node/cometbft/abci.py from the
  node's allowed peers).

What CometBFT listens on: p2p (the network), and nothing else a stranger or another
user of the host can reach. Its RPC serves every block's transactions (members' trades)
with no credential of its own, so it listens on a Unix
socket in the home (`rpc.sock`, beside the app's `abci.sock`), and the home is 0700:
only the node's user reaches either (loopback TCP would let every user of the host in,
and a browser page by DNS rebinding). Its gRPC, pprof and remote-signer listeners are
written off; its Prometheus metrics, which can only listen on TCP, are off unless the
operator sets a port, and then on loopback (they hold counts and sizes, no transaction).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.genesis import Genesis
from clearing.limits import MAX_BLOCK_BYTES, MAX_BLOCK_TXS
from clearing.validator_set import has_power
from consensus.state_machine import TimeoutConfig
from consensus.types import compute_max_proposal_bytes
from lightclient.anchor import TRUSTING_PERIOD_MS, get_consensus_chain_id
from lightclient.cometbft import get_address
from node.storage import OtherGenesisStore

ED25519_PUBLIC = "tendermint/PubKeyEd25519"
ED25519_PRIVATE = "tendermint/PrivKeyEd25519"
ABCI_SOCKET = "abci.sock"
RPC_SOCKET = "rpc.sock"
"""In the CometBFT home: CometBFT's RPC (node/cometbft/rpc.py), for the node's user alone."""
LIGHT_SOCKETS = ("lc-0.sock", "lc-1.sock")
"""In the CometBFT home of a node that state-syncs: the two RPC servers of its light
client, each a relay to its peers (node/cometbft/light_rpc.py). No longer a name than
abci.sock's, whose path bounds the home's."""
DISCOVERY_TIME_MS = 5000
"""How long CometBFT's state sync gathers its peers' snapshots before it picks one
(its least: a node's peers answer within a round trip)."""
HOME_MODE = 0o700
"""The CometBFT home's mode: its sockets, keys and stores (every block's transactions)
are the node's user's alone, whatever the umask."""
MAX_SOCKET_PATH_BYTES = 107
"""The longest path a Unix socket address holds (Linux's sun_path, 108 bytes with its NUL)."""
P2P_RATE_BYTES_S = 64 << 20
"""Per-peer send and receive cap: CometBFT's default (5 MB/s) would take seconds to pass a
full block (8 MiB of transactions) to one peer."""
FLUSH_THROTTLE_MS = 2
"""How long a peer connection holds a written message for more to send with it
(CometBFT's default 100 ms; our nodes wrote 10): a proposal, each of its parts, each vote
and each transaction waits up to this at every hop, and a height has several. `python -m
bench network` on loopback, the 1,000 trades/s step's commit p50: 103 ms at 10, 86-87 at
2 (ours 79), an idle validator's CPU unchanged (0.045-0.05 of a core)."""
PEER_GOSSIP_SLEEP_MS = 5
"""How long a peer's gossip routines sleep when they found nothing to send that peer
(CometBFT's default 100 ms; our nodes slept 10): a block part or vote that arrives
meanwhile waits up to this before it is passed on. At 5 ms, with `FLUSH_THROTTLE_MS`,
the 1,000 trades/s step's p50 was 78-80 ms (86-87 at 10); each sleep is a wake-up of six
routines, so an idle validator spends about 0.01 of a core more (0.05-0.06 against 0.045),
and 2 ms added another 0.02 of a core under load for 10 ms less latency."""


@dataclass(frozen=True)
class Listeners:
    """Where this node's CometBFT listens on TCP: p2p on the operator's chosen host (its
    peers must reach it), metrics and the profiler (if on) on loopback. Its RPC is a Unix
    socket."""

    p2p_host: str
    p2p_port: int
    metrics_port: int | None = None
    external_address: str = ""
    """host:port peers dial, when the p2p host is not it (a NAT, 0.0.0.0)."""
    pprof_port: int | None = None


class SocketPathTooLong(ValueError):
    """A socket of the CometBFT home whose path a Unix socket address cannot hold."""

    def __init__(self, path: Path) -> None:
        size = len(os.fsencode(path))
        super().__init__(
            f"{path} is {size} bytes, a Unix socket's path at most {MAX_SOCKET_PATH_BYTES}: "
            "a CometBFT home at a shorter path (`[cometbft] home`) holds its sockets"
        )
        self.path = path
        self.size = size


def get_socket_path(home: Path, name: str) -> Path:
    """The socket `name` of the CometBFT home `home`, absolute (CometBFT and the node name
    it alike, from any working directory); SocketPathTooLong if an address cannot hold it."""
    path = home.absolute() / name
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise SocketPathTooLong(path)
    return path


def check_socket_paths(home: Path) -> None:
    """The home's sockets fit a Unix socket address (SocketPathTooLong if not)."""
    for name in (ABCI_SOCKET, RPC_SOCKET, *LIGHT_SOCKETS):
        get_socket_path(home, name)


def format_time(time_ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, as CometBFT's genesis reads it."""
    moment = datetime.fromtimestamp(time_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time_ms % 1000:03d}Z"


def get_max_block_bytes() -> int:
    """CometBFT's block size limit: room for clearing's largest block of transactions with
    their framing, the header, a commit and evidence (our engine's bound)."""
    return compute_max_proposal_bytes(MAX_BLOCK_BYTES, MAX_BLOCK_TXS)


def get_app_state(genesis_hash: bytes) -> dict[str, str]:
    """The app state CometBFT's genesis carries: our genesis's hash, nothing else (the
    app reads our genesis itself, and checks it is this one)."""
    return {"genesis_hash": "0x" + genesis_hash.hex()}


def build_genesis_doc(genesis: Genesis, genesis_hash: bytes) -> dict[str, object]:
    """CometBFT's genesis.json for our genesis (`genesis_hash`: compute_genesis_hash)."""
    return {
        "genesis_time": format_time(genesis.genesis_time_ms),
        "chain_id": get_consensus_chain_id(genesis.chain_id, genesis_hash),
        "initial_height": "1",
        "consensus_params": {
            "block": {"max_bytes": str(get_max_block_bytes()), "max_gas": "-1"},
            "evidence": {
                "max_age_num_blocks": "100000",
                "max_age_duration": "172800000000000",
                "max_bytes": "1048576",
            },
            "validator": {"pub_key_types": ["ed25519"]},
            "version": {"app": "1"},
            "abci": {"vote_extensions_enable_height": "0"},
        },
        "validators": [
            {
                "address": get_address(v.pubkey).hex().upper(),
                "pub_key": {"type": ED25519_PUBLIC, "value": base64.b64encode(v.pubkey).decode()},
                "power": str(v.power),
                "name": v.name,
            }
            for v in genesis.validators
            if has_power(v)
        ],
        "app_hash": "",
        "app_state": get_app_state(genesis_hash),
    }


def check_home_genesis(path: Path, genesis_hash: bytes, genesis_file: Path) -> None:
    """OtherGenesisStore if CometBFT's data in the home at `path` holds the chain of another
    genesis than `genesis_file`'s (hash `genesis_hash`): the genesis.json the start that made
    that data wrote names its genesis's hash (`get_app_state`). CometBFT would stop anyway,
    naming neither genesis."""
    data = path / "data"
    if not (data / "state.db").exists():
        return
    try:
        written = json.loads((path / "config" / "genesis.json").read_text())
        stored = bytes.fromhex(written["app_state"]["genesis_hash"].removeprefix("0x"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return  # no hash of ours to compare: CometBFT's own check decides
    if stored != genesis_hash:
        raise OtherGenesisStore(data, stored, genesis_file, genesis_hash)


def encode_private_key(key: Ed25519PrivateKey) -> dict[str, str]:
    seed = key.private_bytes_raw()
    public = key.public_key().public_bytes_raw()
    return {"type": ED25519_PRIVATE, "value": base64.b64encode(seed + public).decode()}


def build_validator_key_doc(key: Ed25519PrivateKey) -> dict[str, object]:
    public = key.public_key().public_bytes_raw()
    return {
        "address": get_address(public).hex().upper(),
        "pub_key": {"type": ED25519_PUBLIC, "value": base64.b64encode(public).decode()},
        "priv_key": encode_private_key(key),
    }


def format_duration(ms: int) -> str:
    return f"{ms}ms"


@dataclass(frozen=True)
class TrustedBlock:
    """The block CometBFT's state sync trusts (`trust_height`, `trust_hash`)."""

    height: int
    header_hash: bytes


def build_state_sync_table(home: Path, trusted: TrustedBlock | None) -> list[str]:
    """`[statesync]`: on, from the light client's relays and `trusted`, for a node with an
    empty store; off (CometBFT's default) otherwise."""
    if trusted is None:
        return []
    servers = ",".join(f"unix://{get_socket_path(home, name)}" for name in LIGHT_SOCKETS)
    return [
        "[statesync]",
        "enable = true",
        f"rpc_servers = {json.dumps(servers)}",
        f"trust_height = {trusted.height}",
        f"trust_hash = {json.dumps(trusted.header_hash.hex().upper())}",
        f"trust_period = {json.dumps(format_duration(TRUSTING_PERIOD_MS))}",
        f"discovery_time = {json.dumps(format_duration(DISCOVERY_TIME_MS))}",
        "",
    ]


def build_config_toml(
    moniker: str,
    home: Path,
    listeners: Listeners,
    persistent_peers: tuple[str, ...],
    timeouts: TimeoutConfig,
    state_sync: TrustedBlock | None = None,
) -> str:
    """config.toml of the CometBFT home `home`: what a clearing node sets (values
    TOML-quoted by json.dumps). SocketPathTooLong if a socket's path is too long."""
    q = json.dumps
    metrics = listeners.metrics_port
    pprof = "" if listeners.pprof_port is None else f"127.0.0.1:{listeners.pprof_port}"
    abci_socket, rpc_socket = (get_socket_path(home, name) for name in (ABCI_SOCKET, RPC_SOCKET))
    lines = [
        f"moniker = {q(moniker)}",
        f"proxy_app = {q(f'unix://{abci_socket}')}",
        'abci = "socket"',
        # no remote signer: the validator key is the home's file
        'priv_validator_laddr = ""',
        'log_format = "json"',
        # Every peer, inbound or dialled, is let in only if the app's answer to ABCI Query
        # /p2p/filter/id/<node id> is code 0: a stranger who knows the chain id would
        # otherwise receive every gossiped transaction and block part.
        "filter_peers = true",
        "",
        "[rpc]",
        # Every block's transactions, to whoever connects: the node's
        # user alone (the socket is in the 0700 home); no gRPC broadcast API. The profiler's
        # heap and goroutine dumps may hold transactions too: loopback, if the operator asks.
        f"laddr = {q(f'unix://{rpc_socket}')}",
        'grpc_laddr = ""',
        f"pprof_laddr = {q(pprof)}",
        f"max_body_bytes = {get_max_block_bytes()}",
        "",
        "[p2p]",
        f"laddr = {q(f'tcp://{listeners.p2p_host}:{listeners.p2p_port}')}",
        f"external_address = {q(listeners.external_address)}",
        f"persistent_peers = {q(','.join(persistent_peers))}",
        "pex = false",
        # Latency over bandwidth thrift: flush each connection's writes within a few ms
        # (not 100), and let a peer take a full clearing block in well under a second.
        f"flush_throttle_timeout = {q(format_duration(FLUSH_THROTTLE_MS))}",
        f"send_rate = {P2P_RATE_BYTES_S}",
        f"recv_rate = {P2P_RATE_BYTES_S}",
        # With pex off the address book is never dialled from: strict would only refuse to
        # record a loopback or private (RFC 1918) persistent peer, an error line per peer
        # at every start of a local network or one on a private network.
        "addr_book_strict = false",
        # Peers on one address (every node of a local network on 127.0.0.1, validators
        # behind one NAT) must all connect; who connects is the id filter's to decide.
        "allow_duplicate_ip = true",
        "",
        # The node's own mempool holds, checks and gossips the transactions (its `tx`
        # topic, as on our engine: each reaches each validator once, where CometBFT's
        # flood mempool sent it to every peer of every peer); PrepareProposal reaps it.
        "[mempool]",
        'type = "nop"',
        "",
        "[consensus]",
        f"timeout_propose = {q(format_duration(timeouts.propose_ms))}",
        f"timeout_prevote = {q(format_duration(timeouts.prevote_ms))}",
        f"timeout_precommit = {q(format_duration(timeouts.precommit_ms))}",
        f"timeout_propose_delta = {q(format_duration(timeouts.propose_delta_ms))}",
        f"timeout_prevote_delta = {q(format_duration(timeouts.prevote_delta_ms))}",
        f"timeout_precommit_delta = {q(format_duration(timeouts.precommit_delta_ms))}",
        f"timeout_commit = {q(format_duration(timeouts.commit_ms))}",
        f"peer_gossip_sleep_duration = {q(format_duration(PEER_GOSSIP_SLEEP_MS))}",
        # With no mempool of its own CometBFT cannot tell when transactions wait: it
        # enters each height's propose step at once, and the app's PrepareProposal
        # waits for a transaction up to the node's empty-block wait (node/cometbft/abci.py).
        "create_empty_blocks = true",
        'create_empty_blocks_interval = "0s"',
        "",
        # The app's store answers every read of outcomes and history: what CometBFT
        # would keep beside it per height (each block's ABCI responses, a transaction
        # index) is a second copy nothing reads, on disk until pruning reaches it.
        "[storage]",
        "discard_abci_responses = true",
        "",
        "[tx_index]",
        'indexer = "null"',
        "",
        "[instrumentation]",
        f"prometheus = {'true' if metrics is not None else 'false'}",
        f"prometheus_listen_addr = {q(f'127.0.0.1:{metrics or 0}')}",
        "",
        *build_state_sync_table(home, state_sync),
    ]
    return "\n".join(lines)


def write_private(path: Path, doc: dict[str, object]) -> None:
    """A secret JSON file, 0600 from its creation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(doc, out, indent=2)


def write_home(
    path: Path,
    *,
    moniker: str,
    genesis: Genesis,
    genesis_hash: bytes,
    node_key: Ed25519PrivateKey,
    validator_key: Ed25519PrivateKey | None,
    listeners: Listeners,
    timeouts: TimeoutConfig,
    persistent_peers: tuple[str, ...] = (),
    state_sync: TrustedBlock | None = None,
) -> None:
    """Writes (or rewrites) the CometBFT home at `path`, mode 0700 (a home an older node
    made 0755 too); its data directory, CometBFT's blocks, state and signing state, is
    kept. A full node's home holds a fresh validator key no genesis lists, as `cometbft
    init` would write: CometBFT needs one. SocketPathTooLong, before anything is
    written, if `path` is too long for its sockets."""
    check_socket_paths(path)
    config = path / "config"
    data = path / "data"
    path.mkdir(mode=HOME_MODE, parents=True, exist_ok=True)
    path.chmod(HOME_MODE)
    config.mkdir(parents=True, exist_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    (config / "genesis.json").write_text(
        json.dumps(build_genesis_doc(genesis, genesis_hash), indent=2) + "\n"
    )
    (config / "config.toml").write_text(
        build_config_toml(
            moniker, path, listeners, persistent_peers, timeouts, state_sync
        )
    )  # fmt: skip
    write_private(config / "node_key.json", {"priv_key": encode_private_key(node_key)})
    signer = validator_key or Ed25519PrivateKey.generate()
    write_private(config / "priv_validator_key.json", build_validator_key_doc(signer))
    state = data / "priv_validator_state.json"
    if not state.exists():  # its last signed height guards against double signing
        write_private(state, {"height": "0", "round": 0, "step": 0})

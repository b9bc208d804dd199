"""The devnet's privacy audit of each validator's CometBFT (devnet/privacy.py audits the
node's API): what a stranger, or another user of the validator's host, reaches of it
shows no transaction and no member's address, and its p2p port lets no stranger in.

- Every TCP port the `cometbft` process listens on, found from /proc whatever its
  config says (so a listener a release or a config line adds is found too), its p2p
  port aside, is on loopback, and is read as anyone on the host would read CometBFT's
  RPC: each of its read routes, blocks at the heights that held the run's
  transactions, the mempool, the consensus state (which holds the proposal's
  transactions), metrics and pprof. An answer that shows a transaction's bytes (hex or
  base64), its hash, a block's reference to it or a member's address fails the run.
- Its RPC is the Unix socket in its home (node/cometbft/home.py): neither the socket
  nor the home grants other users anything. The audit reads the same routes there, as
  the node's user, and must find a transaction's bytes or a block's reference to one in
  them (a block names what the mempools hold by reference: node/storage/comet_compact.py): a
  scan that finds them there would find them on a port, so its silence on the ports
  means something.
- Its p2p port: CometBFT asks the app about every peer (`filter_peers` in its
  config.toml as the node wrote it), and the app refuses a fresh node id while it lets
  the other validators' nodes in (asked through the RPC socket).
"""

from __future__ import annotations

import ipaddress
import os
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.transition.tx import get_tx_kind
from devnet.privacy import (
    PUBLIC_TX_KINDS,
    TIMEOUT_S,
    Secrets,
    collect_run_secrets,
    find_tx_leaks,
    run_in_order,
)
from node.cometbft.abci import CODE_OK, FILTER_ID_PATH
from node.cometbft.home import RPC_SOCKET
from node.cometbft.process import PID_FILE
from node.cometbft.rpc import RPC_URL, open_rpc_client
from node.keys import get_node_id

if TYPE_CHECKING:
    from devnet.homes import Home
    from devnet.network import Devnet

READS = (
    "/",
    "/status",
    "/net_info",
    "/genesis",
    "/blockchain",
    "/validators",
    "/consensus_params",
    "/consensus_state",
    "/dump_consensus_state",
    "/unconfirmed_txs?limit=100",
    "/num_unconfirmed_txs",
    "/abci_info",
    '/tx_search?query="tx.height>0"',
    '/block_search?query="block.height>0"',
    "/metrics",
    "/debug/pprof/",
)
"""What the audit asks each CometBFT listener for: the read routes of CometBFT's RPC
(v0.38), its Prometheus and pprof paths."""
HEIGHT_READS = ("/block?height={}", "/header?height={}", "/block_results?height={}",
                "/commit?height={}")  # fmt: skip
"""Routes the audit asks at each height that held a transaction of the run."""
HEIGHTS_READ = 3
"""Heights (the latest that held a member's transaction) the audit reads blocks at."""
LISTEN = "0A"  # a socket's state in /proc/net/tcp
LOOPBACKS = {"127.0.0.1", "::1"}
PRIVATE_BITS = 0o077
"""What a mode must not grant: anything to the group or other users."""


def get_secret_heights(txs: Iterable[tuple[int, bytes]], count: int) -> list[int]:
    """The latest `count` heights among `txs` (height, transaction) that held a
    transaction a stranger must not read (devnet/privacy.py's PUBLIC_TX_KINDS aside)."""
    heights = {height for height, tx in txs if get_tx_kind(tx) not in PUBLIC_TX_KINDS}
    return sorted(heights)[-count:]


def iter_tcp_listeners() -> Iterator[tuple[str, int, int]]:
    """(address, port, socket inode) of each listening TCP socket of this host, from
    /proc/net/tcp and tcp6 (an address is written there as the little-endian hex of each
    of its 32-bit words)."""
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == LISTEN:
                raw = bytes.fromhex(address)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, size, 4))
                yield str(ipaddress.ip_address(words)), int(hex_port, 16), int(fields[9])


def get_process_listeners(pid: int) -> set[tuple[str, int]]:
    """(address, port) of each TCP socket process `pid` listens on: its descriptors'
    socket inodes among the host's listeners."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(int(target.removeprefix("socket:[").removesuffix("]")))
    return {(address, port) for address, port, inode in iter_tcp_listeners() if inode in inodes}


def get_url(address: str, port: int) -> str:
    """Where a client on this host reaches a listener bound to `address`:`port`."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def read_cometbft(
    http: httpx.AsyncClient, url: str, heights: Sequence[int]
) -> list[tuple[str, str]]:
    """(route, answer) of each of READS, and HEIGHT_READS at `heights`, asked of the
    listener at `url`; a read that fails (a listener that speaks no HTTP) answers the
    error."""
    routes = [*READS, *(route.format(h) for route in HEIGHT_READS for h in heights)]
    answers = []
    for route in routes:
        try:
            body = (await http.get(url + route, timeout=TIMEOUT_S)).text
        except httpx.HTTPError as exc:
            body = f"no answer: {exc!r}"
        answers.append((route, body))
    return answers


def check_private(path: Path) -> list[str]:
    """Why other users reach `path` (its mode grants them something), if they do."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return [f"{path} cannot be read: {exc}"]
    if mode & PRIVATE_BITS:
        return [f"{path} is mode {stat.S_IMODE(mode):#o}: other users reach it"]
    return []


async def audit_cometbft(
    name: str, home: Path, p2p_port: int, secrets: Secrets, heights: Sequence[int]
) -> list[str]:
    """The failures of the CometBFT running on `home` (p2p on `p2p_port`): a TCP listener
    beyond loopback, one that shows a transaction or a member's address, an RPC socket
    other users reach, a scan blind to what the RPC shows the node's user."""
    try:
        pid = int((home / PID_FILE).read_text().split()[0])
        listeners = get_process_listeners(pid)
    except (OSError, ValueError, IndexError) as exc:
        return [f"privacy: {name}'s CometBFT cannot be found ({home / PID_FILE}): {exc}"]
    failures = []
    async with httpx.AsyncClient() as http:
        for address, port in sorted(listeners):
            if port == p2p_port:
                continue
            if address not in LOOPBACKS:
                failures.append(f"privacy: {name}'s CometBFT listens on {address}:{port}, "
                                "beyond loopback")  # fmt: skip
            url = get_url(address, port)
            for route, body in await read_cometbft(http, url, heights):
                failures += [f"privacy: {name}'s CometBFT {url}{route} shows {what}"
                             for what in dict.fromkeys(find_tx_leaks(body, secrets))]  # fmt: skip
    socket = home / RPC_SOCKET
    failures += [f"privacy: {name}'s CometBFT RPC: {problem}"
                 for problem in check_private(home) + check_private(socket)]  # fmt: skip
    async with open_rpc_client(socket, TIMEOUT_S) as rpc:
        own = await read_cometbft(rpc, RPC_URL, heights)
    seen = [what for _, body in own for what in find_tx_leaks(body, secrets)]
    if not any(what.startswith(("the bytes of ", "the reference to ")) for what in seen):
        failures.append(
            f"privacy: the scan found no transaction's bytes or reference in {name}'s "
            f"CometBFT RPC answers to the node's user ({socket}, blocks at {list(heights)}): "
            "it would miss a leak"
        )
    return failures


async def ask_peer_filter(rpc: httpx.AsyncClient, node_id: str) -> int:
    """The code of the app's answer to CometBFT's peer filter for `node_id`, asked through
    the node's CometBFT RPC (`rpc`, node/cometbft/rpc.py's client of its socket): the
    answer CometBFT gets when that node connects."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "abci_query",
            "params": {"path": FILTER_ID_PATH + node_id}}  # fmt: skip
    answer = await rpc.post(RPC_URL, json=body, timeout=TIMEOUT_S)
    return int(answer.json()["result"]["response"]["code"])


OpenRpc = Callable[["Home"], httpx.AsyncClient]
"""A client of a validator's CometBFT RPC."""


def open_home_rpc(home: Home) -> httpx.AsyncClient:
    return open_rpc_client(home.cometbft_home / RPC_SOCKET, TIMEOUT_S)


async def find_open_p2p_ports(homes: Sequence[Home], open_rpc: OpenRpc) -> list[str]:
    """On CometBFT, where each validator's CometBFT would let a stranger in (and hear every
    gossiped transaction and block part): its config.toml, as the node wrote it, does not
    make it ask the app about peers, or the app does not refuse a fresh node id. An app
    that also refuses the other validators' nodes fails too: a filter that refuses
    everyone would pass the first check without proving anything. The validators are
    asked at once."""
    stranger = get_node_id(Ed25519PrivateKey.generate())
    checks = [partial(_find_open_p2p_port, home, homes, open_rpc, stranger) for home in homes]
    return [failure for found in await run_in_order(checks, len(checks)) for failure in found]


async def _find_open_p2p_port(
    home: Home, homes: Sequence[Home], open_rpc: OpenRpc, stranger: str
) -> list[str]:
    failures = []
    written = home.cometbft_home / "config" / "config.toml"
    if tomllib.loads(written.read_text()).get("filter_peers") is not True:
        failures.append(f"privacy: {home.name}'s CometBFT lets in any peer that knows "
                        f"the chain id ({written} lacks filter_peers = true)")  # fmt: skip
    others = {o.name: get_node_id(o.keys.node.ed25519()) for o in homes if o is not home}
    try:
        async with open_rpc(home) as rpc:
            if await ask_peer_filter(rpc, stranger) == CODE_OK:
                failures.append(f"privacy: {home.name}'s app lets a stranger's CometBFT "
                                f"node {stranger} in")  # fmt: skip
            for name, node_id in others.items():
                if await ask_peer_filter(rpc, node_id) != CODE_OK:
                    failures.append(f"privacy: {home.name}'s app refuses {name}'s CometBFT "
                                    f"node {node_id}, a validator's")  # fmt: skip
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        failures.append(f"privacy: {home.name}'s CometBFT RPC did not answer the peer "
                        f"filter: {exc!r}")  # fmt: skip
    return failures


async def check_cometbft_privacy(net: Devnet) -> None:
    """Audit every validator's CometBFT against the replica's secrets: its listeners, its
    RPC socket, its p2p port; each failure is the run's."""
    secrets = collect_run_secrets(net)
    heights = get_secret_heights(net.replica.recent_txs, HEIGHTS_READ)
    audits = [
        partial(audit_cometbft, home.name, home.cometbft_home, home.cometbft_ports[0], secrets,
                heights)
        for home in net.homes
    ]  # fmt: skip
    failures = [failure for found in await run_in_order(audits, len(audits)) for failure in found]
    failures += await find_open_p2p_ports(net.homes, open_home_rpc)
    for failure in failures:
        net.fail(failure)
    net.cometbft_audited = [home.name for home in net.homes]

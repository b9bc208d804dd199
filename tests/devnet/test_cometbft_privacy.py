"""The devnet's privacy audit of CometBFT: it finds every TCP port a CometBFT process
listens on and fails one that shows a transaction or listens beyond loopback, fails an
RPC socket other users reach and a scan blind to what the socket shows the node's user,
and fails a p2p port that lets a stranger in.

A stand-in plays the CometBFT whose home is audited: a Python process, named in the
home's pid file as `clearnode start` names its CometBFT, that answers every GET with one
body on a TCP port and another on the home's RPC socket."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from clearing.transition.tx import TX_TYPES, TX_VERSION
from devnet.cometbft_privacy import (
    HEIGHT_READS,
    READS,
    audit_cometbft,
    find_open_p2p_ports,
    get_process_listeners,
    get_secret_heights,
)
from devnet.homes import Home
from devnet.privacy import Secrets
from lightclient.anchor import COMETBFT
from node.cometbft.abci import CODE_NOT_ALLOWED, FILTER_ID_PATH
from node.cometbft.home import RPC_SOCKET, Listeners, build_config_toml
from node.cometbft.process import PID_FILE, remove_stale_socket
from node.commands.init import NodeKeys
from node.config import ENGINE_TIMEOUTS
from node.keys import BRIDGE_KEY, NODE_KEY, VALIDATOR_KEY, KeyFile, get_node_id
from records.codec import pack
from tests.devnet.test_privacy import ALICE, TX

HEIGHT = 5
BLOCK = json.dumps({"result": {"block": {"data": {"txs": [base64.b64encode(TX).decode()]}}}})
"""CometBFT's answer to /block?height=5, whose one transaction is TX."""
NOTHING = json.dumps({"result": {}})
STAND_IN = """
import http.server, socketserver, sys, threading

host, on_port, on_socket, path = sys.argv[1:]


def answering(body):
    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Answer


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


tcp = http.server.ThreadingHTTPServer((host, 0), answering(on_port.encode()))
unix = UnixServer(path, answering(on_socket.encode()))
threading.Thread(target=unix.serve_forever, daemon=True).start()
print(tcp.server_address[1], flush=True)
tcp.serve_forever()
"""
"""The stand-in: HTTP on `host` (its port printed once both listen) and on the socket."""


def secrets() -> Secrets:
    found = Secrets(addresses={ALICE.hex(): "alice"})
    found.add_tx(TX, "a batch")
    return found


@contextmanager
def stand_in(home: Path, on_port: str, on_socket: str, host: str = "127.0.0.1",
             umask: int = 0o077) -> Iterator[int]:  # fmt: skip
    """The CometBFT of `home` played by STAND_IN (created with `umask`); yields its port.
    The socket a stand-in killed before it left is removed first, as a node does."""
    remove_stale_socket(home / RPC_SOCKET)
    command = [sys.executable, "-c", STAND_IN, host, on_port, on_socket, str(home / RPC_SOCKET)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, umask=umask)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        (home / PID_FILE).write_text(f"{process.pid} {os.getpid()}\n")
        yield port
    finally:
        process.kill()
        process.wait()


def get_failures(port: int, what: str) -> list[str]:
    """The audit's failures for a port that shows `what` to every read."""
    routes = [*READS, *(route.format(HEIGHT) for route in HEIGHT_READS)]
    url = f"http://127.0.0.1:{port}"
    return [f"privacy: v0's CometBFT {url}{route} shows {what}" for route in routes]


async def test_a_port_that_shows_a_transaction_fails_the_audit_the_socket_does_not(
    tmp_path: Path,
) -> None:
    home = tmp_path / "cometbft"
    home.mkdir(mode=0o700)
    with stand_in(home, on_port=BLOCK, on_socket=BLOCK) as port:
        failures = await audit_cometbft("v0", home, 1, secrets(), [HEIGHT])
    assert failures == get_failures(port, "the bytes of a batch")
    with stand_in(home, on_port=json.dumps({"who": "0x" + ALICE.hex()}), on_socket=BLOCK) as port:
        failures = await audit_cometbft("v0", home, 1, secrets(), [HEIGHT])
    assert failures == get_failures(port, "alice's address")
    with stand_in(home, on_port=NOTHING, on_socket=BLOCK) as port:
        assert await audit_cometbft("v0", home, 1, secrets(), [HEIGHT]) == []
        # its p2p port is the network's: not read
        assert await audit_cometbft("v0", home, port, secrets(), [HEIGHT]) == []


async def test_a_socket_others_reach_a_port_beyond_loopback_and_a_blind_scan_fail_it(
    tmp_path: Path,
) -> None:
    home = tmp_path / "cometbft"
    home.mkdir(mode=0o700)
    home.chmod(0o755)
    with stand_in(home, NOTHING, NOTHING, host="0.0.0.0", umask=0o022) as port:
        failures = await audit_cometbft("v0", home, 1, secrets(), [HEIGHT])
    socket_path = home / RPC_SOCKET
    assert failures == [
        f"privacy: v0's CometBFT listens on 0.0.0.0:{port}, beyond loopback",
        f"privacy: v0's CometBFT RPC: {home} is mode 0o755: other users reach it",
        f"privacy: v0's CometBFT RPC: {socket_path} is mode 0o755: other users reach it",
        "privacy: the scan found no transaction's bytes or reference in v0's CometBFT RPC "
        f"answers to the node's user ({socket_path}, blocks at [5]): it would miss a leak",
    ]
    (home / PID_FILE).write_text("")
    failures = await audit_cometbft("v0", home, 1, secrets(), [HEIGHT])
    assert len(failures) == 1 and failures[0].startswith(
        f"privacy: v0's CometBFT cannot be found ({home / PID_FILE}): "
    )


def test_a_listener_is_seen_with_the_address_it_is_bound_to_in_its_process() -> None:
    with socket.socket() as local, socket.socket() as open_to_all:
        local.bind(("127.0.0.1", 0))
        open_to_all.bind(("0.0.0.0", 0))
        for sock in (local, open_to_all):
            sock.listen()
        bound = {("127.0.0.1", local.getsockname()[1]), ("0.0.0.0", open_to_all.getsockname()[1])}
        assert bound <= get_process_listeners(os.getpid())
        assert not bound & get_process_listeners(os.getppid())
    assert not bound & get_process_listeners(os.getpid())


def make_tx(kind: str) -> bytes:
    """A transaction's envelope head claiming `kind`: what the audit reads of it."""
    code = next(code for code, record in TX_TYPES.items() if record.__name__ == kind)
    return pack([TX_VERSION, code])


def test_the_blocks_read_are_the_latest_that_held_a_members_transaction() -> None:
    credit, prices = make_tx("CollateralCredit"), make_tx("PriceUpdate")
    txs = [(2, credit), (3, credit), (3, prices), (4, prices), (6, make_tx("TradeBatch"))]
    assert get_secret_heights(txs, 2) == [3, 6]


def make_cometbft_homes(base: Path, filter_peers: bool = True) -> list[Home]:
    """Two validator homes whose CometBFT config is the one the node writes (less
    filter_peers if asked)."""
    homes = []
    for n in range(2):
        seed = bytes([n + 1]) * 32
        keys = NodeKeys(
            KeyFile(NODE_KEY, seed), KeyFile(VALIDATOR_KEY, seed), KeyFile(BRIDGE_KEY, seed)
        )
        home = Home(base / f"node{n}", f"node{n}", keys, 0, 0, 0)
        config = home.cometbft_home / "config" / "config.toml"
        config.parent.mkdir(parents=True)
        listeners = Listeners("127.0.0.1", 26666)
        timeouts = ENGINE_TIMEOUTS[COMETBFT]
        text = build_config_toml(home.name, home.cometbft_home, listeners, (), timeouts)
        config.write_text(text if filter_peers else text.replace("filter_peers = true\n", ""))
        homes.append(home)
    return homes


def cometbft_rpc(let_in: Callable[[str], bool]) -> Callable[[Home], httpx.AsyncClient]:
    """Each home's CometBFT RPC as the audit asks it: abci_query of a peer filter path,
    answered code 0 for a node id `let_in` accepts."""

    def answer(request: httpx.Request) -> httpx.Response:
        params = json.loads(request.content)["params"]
        node_id = params["path"].removeprefix(FILTER_ID_PATH)
        response = {"code": 0} if let_in(node_id) else {"code": CODE_NOT_ALLOWED, "log": "no"}
        return httpx.Response(
            200, json={"jsonrpc": "2.0", "id": 1, "result": {"response": response}}
        )

    return lambda home: httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_a_cometbft_p2p_port_that_lets_a_stranger_in_fails_the_audit(tmp_path: Path) -> None:
    homes = make_cometbft_homes(tmp_path / "closed")
    validators = {get_node_id(h.keys.node.ed25519()) for h in homes}
    closed = cometbft_rpc(lambda node_id: node_id in validators)
    assert await find_open_p2p_ports(homes, closed) == []
    failures = await find_open_p2p_ports(homes, cometbft_rpc(lambda node_id: True))
    assert [f.split(" node ")[0] for f in failures] == [
        "privacy: node0's app lets a stranger's CometBFT",
        "privacy: node1's app lets a stranger's CometBFT",
    ]
    # refuses even the validators
    failures = await find_open_p2p_ports(homes, cometbft_rpc(lambda node_id: False))
    first, second = (get_node_id(h.keys.node.ed25519()) for h in homes)
    assert failures == [
        f"privacy: node0's app refuses node1's CometBFT node {second}, a validator's",
        f"privacy: node1's app refuses node0's CometBFT node {first}, a validator's",
    ]


async def test_a_cometbft_config_without_filter_peers_fails_the_audit(tmp_path: Path) -> None:
    homes = make_cometbft_homes(tmp_path, filter_peers=False)
    validators = {get_node_id(h.keys.node.ed25519()) for h in homes}
    failures = await find_open_p2p_ports(homes, cometbft_rpc(lambda node_id: node_id in validators))
    written = homes[0].cometbft_home / "config" / "config.toml"
    assert failures[0] == (
        "privacy: node0's CometBFT lets in any peer that knows the chain id "
        f"({written} lacks filter_peers = true)"
    )
    assert len(failures) == 2

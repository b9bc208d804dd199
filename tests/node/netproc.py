"""Node processes on loopback for multi-process tests and the network benchmark.

`NodeHome.write` lays out a node home (config.toml, genesis.json, keys) the way
`clearnode init` does, with devnet keys so the example genesis' validators
match; `ProcessNetwork` starts `python -m node.runtime --home DIR` per node and
always kills every process it started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clearing.sandbox import derive_seed
from node.keys import NODE_KEY, VALIDATOR_KEY, KeyFile, compute_peer_id, save_key

ROOT = Path(__file__).resolve().parents[2]
GENESIS_DOC = ROOT / "configs" / "genesis.example.json"


def get_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class NodeHome:
    """One node: home directory, p2p port, peer id; validator `index` or a full node."""

    path: Path
    name: str
    validator_index: int | None
    port: int = field(default_factory=get_free_port)
    log_level: str = "info"
    api_port: int = field(default_factory=get_free_port)
    extra_config: str = "[oracle]\nenabled = false\n"
    """TOML appended to config.toml: the services' sections (oracle off unless given)."""

    @property
    def node_key(self) -> KeyFile:
        return KeyFile(NODE_KEY, derive_seed(f"node-{self.name}"))

    @property
    def peer_id(self) -> str:
        return compute_peer_id(self.node_key)

    @property
    def addr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.port}/p2p/{self.peer_id}"

    @property
    def db(self) -> Path:
        return self.path / "data" / "node.sqlite3"

    def write(self, genesis: dict[str, Any], peers: list[str]) -> None:
        (self.path / "keys").mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.path / "genesis.json").write_text(json.dumps(genesis))
        save_key(self.path / "keys" / "node_key.json", self.node_key)
        if self.validator_index is not None:
            seed = derive_seed(f"validator-{self.validator_index}")
            save_key(self.path / "keys" / "validator_key.json", KeyFile(VALIDATOR_KEY, seed))
        peer_list = ", ".join(json.dumps(p) for p in peers)
        (self.path / "config.toml").write_text(
            f"chain_id = {genesis['chain_id']}\n"
            f'moniker = "{self.name}"\n'
            f'log_level = "{self.log_level}"\n'
            "[p2p]\n"
            'listen_host = "127.0.0.1"\n'
            f"listen_port = {self.port}\n"
            f"persistent_peers = [{peer_list}]\n"
            f'[api]\nenabled = true\nlisten_host = "127.0.0.1"\nlisten_port = {self.api_port}\n'
            + self.extra_config
        )

    def post_tx(self, route: str, tx: bytes) -> int:
        """POSTs an encoded transaction to this node's HTTP API; returns the status code."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{route}",
            data=tx,
            headers={"content-type": "application/msgpack"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def get_roots(self) -> dict[int, bytes]:
        """State root per committed height, read from the node's SQLite file (read-only)."""
        if not self.db.exists():
            return {}
        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return dict(db.execute("SELECT height, state_root FROM blocks").fetchall())
        except sqlite3.OperationalError:
            return {}
        finally:
            db.close()


class ProcessNetwork:
    """Validator and full-node processes; `close` kills (SIGKILL) all that still run."""

    def __init__(self, base: Path, validators: int = 4) -> None:
        self.genesis = json.loads(GENESIS_DOC.read_text())
        assert len(self.genesis["validators"]) == validators
        self.homes = [NodeHome(base / f"v{i}", f"v{i}", i) for i in range(validators)]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        addrs = [h.addr for h in self.homes]
        for home in self.homes:
            home.write(self.genesis, [a for a in addrs if a != home.addr])

    def add_full_node(self, base: Path, name: str) -> NodeHome:
        home = NodeHome(base / name, name, None)
        home.write(self.genesis, [h.addr for h in self.homes])
        self.homes.append(home)
        return home

    def start(self, home: NodeHome) -> None:
        log = open(home.path / "node.log", "ab")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.processes[home.name] = subprocess.Popen(
            [sys.executable, "-m", "node.runtime", "--home", str(home.path)],
            stdout=log,
            stderr=log,
            cwd=ROOT,
            env=env,
        )
        log.close()

    def kill(self, home: NodeHome) -> None:
        process = self.processes.pop(home.name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait()
        self.processes.clear()


@contextmanager
def process_network(base: Path, validators: int = 4) -> Iterator[ProcessNetwork]:
    network = ProcessNetwork(base, validators)
    try:
        for home in network.homes:
            network.start(home)
        yield network
    finally:
        network.close()

"""Node processes on loopback for multi-process tests and the network benchmark.

`NodeHome.write` lays out a node home (config.toml, genesis.json, keys) the way
`clearnode init` does, with devnet keys so the example genesis' validators
match; `ProcessNetwork` starts `clearnode start --home DIR` per node, as operators do,
and always kills every process it started (it can also SIGSTOP / SIGCONT one).
Given `Hosts` (tests/node/netns.py), each validator of a `ProcessNetwork` runs on a host
of its own, listening for peers at that host's address; its HTTP listeners stay on the
host's loopback, which `NodeHome`'s requests reach from inside its namespace.
`CliNetwork` drives the installed console script instead: `clearnode init`,
`clearnode start --home`, `clearnode status --home`.
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bridge.loopback import get_free_port, get_port_range
from clearing.genesis import compute_genesis_hash
from clearing.request_schema import SignedRequest
from clearing.transition.tx import decode_tx
from clearnode.client.sandbox_keys import derive_seed
from clearnode.client.signers import get_member_request_body
from consensus.types import Block
from lightclient.crypto import PrivateKey
from node.commands.init import render_cometbft_tables
from node.config import get_timeouts, load_config
from node.genesis_file import load_genesis
from node.keys import (
    HOME_OPERATOR_TOKEN_FILE,
    NODE_KEY,
    VALIDATOR_KEY,
    KeyFile,
    compute_peer_id,
    generate_operator_token,
    load_operator_token,
    save_key,
    save_operator_token,
)
from node.liveness import get_stall_limit_ms
from tests.node.netns import Hosts, in_namespace
from tests.node.node_logs import print_last_logs
from tests.node.wan import Mesh

ROOT = Path(__file__).resolve().parents[2]
H = TypeVar("H")
GENESIS_DOC = ROOT / "configs" / "genesis.example.json"
SHORT_TIMEOUTS = (
    "[consensus]\ntimeout_propose_ms = 1000\ntimeout_propose_delta_ms = 250\n"
    "timeout_prevote_ms = 400\ntimeout_prevote_delta_ms = 200\n"
    "timeout_precommit_ms = 400\ntimeout_precommit_delta_ms = 200\n"
    "create_empty_blocks_interval_ms = 500\n"
)
"""For a test that waits on failed rounds or a stalled node: about a third of our engine's
defaults, a 4.77 s stall limit (12.52 s). Four validator processes beside two busy-looping
ones (both cores taken) decided every height in round 0, idle (blocks 0.6-0.7 s apart)
and under 5 batches a second."""

QUICK_BLOCKS = "[consensus]\ncreate_empty_blocks_interval_ms = 250\n"
"""For a test that waits for a number of blocks: an idle proposer waits a quarter of the
default for a transaction, so that an idle network of four commits ~2.3 blocks a second
instead of ~0.9 (0.32 CPU-s a second for the four processes instead of 0.16)."""


CLEARNODE = Path(sys.executable).parent / "clearnode"
"""The console script installed beside the interpreter running the tests (.venv/bin)."""


def get_free_port_range(count: int) -> int:
    """First of `count` consecutive loopback ports free right now (`clearnode init` wants them)."""
    ports = get_port_range()
    for _ in range(100):
        first = random.randrange(ports.start, ports.stop - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports found")


def spawn(
    command: list[str], log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """A node process from the repository root, stdout and stderr appended to `log_path`,
    with `env` added to the environment."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=log,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        )


def stop_processes(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGKILL (a stopped process too) and reap every process still running."""
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
    processes.clear()


def read_rows(db_path: Path, query: str) -> list[Any]:
    """The rows `query` reads from a node's SQLite file, opened read-only (the node may
    still run)."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def read_blocks(home: NodeHome) -> list[Block]:
    """Our engine's blocks in `home`'s SQLite file, in height order."""
    rows = read_rows(home.db, "SELECT block FROM blocks ORDER BY height")
    return [Block.decode(row[0]) for row in rows]


def read_roots(db_path: Path) -> dict[int, bytes]:
    """State root per committed height, read from a node's SQLite file (read-only)."""
    if not db_path.exists():
        return {}
    try:
        return dict(read_rows(db_path, "SELECT height, state_root FROM blocks"))
    except sqlite3.OperationalError:
        return {}


ORACLE_OFF = "[oracle]\nenabled = false\n"


@dataclass
class NodeHome:
    """One node: home directory, p2p port, peer id; validator `index` or a full node."""

    path: Path
    name: str
    validator_index: int | None
    port: int = field(default_factory=get_free_port)
    log_level: str = "info"
    api_port: int = field(default_factory=get_free_port)
    operator_port: int = field(default_factory=get_free_port)
    """The operator listener's: full blocks, members' health, /metrics."""
    extra_config: str = ORACLE_OFF
    """TOML appended to config.toml: the services' sections (oracle off unless given)."""
    observers: tuple[str, ...] = ()
    """`[p2p] observers`: peer ids allowed besides the genesis validators' nodes."""
    cometbft_metrics_port: int | None = None
    """Its CometBFT's Prometheus listener, on a network whose engine is CometBFT."""
    cometbft_pprof_port: int | None = None
    """Its CometBFT's Go profiler, on a CometBFT network made `profiled`."""
    env: dict[str, str] = field(default_factory=dict)
    """Added to its process's environment (e.g. libfaketime's, for a clock that is off)."""
    host: str = "127.0.0.1"
    """The address its p2p listener binds and its peers dial."""
    namespace: str | None = None
    """The network namespace it runs in (None: this host's), where its HTTP requests go."""

    @property
    def node_key(self) -> KeyFile:
        return KeyFile(NODE_KEY, derive_seed(f"node-{self.name}"))

    @property
    def peer_id(self) -> str:
        return compute_peer_id(self.node_key)

    @property
    def addr(self) -> str:
        return f"/ip4/{self.host}/tcp/{self.port}/p2p/{self.peer_id}"

    @property
    def operator_headers(self) -> dict[str, str]:
        """What every request to the operator listener carries (its token, as init wrote)."""
        token = load_operator_token(self.path / HOME_OPERATOR_TOKEN_FILE)
        return {"authorization": f"Bearer {token}"}

    @property
    def db(self) -> Path:
        return self.path / "data" / "node.sqlite3"

    @property
    def genesis_hash(self) -> bytes:
        """The hash of the genesis file `write` wrote: what a client host of the network
        says in its genesis handshake."""
        return compute_genesis_hash((self.path / "genesis.json").read_bytes())

    def write(self, genesis: dict[str, Any], peers: list[str]) -> None:
        (self.path / "keys").mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.path / "genesis.json").write_text(json.dumps(genesis))
        save_key(self.path / "keys" / "node_key.json", self.node_key)
        save_operator_token(self.path / HOME_OPERATOR_TOKEN_FILE, generate_operator_token())
        if self.validator_index is not None:
            seed = derive_seed(f"validator-{self.validator_index}")
            save_key(self.path / "keys" / "validator_key.json", KeyFile(VALIDATOR_KEY, seed))
        peer_list = ", ".join(json.dumps(p) for p in peers)
        (self.path / "config.toml").write_text(
            f"chain_id = {genesis['chain_id']}\n"
            f'moniker = "{self.name}"\n'
            f'log_level = "{self.log_level}"\n'
            "[p2p]\n"
            f'listen_host = "{self.host}"\n'
            f"listen_port = {self.port}\n"
            f"persistent_peers = [{peer_list}]\n"
            f"observers = {json.dumps(list(self.observers))}\n"
            f'[api]\nenabled = true\nlisten_host = "127.0.0.1"\nlisten_port = {self.api_port}\n'
            f"operator_enabled = true\noperator_listen_port = {self.operator_port}\n"
            + self.extra_config
        )

    def urlopen(self, request: urllib.request.Request | str, timeout_s: float = 10) -> Any:
        """`urllib.request.urlopen`, connecting from inside the node's namespace."""
        if self.namespace is None:
            return urllib.request.urlopen(request, timeout=timeout_s)
        return in_namespace(
            self.namespace, lambda: urllib.request.urlopen(request, timeout=timeout_s)
        )

    def post_tx(self, route: str, tx: bytes) -> int:
        """POSTs an encoded transaction to this node's HTTP API; returns the status code."""
        return self.post_tx_answer(route, tx)[0]

    def post_tx_answer(self, route: str, tx: bytes) -> tuple[int, str]:
        """POSTs an encoded transaction to this node's HTTP API: the status code and body."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}{route}",
            data=tx,
            headers={"content-type": "application/msgpack"},
            method="POST",
        )
        try:
            with self.urlopen(request) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode()

    def get_json(self, route: str) -> tuple[int, Any]:
        """GETs `route` of this node's public API: the status code and the JSON body (an
        error's too)."""
        url = f"http://127.0.0.1:{self.api_port}{route}"
        try:
            with self.urlopen(url) as response:
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), json.loads(exc.read())

    def post_member_request(self, tx: bytes) -> int:
        """POSTs an encoded member request as a wallet sends it (the EIP-712 message and its
        signature as JSON); returns the status code."""
        record = decode_tx(tx)
        assert isinstance(record, SignedRequest), type(record)
        chain_id = json.loads((self.path / "genesis.json").read_text())["chain_id"]
        body = json.dumps(get_member_request_body(record, chain_id)).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}/v1/member-requests", data=body,
            headers={"content-type": "application/json"}, method="POST",
        )  # fmt: skip
        try:
            with self.urlopen(request) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def get_metrics(self) -> str:
        """GET /metrics of the operator listener (Prometheus text)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.operator_port}/metrics", headers=self.operator_headers
        )
        with self.urlopen(request) as response:
            return str(response.read().decode())

    def get_roots(self) -> dict[int, bytes]:
        """State root per committed height, read from the node's SQLite file (read-only)."""
        return read_roots(self.db)

    def get_stall_limit_s(self) -> float:
        """How long the node goes without a commit before it answers 503, as its config.toml
        and its genesis's engine set it."""
        config = load_config(self.path)
        return get_stall_limit_ms(get_timeouts(config, load_genesis(config).engine)) / 1000


class ProcessNetwork:
    """Validator and full-node processes; `close` kills (SIGKILL) all that still run."""

    def __init__(
        self,
        base: Path,
        validators: int = 4,
        extra_config: str = "",
        observers: tuple[str, ...] | None = None,
        engine: str = "clearnode",
        genesis_time_ms: int | None = None,
        genesis: dict[str, Any] | None = None,
        services: str | Callable[[NodeHome], str] = ORACLE_OFF,
        hosts: Hosts | None = None,
        mesh: Mesh | None = None,
        profiled: bool = False,
    ) -> None:
        """`engine` "cometbft": the genesis names it, each home gets a `[cometbft]` table
        (free ports, the others as persistent peers; `profiled`: its Go profiler on too).
        `genesis_time_ms`: the genesis's time, if not the example's (a light client's trust
        runs 14 days from it).
        `genesis`: the document to start from instead of the example's. `services`: each
        home's services' sections, or what gives them for a home (before `extra_config`).
        `hosts`: validator i runs on host i. `mesh`: node i dials node j through the
        mesh's link i -> j (tests/node/wan.py), on both layers."""
        self.genesis = (
            copy.deepcopy(genesis) if genesis is not None else json.loads(GENESIS_DOC.read_text())
        )
        self.services = services
        if genesis_time_ms is not None:
            self.genesis["genesis_time_ms"] = genesis_time_ms
        add_validators(self.genesis, validators)
        self.engine = engine
        if engine == "cometbft":
            self.genesis["engine"] = engine
        self.extra_config = extra_config
        """TOML appended to every node's config (after the services' sections)."""
        self.observers = observers
        """Given: genesis names the validators' nodes and only they and these may connect."""
        self.hosts = hosts
        self.mesh = mesh
        self.profiled = profiled
        self.homes = [self._home(base / f"v{i}", f"v{i}", i) for i in range(validators)]
        if observers is not None:
            for home, validator in zip(self.homes, self.genesis["validators"], strict=True):
                validator["peer_id"] = home.peer_id
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._write_homes()

    def _home(self, path: Path, name: str, validator_index: int | None) -> NodeHome:
        home = NodeHome(path, name, validator_index, observers=self.observers or ())
        if self.hosts is not None:
            assert validator_index is not None, "on hosts, only validators have one"
            home.host = self.hosts.addresses[validator_index]
            home.namespace = self.hosts.names[validator_index]
        home.extra_config = self._get_config(home)
        return home

    def _get_config(self, home: NodeHome) -> str:
        services = self.services(home) if callable(self.services) else self.services
        return services + self.extra_config

    def _write_homes(self) -> None:
        """Every home's files from the genesis and the homes: each node's peers, and on
        CometBFT each one's `[cometbft]` table naming every other node's CometBFT."""
        if self.engine == "cometbft":
            for home in self.homes:
                home.extra_config = self._get_config(home)
            add_cometbft_tables(self.homes, self.mesh, self.profiled)
        for i, home in enumerate(self.homes):
            shutil.rmtree(home.path / "keys", ignore_errors=True)  # the same keys (by name)
            home.write(self.genesis, [self._get_peer_addr(i, j) for j in range(len(self.homes))
                                      if j != i])  # fmt: skip

    def _get_peer_addr(self, i: int, j: int) -> str:
        """Where node i dials node j's libp2p host."""
        peer = self.homes[j]
        if self.mesh is None:
            return peer.addr
        return f"/ip4/127.0.0.1/tcp/{self.mesh.route(i, j, peer.port)}/p2p/{peer.peer_id}"

    def add_node_before_start(self, base: Path, name: str, validator_index: int | None) -> NodeHome:
        """A node (validator `validator_index`'s key, or a full node's) joining a network
        that has not started: every home is written again, with the genesis as it is now."""
        home = self._home(base / name, name, validator_index)
        self.homes.append(home)
        self._write_homes()
        return home

    def add_full_node(self, base: Path, name: str) -> NodeHome:
        home = self._home(base / name, name, None)
        home.write(self.genesis, [h.addr for h in self.homes])
        self.homes.append(home)
        return home

    def start(self, home: NodeHome) -> None:
        command = [str(CLEARNODE), "start", "--home", str(home.path)]
        if self.hosts is not None and home.validator_index is not None:
            command = [*self.hosts.wrap(home.validator_index), *command]
        self.processes[home.name] = spawn(command, home.path / "node.log", home.env)

    def kill(self, home: NodeHome) -> None:
        process = self.processes.pop(home.name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def pause(self, home: NodeHome) -> None:
        """SIGSTOP: the process keeps its sockets and files but runs no code until `resume`."""
        self.processes[home.name].send_signal(signal.SIGSTOP)

    def resume(self, home: NodeHome) -> None:
        self.processes[home.name].send_signal(signal.SIGCONT)

    def close(self) -> None:
        stop_processes(self.processes)


def add_validators(genesis: dict[str, Any], count: int) -> None:
    """`genesis` with `count` validators: the example's first ones, then validator-i with
    the devnet key NodeHome gives validator i (and a bridge address no test uses)."""
    validators = genesis["validators"]
    assert count >= 1, count
    del validators[count:]
    for index in range(len(validators), count):
        key = PrivateKey(derive_seed(f"validator-{index}"))
        validators.append({
            "name": f"validator-{index}",
            "pubkey": "0x" + key.public_key.hex(),
            "power": validators[0]["power"],
            "evm_address": "0x" + derive_seed(f"bridge-{index}")[:20].hex(),
        })  # fmt: skip


def add_cometbft_tables(
    homes: list[NodeHome], mesh: Mesh | None = None, profiled: bool = False
) -> None:
    """Each home's `[cometbft]` table: free ports (its Prometheus metrics on loopback too,
    and if `profiled` its Go profiler), the others' CometBFT nodes, at their hosts (or
    through `mesh`'s links), as peers."""
    ports = [(get_free_port(), get_free_port()) for _ in homes]
    keys = [h.node_key for h in homes]
    tables = render_cometbft_tables(keys, [h.host for h in homes], ports)
    if mesh is not None:  # node i's table names each peer j at the link i -> j's port
        loopback = ["127.0.0.1"] * len(homes)
        tables = [
            render_cometbft_tables(keys, loopback, [
                (p2p if j == i else mesh.route(i, j, p2p), metrics)
                for j, (p2p, metrics) in enumerate(ports)
            ])[i]
            for i in range(len(homes))
        ]  # fmt: skip
    for home, (_, metrics), table in zip(homes, ports, tables, strict=True):
        home.cometbft_metrics_port = metrics
        if profiled:
            home.cometbft_pprof_port = get_free_port()
            table += f"pprof_port = {home.cometbft_pprof_port}\n"
        home.extra_config += table


class Network(Protocol[H]):
    homes: list[H]

    def start(self, home: H) -> None: ...

    def close(self) -> None: ...


N = TypeVar("N", bound=Network[Any])


@contextmanager
def running(network: N) -> Iterator[N]:
    """Every home of `network` started; every process killed on the way out, and what each
    node logged last printed if the test failed meanwhile."""
    try:
        for home in network.homes:
            network.start(home)
        yield network
    except Exception:
        print_last_logs(network.homes)
        raise
    finally:
        network.close()


def process_network(
    base: Path,
    validators: int = 4,
    extra_config: str = "",
    observers: tuple[str, ...] | None = None,
    genesis_time_ms: int | None = None,
) -> AbstractContextManager[ProcessNetwork]:
    """`observers` given: only the validators' nodes and those peers may connect."""
    network = ProcessNetwork(
        base, validators, extra_config, observers, genesis_time_ms=genesis_time_ms
    )
    return running(network)


class CliNetwork:
    """`clearnode init --validators N` homes under `base`, run by `clearnode start --home`."""

    def __init__(
        self,
        base: Path,
        validators: int = 4,
        init_args: tuple[str, ...] = (),
        extra_config: str = "",
    ) -> None:
        """`extra_config`: TOML appended to the config.toml of every home init wrote."""
        # init gives the API listeners `api` on and the operator listeners the ports after
        # them: all 2 x validators must be free, and apart from the p2p ones
        p2p = get_free_port_range(validators)
        api = p2p
        while abs(api - p2p) < 2 * validators:
            api = get_free_port_range(2 * validators)
        self.base = base
        ports = ["--p2p-port", str(p2p), "--api-port", str(api)]
        count = ["--validators", str(validators)]
        self.init_output = self.run_cli(["init", "--home", str(base), *count, *ports, *init_args])
        # `init --validators 1` makes `base` itself the home
        self.homes = (
            [base]
            if (base / "config.toml").exists()
            else sorted(path for path in base.iterdir() if (path / "config.toml").exists())
        )
        assert len(self.homes) == validators, self.homes
        for home in self.homes:
            with open(home / "config.toml", "a") as config:
                config.write(extra_config)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @staticmethod
    def run_cli(args: list[str], timeout_s: float = 30) -> str:
        """Runs `clearnode ARGS` to completion; returns stdout (raises on a non-zero exit)."""
        done = subprocess.run(
            [str(CLEARNODE), *args], capture_output=True, cwd=ROOT, timeout=timeout_s
        )
        if done.returncode != 0:
            raise AssertionError(f"clearnode {' '.join(args)}: exit {done.returncode}: {done}")
        return done.stdout.decode()

    def start(self, home: Path) -> None:
        command = [str(CLEARNODE), "start", "--home", str(home)]
        self.processes[home.name] = spawn(command, home / "node.log")

    def get_statuses(self) -> list[dict[str, Any] | None]:
        """`clearnode status --home` of every node (run side by side: each is a CLI start-up
        of seconds) as JSON; None for a node that did not answer."""
        command = [str(CLEARNODE), "status", "--timeout", "5", "--home"]
        running = [
            subprocess.Popen([*command, str(home)], stdout=subprocess.PIPE, cwd=ROOT)
            for home in self.homes
        ]
        statuses: list[dict[str, Any] | None] = []
        for process in running:
            out, _ = process.communicate(timeout=60)
            statuses.append(json.loads(out) if process.returncode == 0 else None)
        return statuses

    def close(self) -> None:
        stop_processes(self.processes)


def cli_network(
    base: Path, validators: int = 4, init_args: tuple[str, ...] = (), extra_config: str = ""
) -> AbstractContextManager[CliNetwork]:
    return running(CliNetwork(base, validators, init_args, extra_config))


class CeremonyNetwork:
    """Validators whose homes are made one by one as independent operators make them
    (docs/ceremony.md): `clearnode init --ceremony` and `genesis contribution` per home,
    the venue's `keys venue`, the coordinator's `genesis template` and `genesis collect`,
    then `genesis check` and `genesis seed` per home; run by `clearnode start --home`.
    Validator i listens on `hosts[i]`; every command of its operator runs under `wrap(i)`
    (e.g. `ip netns exec NAME`)."""

    def __init__(
        self,
        base: Path,
        hosts: list[str],
        wrap: Callable[[int], list[str]] = lambda _: [],
        edit_template: Callable[[Path, list[Path]], None] | None = None,
    ) -> None:
        """`edit_template`: the coordinator's edits of its template, given the contribution
        files (to deploy vaults trusting their bridge addresses first, say)."""
        count = len(hosts)
        p2p, api = get_free_port_range(count), get_free_port_range(2 * count)
        while abs(api - p2p) < 2 * count:
            api = get_free_port_range(2 * count)
        self.base, self.hosts, self.wrap = base, hosts, wrap
        self.homes = [base / f"v{i}" for i in range(count)]
        self.api_ports = [api + i for i in range(count)]
        self.genesis = base / "coordinator" / "genesis.json"
        self.ceremony = base / "coordinator" / "genesis.ceremony.json"
        contributions = [base / "coordinator" / f"v{i}.json" for i in range(count)]
        shares = [base / "coordinator" / f"shares-v{i}.json" for i in range(count)]
        self.run_each([["init", "--ceremony", "--home", str(home), "--moniker", f"v{i}",
                        "--p2p-host", hosts[i], "--p2p-port", str(p2p + i),
                        "--api-host", hosts[i], "--api-port", str(api + i),
                        "--operator-port", str(api + count + i)]
                       for i, home in enumerate(self.homes)])  # fmt: skip
        self.run_each([["genesis", "contribution", "--home", str(home), "--network",
                        "ceremony-test", "--out", str(contributions[i])]
                       for i, home in enumerate(self.homes)])  # fmt: skip
        venue_key = base / "venue" / "alpha.json"
        venue = json.loads(self.run_cli(None, ["keys", "venue", "--id", "alpha",
                                               "--out", str(venue_key)]))  # fmt: skip
        template = base / "coordinator" / "template.json"
        self.run_cli(None, ["genesis", "template", "--chain-id", "4242", "--out", str(template),
                            "--venue", f"alpha={venue['pubkey']}"])  # fmt: skip
        if edit_template is not None:
            edit_template(template, contributions)
        collect = ["genesis", "collect", "--template", str(template), "--network", "ceremony-test"]
        collect += [arg for path in contributions for arg in ("--contribution", str(path))]
        self.collect_output = self.run_cli(None, [*collect, "--out", str(self.genesis)])
        self.check_outputs = self.run_each([["genesis", "check", "--home", str(home), "--genesis",
                                             str(self.genesis), "--shares-out", str(shares[i])]
                                            for i, home in enumerate(self.homes)])  # fmt: skip
        given = [arg for path in shares for arg in ("--shares", str(path))]
        self.seed_outputs = self.run_each([["genesis", "seed", "--home", str(home), "--ceremony",
                                            str(self.ceremony), *given]
                                           for home in self.homes])  # fmt: skip
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def run_cli(self, index: int | None, args: list[str]) -> str:
        """`clearnode ARGS` as validator `index`'s operator (None: the coordinator)."""
        return self.run_each([args], [index])[0]

    def run_each(
        self, commands: list[list[str]], operators: list[int | None] | None = None
    ) -> list[str]:
        """`clearnode COMMAND` by each operator (by default operator i runs commands[i]) at
        once, as operators on their own hosts would; their outputs."""
        started = [
            subprocess.Popen(
                [*(self.wrap(i) if i is not None else []), str(CLEARNODE), *args],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            for i, args in zip(
                range(len(commands)) if operators is None else operators, commands, strict=True
            )
        ]  # fmt: skip
        outputs = []
        for args, process in zip(commands, started, strict=True):
            out, err = process.communicate(timeout=60)
            if process.returncode != 0:
                raise AssertionError(f"clearnode {' '.join(args)}: exit {process.returncode}: "
                                     f"{out.decode()} {err.decode()}")  # fmt: skip
            outputs.append(out.decode())
        return outputs

    def start(self, home: Path) -> None:
        index = self.homes.index(home)
        command = [*self.wrap(index), str(CLEARNODE), "start", "--home", str(home)]
        self.processes[home.name] = spawn(command, home / "node.log")

    def close(self) -> None:
        stop_processes(self.processes)

"""`clearnode init --home DIR [--validators N]`: keys, config.toml and a genesis.

With `--validators N` (N > 1), DIR gets one home per validator (`DIR/node0` ...),
listening on consecutive loopback ports, each listing the others as persistent
peers and sharing one genesis: a local testnet ready for `clearnode start`.
The genesis takes assets, instruments and risk parameters from
configs/genesis.example.json and lists the new validators; the oracle simulates
every price that genesis lists, from its genesis value. Every home gets the
network's solvency-report seed (`keys/report_seed.json`): one new secret shared
by the homes made together, or the one given by `--report-seed FILE` (a
validator joining an existing network).

Every key init writes is new and random: the validators' keys, and one key per
genesis venue (the template's venue ids, with fresh public keys), written to
`DIR/venue_keys/<id>.json` for the operator to hand to each venue. No key of
the template (nor the sandbox's public test keys) reaches an init-made genesis.
A home's node, validator and bridge keys already there (`clearnode keys generate`,
run first so a vault can trust the bridge addresses before init) are kept and used;
init writes only the missing ones and never overwrites a key file. Every home gets its
own operator token (`keys/operator_token`, 0600): the operator listener answers only
requests carrying it (node/api/operator_auth.py).
At the end init prints what it made: each node's addresses and the next commands.

Collateral chains (node/chainspec.py): `--bridge-chain` gives a real chain's RPC,
vault and token addresses; `--deploy-anvil NAME=URL` deploys a vault trusting the
new validators and test tokens on a running anvil first. Either way each chain is a
`[[bridge_chains]]` section of every config, and its tokens the genesis collateral.

`--engine cometbft` makes a network whose blocks CometBFT orders (genesis `engine`,
docs/operator.md): each config gets a `[cometbft]` table, node i's CometBFT listening for
peers on p2p_port + N + i and serving its RPC on 127.0.0.1 at p2p_port + 2N + i (N
homes), the other validators' CometBFT nodes as its persistent peers.

`--ceremony` makes one home of a network of independent operators (docs/ceremony.md):
its keys and config only, listening where `--p2p-host`, `--external-address` and
`--api-host` say; the genesis and the report seed come later from `clearnode genesis`.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.validators import EvmValidatorSet
from clearing.errors import GenesisError
from clearing.genesis import DEFAULT_ENGINE, ENGINES, parse_genesis
from clearing.risk.params import parse_stress_days_csv
from configs import EXAMPLE_GENESIS
from lightclient.anchor import COMETBFT
from node.chainspec import (
    AnvilTarget,
    ChainSpec,
    build_collateral,
    check_unique_names,
    deploy_on_anvil,
    parse_anvil_target,
    parse_bridge_chain,
    place_collateral,
    place_vaults,
    render_bridge_chains,
)
from node.config import CONFIG_FILE_NAME, load_config
from node.keys import (
    BRIDGE_KEY,
    HOME_KEY_FILES,
    HOME_OPERATOR_TOKEN_FILE,
    NODE_KEY,
    VALIDATOR_KEY,
    VENUE_KEY,
    KeyFile,
    KeyFileError,
    compute_peer_id,
    generate_key,
    generate_operator_token,
    get_node_id,
    load_key,
    save_key,
    save_operator_token,
)
from node.p2p_config import UNSPECIFIED_HOSTS, check_p2p_address
from node.reports.seed import create_report_seed, load_report_seed, save_report_seed

VALIDATOR_POWER = 10
ORACLE_INTERVAL_MS = 2_000  # every validator gossips a sample per interval: keep the mesh light
REPORT_SEED_FILE = "keys/report_seed.json"
VENUE_KEYS_DIR = "venue_keys"
LOOPBACK = "127.0.0.1"


SUMMARY = "create node keys, config.toml and a genesis in a home directory"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("init", help=SUMMARY)
    parser.add_argument("--home", type=Path, required=True, help="node home (created)")
    parser.add_argument("--validators", type=int, default=1, help="N > 1: a local testnet")
    parser.add_argument("--chain-id", type=int, default=4242, help="clearing chain id")
    parser.add_argument("--moniker", default="node", help="name prefix of the node(s)")
    parser.add_argument("--p2p-port", type=int, default=26656, help="first p2p port")
    parser.add_argument("--api-port", type=int, default=8080, help="first API port")
    parser.add_argument(
        "--p2p-host", default=LOOPBACK, help="p2p listen host (0.0.0.0: every interface)"
    )
    parser.add_argument(
        "--external-address",
        default="",
        metavar="HOST[:PORT]",
        help="where the other validators dial this node, if not p2p-host:p2p-port "
        "(one home only; announced by `clearnode genesis contribution`)",
    )
    parser.add_argument(
        "--api-host",
        default=LOOPBACK,
        help="public API listen host (the operator one stays on loopback)",
    )
    parser.add_argument(
        "--ceremony",
        action="store_true",
        help="one home's keys and config only; its genesis and report seed come from "
        "`clearnode genesis` (docs/ceremony.md)",
    )
    parser.add_argument(
        "--operator-port",
        type=int,
        default=None,
        help="first operator listener port (default: the ports after the API ones)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=DEFAULT_ENGINE,
        help="the consensus engine that orders the network's blocks (genesis `engine`)",
    )
    parser.add_argument("--genesis-template", type=Path, default=EXAMPLE_GENESIS)
    parser.add_argument(
        "--stress-days",
        type=Path,
        default=None,
        help="a label,underlying,move_bps CSV (configs/stress_days.csv) replacing the "
        "template's risk.stress_days",
    )
    parser.add_argument(
        "--report-seed",
        type=Path,
        default=None,
        help="the network's existing report seed file (default: a new one)",
    )
    parser.add_argument(
        "--bridge-chain",
        action="append",
        default=[],
        metavar="name=N,chain_id=ID,rpc_url=URL,vault=0x..,SYMBOL=0x..",
        help="a collateral chain with its deployed vault and tokens (repeatable); optional "
        "confirmation_depth=D (default 12)",
    )
    parser.add_argument(
        "--deploy-anvil",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="deploy a vault and test tokens on the anvil at URL and use it (repeatable)",
    )
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class NodeKeys:
    node: KeyFile
    validator: KeyFile
    bridge: KeyFile
    kept: tuple[Path, ...] = ()
    """Key files found in the home, used as they are."""

    def by_kind(self) -> dict[str, KeyFile]:
        return {NODE_KEY: self.node, VALIDATOR_KEY: self.validator, BRIDGE_KEY: self.bridge}


def get_node_keys(home: Path) -> NodeKeys:
    """The keys already in `home` (`clearnode keys generate`), new ones for the others."""
    keys: dict[str, KeyFile] = {}
    kept: list[Path] = []
    for kind, name in HOME_KEY_FILES.items():
        path = home / name
        if path.exists():
            keys[kind] = load_key(path, kind)
            kept.append(path)
        else:
            keys[kind] = generate_key(kind)
    return NodeKeys(keys[NODE_KEY], keys[VALIDATOR_KEY], keys[BRIDGE_KEY], tuple(kept))


@dataclass(frozen=True)
class Hosts:
    """Where a home's node listens and is dialled (its ports are init's arguments)."""

    p2p: str = LOOPBACK
    api: str = LOOPBACK
    external_address: str = ""
    """A multiaddr without /p2p (node/config.py P2P_ADDRESS), or empty: the p2p host's."""


def to_multiaddr(host: str, port: int) -> str:
    """`/ip4|ip6|dns4/HOST/tcp/PORT`, as libp2p dials `host`."""
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        return f"/dns4/{host}/tcp/{port}"
    return f"/ip{version}/{host}/tcp/{port}"


def parse_external_address(text: str, default_port: int) -> str:
    """`HOST[:PORT]` or a multiaddr as a P2P_ADDRESS multiaddr; ValueError saying why not."""
    if text.startswith("/"):
        address = text
    else:
        host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
        if port and not port.isdigit():
            raise ValueError(f"--external-address {text!r}: the port is not a number")
        address = to_multiaddr(host or text, int(port) if port else default_port)
    return check_p2p_address(address)


def render_config(
    chain_id: int,
    moniker: str,
    p2p_port: int,
    api_port: int,
    operator_port: int,
    peers: list[str],
    hosts: Hosts = Hosts(),
) -> str:
    peer_lines = "".join(f'    "{p}",\n' for p in peers)
    external = f'external_address = "{hosts.external_address}"\n' if hosts.external_address else ""
    return (
        "# Written by `clearnode init`; every key is documented in configs/node.example.toml.\n"
        f"chain_id = {chain_id}\n"
        f'moniker = "{moniker}"\n'
        'genesis_file = "genesis.json"\n'
        'log_level = "info"\n\n'
        "[p2p]\n"
        f'listen_host = "{hosts.p2p}"\n'
        f"listen_port = {p2p_port}\n"
        f"{external}"
        f"persistent_peers = [\n{peer_lines}]\n\n"
        "[api]\n"
        f'listen_host = "{hosts.api}"\n'
        f"listen_port = {api_port}\n"
        "# Full blocks, each member's margin health, /metrics: keep it on loopback\n"
        '# (docs/operator.md, "The two API listeners").\n'
        "operator_enabled = true\n"
        'operator_listen_host = "127.0.0.1"\n'
        f"operator_listen_port = {operator_port}\n\n"
        "[storage]\n"
        'path = "data/node.sqlite3"\n'
        'consensus_wal = "data/consensus.wal"\n'
        "snapshot_interval = 100\n\n"
        "[reports]\n"
        "enabled = true\n"
        f'seed_file = "{REPORT_SEED_FILE}"\n'
    )


def render_oracle(genesis: dict[str, Any]) -> str:
    """A simulator source over every index and mark price of `genesis`, starting at its
    genesis value: each validator of a local testnet sees the same moving prices."""
    prices = {**genesis["index_prices"], **genesis["mark_prices"]}
    return (
        "[oracle]\n"
        "enabled = true\n"
        f"interval_ms = {ORACLE_INTERVAL_MS}\n\n"
        "# A deterministic simulator for a local testnet; replay, http and evm (a price-feed\n"
        "# contract on a [[bridge_chains]] chain) sources: see configs/node.example.toml.\n"
        "[[oracle.sources]]\n"
        'kind = "simulator"\n'
        f"symbols = {json.dumps(list(prices))}\n"
        f"start_prices = {json.dumps(list(prices.values()))}\n"
        "seed = 7\n"
        "max_step_bps = 5\n"
    )


def render_cometbft_tables(
    node_keys: list[KeyFile], hosts: list[str], ports: list[tuple[int, int]]
) -> list[str]:
    """Each node's `[cometbft]` table: its CometBFT's (p2p, metrics; 0: off) ports from
    `ports`, the other nodes' CometBFT (node j's dialled at `hosts[j]`) as its persistent
    peers."""
    peers = [
        f"{get_node_id(key.ed25519())}@{host}:{p2p}"
        for key, host, (p2p, _) in zip(node_keys, hosts, ports, strict=True)
    ]
    return [
        "\n[cometbft]\n"
        f"p2p_port = {p2p}\n"
        f"metrics_port = {metrics}\n"
        f"persistent_peers = {json.dumps([p for j, p in enumerate(peers) if j != index])}\n"
        for index, (p2p, metrics) in enumerate(ports)
    ]


def build_genesis(
    template: dict[str, Any], chain_id: int, validators: list[tuple[str, NodeKeys]]
) -> dict[str, Any]:
    doc = copy.deepcopy(template)
    doc["chain_id"] = chain_id
    doc["validators"] = [
        {
            "name": name,
            "pubkey": "0x" + keys.validator.public_key().hex(),
            "power": VALIDATOR_POWER,
            "evm_address": "0x" + keys.bridge.public_key().hex(),
            # Only these nodes (and each config's [p2p] observers) may connect.
            "peer_id": compute_peer_id(keys.node),
        }
        for name, keys in validators
    ]
    parse_genesis(doc)  # the template plus our validators must be a valid genesis
    return doc


def replace_venue_keys(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, KeyFile]]:
    """`template` with a fresh key for each of its venues; returns it and the keys by id."""
    doc = copy.deepcopy(template)
    keys = {venue["id"]: generate_key(VENUE_KEY) for venue in doc.get("venues", [])}
    doc["venues"] = [
        {**venue, "pubkey": "0x" + keys[venue["id"]].public_key().hex()}
        for venue in doc.get("venues", [])
    ]
    return doc, keys


@dataclass(frozen=True)
class InitNode:
    """One home init made, and where its node will listen."""

    name: str
    home: Path
    peer_id: str
    p2p_addr: str
    api_url: str
    operator_url: str
    kept_keys: tuple[Path, ...]


@dataclass(frozen=True)
class InitResult:
    nodes: list[InitNode]
    venue_key_files: dict[str, Path]
    chains: list[ChainSpec]


def init_homes(
    home: Path,
    count: int,
    chain_id: int,
    moniker: str,
    p2p_port: int,
    api_port: int,
    template: Path = EXAMPLE_GENESIS,
    report_seed: Path | None = None,
    chains: list[ChainSpec] | None = None,
    anvils: list[AnvilTarget] | None = None,
    operator_port: int | None = None,
    stress_days: Path | None = None,
    hosts: Hosts = Hosts(),
    engine: str = DEFAULT_ENGINE,
) -> InitResult:
    """Create `count` node homes (home itself when count == 1) and the venues' key files.

    Node i listens on p2p_port + i, api_port + i and operator_port + i (by default the
    ports after the API ones: api_port + count + i)."""
    if count < 1:
        raise ValueError(f"--validators must be >= 1, got {count}")
    if count > 1 and hosts.external_address:
        raise ValueError("--external-address names one home's address: not with --validators")
    first_operator = api_port + count if operator_port is None else operator_port
    homes = [home] if count == 1 else [home / f"{moniker}{i}" for i in range(count)]
    names = [moniker if count == 1 else f"{moniker}{i}" for i in range(count)]
    for h in homes:
        if (h / CONFIG_FILE_NAME).exists():
            raise FileExistsError(f"{h / CONFIG_FILE_NAME} already exists; refusing to overwrite")
    if (home / VENUE_KEYS_DIR).exists():
        raise FileExistsError(f"{home / VENUE_KEYS_DIR} already exists; refusing to overwrite")
    given, anvils = list(chains or []), list(anvils or [])
    check_unique_names(given, anvils)
    keys = [get_node_keys(h) for h in homes]
    venue_template, venue_keys = replace_venue_keys(json.loads(template.read_text()))
    if stress_days is not None:
        try:
            days = parse_stress_days_csv(stress_days.read_text(), str(stress_days))
        except GenesisError as exc:
            # the key names the file and line: say it as a person reads a CSV error
            raise ValueError(f"{exc.key}: expected {exc.expected}, found {exc.got!r}") from exc
        venue_template.setdefault("risk", {})["stress_days"] = days
    evm_set = EvmValidatorSet.from_members(
        0, [(k.bridge.public_key(), VALIDATOR_POWER) for k in keys]
    )
    bridge_chains = given + [deploy_on_anvil(a, evm_set, venue_template) for a in anvils]
    if bridge_chains:
        place_collateral(venue_template, build_collateral(venue_template, bridge_chains))
        place_vaults(venue_template, {c.chain_id: c.vault for c in bridge_chains})
    if engine != DEFAULT_ENGINE:
        venue_template["engine"] = engine
    genesis = build_genesis(venue_template, chain_id, list(zip(names, keys, strict=True)))
    seed = create_report_seed() if report_seed is None else load_report_seed(report_seed)
    peer_ids = [compute_peer_id(k.node) for k in keys]
    dialled = LOOPBACK if hosts.p2p in UNSPECIFIED_HOSTS else hosts.p2p
    addrs = [f"{to_multiaddr(dialled, p2p_port + i)}/p2p/{p}" for i, p in enumerate(peer_ids)]
    # CometBFT listens after the nodes' libp2p ports (its RPC on a socket in its home)
    count = len(homes)
    comet_ports = [(p2p_port + count + i, 0) for i in range(count)]
    comet_tables = render_cometbft_tables([k.node for k in keys], [dialled] * count, comet_ports)
    for i, (h, name, k) in enumerate(zip(homes, names, keys, strict=True)):
        h.mkdir(parents=True, exist_ok=True)
        for kind, key in k.by_kind().items():
            if h / HOME_KEY_FILES[kind] not in k.kept:
                save_key(h / HOME_KEY_FILES[kind], key)
        save_report_seed(h / REPORT_SEED_FILE, seed)
        save_new_operator_token(h)
        (h / "genesis.json").write_text(json.dumps(genesis, indent=2) + "\n")
        peers = [a for j, a in enumerate(addrs) if j != i]
        config = render_config(
            chain_id, name, p2p_port + i, api_port + i, first_operator + i, peers, hosts
        )
        services = render_oracle(genesis) + render_bridge_chains(bridge_chains)
        if engine == COMETBFT:
            services += comet_tables[i]
        (h / CONFIG_FILE_NAME).write_text(config + "\n" + services)
        load_config(h)  # what we wrote must load
    venue_key_files = {venue: home / VENUE_KEYS_DIR / f"{venue}.json" for venue in venue_keys}
    for venue, path in venue_key_files.items():
        save_key(path, venue_keys[venue])
    nodes = [
        InitNode(
            name,
            h,
            peer_ids[i],
            addrs[i],
            f"http://{hosts.api}:{api_port + i}",
            f"http://{LOOPBACK}:{first_operator + i}",
            k.kept,
        )
        for i, (h, name, k) in enumerate(zip(homes, names, keys, strict=True))
    ]
    return InitResult(nodes, venue_key_files, bridge_chains)


CEREMONY_SERVICES = (
    "# Your price sources ([oracle], [[oracle.sources]]) and collateral chains\n"
    "# ([[bridge_chains]]): see configs/node.example.toml and docs/ceremony.md.\n"
    "[oracle]\n"
    "enabled = false\n"
)


def save_new_operator_token(home: Path) -> None:
    """The home's operator token, unless it has one (a token is never replaced)."""
    if not (home / HOME_OPERATOR_TOKEN_FILE).exists():
        save_operator_token(home / HOME_OPERATOR_TOKEN_FILE, generate_operator_token())


def init_ceremony_home(
    home: Path,
    chain_id: int,
    moniker: str,
    p2p_port: int,
    api_port: int,
    operator_port: int,
    hosts: Hosts,
) -> InitResult:
    """One home's keys (those already there kept) and config, with no genesis and no
    report seed: `clearnode genesis check` and `seed` install them (docs/ceremony.md)."""
    if (home / CONFIG_FILE_NAME).exists():
        raise FileExistsError(f"{home / CONFIG_FILE_NAME} already exists; refusing to overwrite")
    keys = get_node_keys(home)
    home.mkdir(parents=True, exist_ok=True)
    for kind, key in keys.by_kind().items():
        if home / HOME_KEY_FILES[kind] not in keys.kept:
            save_key(home / HOME_KEY_FILES[kind], key)
    save_new_operator_token(home)
    config = render_config(chain_id, moniker, p2p_port, api_port, operator_port, [], hosts)
    (home / CONFIG_FILE_NAME).write_text(config + "\n" + CEREMONY_SERVICES)
    peer_id = compute_peer_id(keys.node)
    address = hosts.external_address or to_multiaddr(hosts.p2p, p2p_port)
    node = InitNode(
        moniker,
        home,
        peer_id,
        f"{address}/p2p/{peer_id}",
        f"http://{hosts.api}:{api_port}",
        f"http://{LOOPBACK}:{operator_port}",
        keys.kept,
    )
    return InitResult([node], {}, [])


def render_summary(result: InitResult) -> str:
    """What init made and what to run next, for the operator's terminal."""
    lines = [f"clearnode init: {len(result.nodes)} node home(s) written", ""]
    for node in result.nodes:
        lines += [
            f"  {node.name}",
            f"    home     {node.home}",
            f"    peer id  {node.peer_id}",
            f"    p2p      {node.p2p_addr}",
            f"    api      {node.api_url}  (public: members, venues, relayers)",
            f"    status   {node.api_url}/status  (the network, no member)",
            f"    operator {node.operator_url}/status  (full blocks, members, /metrics; "
            f"its token: {node.home / HOME_OPERATOR_TOKEN_FILE})",
            "    keys     "
            + ("kept " + ", ".join(p.name for p in node.kept_keys) if node.kept_keys else "new"),
        ]
    if result.chains:
        lines += ["", "Collateral chains (in every config's [[bridge_chains]] and the genesis):"]
        for chain in result.chains:
            tokens = ", ".join(f"{s} 0x{t.hex()}" for s, t in chain.tokens.items())
            lines += [
                f"  {chain.name}  chain id {chain.chain_id}  {chain.rpc_url}",
                f"    vault 0x{chain.vault.hex()}  tokens {tokens}",
            ]
    if result.venue_key_files:
        lines += ["", "Venue keys (hand each to its venue; they sign its trade batches):"]
        lines += [f"  {venue}  {path}" for venue, path in result.venue_key_files.items()]
    if not (result.nodes[0].home / "genesis.json").exists():
        home = result.nodes[0].home
        lines += ["", "Next: your signed contribution for the coordinator (docs/ceremony.md):"]
        lines += [f"  clearnode genesis contribution --home {home} --network NAME"]
        return "\n".join(lines)
    lines += ["", "Next: start every node (one terminal each):"]
    lines += [f"  clearnode start --home {node.home}" for node in result.nodes]
    lines += ["Then check them:"]
    lines += [f"  clearnode status --home {node.home}" for node in result.nodes]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        chains = [parse_bridge_chain(text) for text in args.bridge_chain]
        anvils = [parse_anvil_target(text) for text in args.deploy_anvil]
        external = args.external_address and parse_external_address(
            args.external_address, args.p2p_port
        )
        hosts = Hosts(args.p2p_host, args.api_host, external)
        if args.ceremony:
            return run_ceremony(args, hosts, bool(chains or anvils))
        result = init_homes(
            args.home,
            args.validators,
            args.chain_id,
            args.moniker,
            args.p2p_port,
            args.api_port,
            args.genesis_template,
            args.report_seed,
            chains,
            anvils,
            args.operator_port,
            args.stress_days,
            hosts,
            args.engine,
        )
    except (ValueError, FileExistsError, KeyFileError, GenesisError, OSError) as exc:
        print(f"clearnode init: {exc}")
        return 2
    print(render_summary(result))
    return 0


def run_ceremony(args: argparse.Namespace, hosts: Hosts, chains: bool) -> int:
    """`init --ceremony`: the flags that make a genesis or a seed have no place here."""
    if args.validators != 1 or chains or args.report_seed or args.stress_days:
        print("clearnode init: --ceremony makes one home's keys and config: no --validators, "
              "--bridge-chain, --deploy-anvil, --report-seed or --stress-days")  # fmt: skip
        return 2
    operator_port = args.api_port + 1 if args.operator_port is None else args.operator_port
    result = init_ceremony_home(
        args.home, args.chain_id, args.moniker, args.p2p_port, args.api_port, operator_port, hosts
    )
    print(render_summary(result))
    return 0

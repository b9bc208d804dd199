"""`clearnode genesis contribution|collect|check|seed`: a genesis of independent operators.

Each operator makes its home alone (`clearnode init --ceremony`, keys never leave it),
then (docs/ceremony.md):

- the coordinator's `template --chain-id ID [--venue ID=0xKEY ...] --out T`: the example
  genesis's assets, instruments and risk with these venues and no validators, to edit;
- `contribution --home DIR --network NAME`: its signed statement (node/ceremony.py
  `Contribution`), for the coordinator;
- the coordinator's `collect --template T --network NAME --contribution F ... --out G`:
  checks every contribution, refuses the devnet's public test keys (node/sandbox_guard.py),
  writes the genesis G and the ceremony file beside it;
- `check --home DIR --genesis G`: checks the genesis against the contributions and this
  home's keys, prints the genesis and ceremony hashes and this validator's entry,
  installs the genesis and the others as persistent peers, and writes this validator's
  seed shares (encrypted to each other validator) for the others;
- `seed --home DIR --ceremony C --shares F ...`: opens the shares sent to this validator
  and installs the report seed derived from all of them.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clearing.errors import GenesisError
from clearing.genesis import (
    DEFAULT_ENGINE,
    ENGINES,
    compute_genesis_hash,
    parse_genesis,
    parse_venue,
)
from clearing.risk.engine import compute_risk_setup
from configs import EXAMPLE_GENESIS
from lightclient.anchor import COMETBFT
from node.ceremony import (
    CEREMONY_SECRET_FILE,
    Ceremony,
    CeremonyError,
    Contribution,
    GenesisMismatch,
    MalformedRecord,
    SandboxKeyRefused,
    SeedShares,
    check_contributions,
    check_genesis,
    derive_report_seed,
    encode_genesis_file,
    load_ceremony_secret,
    open_shares,
    seal_shares,
    sha256,
    sign_contribution,
)
from node.commands.init import VALIDATOR_POWER, to_multiaddr
from node.config import CONFIG_FILE_NAME, NodeConfig, load_config
from node.config_table import ConfigError
from node.keys import BRIDGE_KEY, NODE_KEY, VALIDATOR_KEY, KeyFileError, compute_peer_id, load_key
from node.p2p_config import check_p2p_address
from node.reports.seed import save_report_seed
from node.sandbox_guard import find_sandbox_validator, find_sandbox_venue

SEED_SHARES_FILE = "seed_shares.json"
PERSISTENT_PEERS = re.compile(r"^persistent_peers = \[[^\]]*\]", re.MULTILINE)


SUMMARY = "make a genesis with independent operators (docs/ceremony.md)"
"""The command's line in `clearnode --help` (the command line reads it without importing this)."""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("genesis", help=SUMMARY)
    sub = parser.add_subparsers(dest="step", metavar="STEP", required=True)
    template = sub.add_parser(
        "template", help="the coordinator: a genesis template, every field but the validators"
    )
    template.add_argument("--chain-id", type=int, required=True, help="the agreed chain id")
    template.add_argument(
        "--venue",
        action="append",
        default=[],
        metavar="ID=0xPUBKEY",
        help="a venue and its public key, as `clearnode keys venue` prints it (repeatable)",
    )
    template.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE)
    template.add_argument("--out", type=Path, required=True, help="the template written")
    template.set_defaults(handler=run_template)
    contribution = sub.add_parser(
        "contribution", help="this validator's signed public keys and address"
    )
    contribution.add_argument("--home", type=Path, required=True)
    contribution.add_argument("--network", required=True, help="the network's agreed name")
    contribution.add_argument("--power", type=int, default=VALIDATOR_POWER)
    contribution.add_argument("--out", type=Path, default=None, help="file (default: stdout)")
    contribution.set_defaults(handler=run_contribution)
    collect = sub.add_parser("collect", help="the coordinator: contributions to a genesis")
    collect.add_argument("--template", type=Path, required=True, help="genesis but validators")
    collect.add_argument("--network", required=True)
    collect.add_argument("--contribution", type=Path, action="append", required=True)
    collect.add_argument("--out", type=Path, required=True, help="the genesis file written")
    collect.add_argument(
        "--ceremony", type=Path, default=None, help="default: OUT's name with .ceremony.json"
    )
    collect.set_defaults(handler=run_collect)
    check = sub.add_parser("check", help="check and install the genesis, seal seed shares")
    check.add_argument("--home", type=Path, required=True)
    check.add_argument("--genesis", type=Path, required=True)
    check.add_argument(
        "--ceremony", type=Path, default=None, help="default: beside GENESIS (collect's)"
    )
    check.add_argument(
        "--shares-out", type=Path, default=None, help=f"default: HOME/{SEED_SHARES_FILE}"
    )
    check.set_defaults(handler=run_check)
    seed = sub.add_parser("seed", help="install the report seed from every validator's shares")
    seed.add_argument("--home", type=Path, required=True)
    seed.add_argument("--ceremony", type=Path, required=True)
    seed.add_argument("--shares", type=Path, action="append", required=True)
    seed.set_defaults(handler=run_seed)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MalformedRecord(str(path), "(file)", f"cannot read it ({exc})") from None


def read_json(path: Path) -> Any:
    try:
        return json.loads(read_bytes(path))
    except ValueError as exc:
        raise MalformedRecord(str(path), "(syntax)", f"not JSON ({exc})") from None


def write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def get_ceremony_path(genesis: Path) -> Path:
    return genesis.with_name(genesis.name.removesuffix(".json") + ".ceremony.json")


def get_cometbft_address(config: NodeConfig, p2p_address: str) -> str:
    """Where this node's CometBFT is dialled, on a CometBFT network: `[cometbft]
    external_address`, else the host others dial for p2p at CometBFT's p2p port."""
    comet = config.cometbft
    assert comet is not None  # the loader always reads the table
    host = p2p_address.split("/")[2]
    return comet.external_address or f"{host}:{comet.p2p_port}"


def parse_venue_arg(text: str) -> dict[str, Any]:
    """`--venue ID=0xPUBKEY` as a genesis `venues` item; ValueError naming the flag."""
    venue_id, _, pubkey = text.partition("=")
    venue = {"id": venue_id, "pubkey": pubkey}
    try:
        parse_venue(venue, "venue")
    except GenesisError as exc:
        field = exc.key.removeprefix("venue.")
        raise ValueError(f"--venue {text}: {field}: expected {exc.expected}") from None
    return venue


def build_template(chain_id: int, venues: list[dict[str, Any]], engine: str) -> dict[str, Any]:
    """configs/genesis.example.json with `chain_id`, `engine`, these venues and no
    validators: `collect` adds them from the contributions."""
    doc: dict[str, Any] = json.loads(EXAMPLE_GENESIS.read_text())
    doc["chain_id"] = chain_id
    doc["validators"] = []
    doc["venues"] = venues
    if engine != DEFAULT_ENGINE:
        doc["engine"] = engine
    check_venue_keys(venues, "--venue")
    return doc


def check_venue_keys(venues: list[dict[str, Any]], source: str) -> None:
    """No venue (of the template `source`) holds a public test key of the devnet."""
    found = find_sandbox_venue(venues)
    if found is not None:
        index, key = found
        make = f"clearnode keys venue --id {venues[index]['id']} --out FILE"
        raise SandboxKeyRefused(
            source, f"venues[{index}].{key.field}", f"{key.explain()}; make its own: {make}"
        )


def check_validator_keys(validators: list[dict[str, Any]], sources: list[str]) -> None:
    """No validator (contributed by the file of the same index in `sources`) holds a
    public test key of the devnet."""
    found = find_sandbox_validator(validators)
    if found is not None:
        index, key = found
        field = "validator_pubkey" if key.field == "pubkey" else key.field
        raise SandboxKeyRefused(
            sources[index], field,
            f"{key.explain()}; its operator makes new keys with clearnode init --ceremony",
        )  # fmt: skip


def make_contribution(home: Path, network: str, power: int) -> Contribution:
    """This home's contribution, signed; its ceremony secret made on the first call."""
    config = load_config(home)
    if power < 1:
        raise ValueError(f"--power must be >= 1, got {power}")
    validator = load_key(config.validator_key_file, VALIDATOR_KEY)
    bridge = load_key(config.bridge_key_file, BRIDGE_KEY)
    node = load_key(config.node_key_file, NODE_KEY)
    p2p = config.p2p
    address = p2p.external_address or to_multiaddr(p2p.listen_host, p2p.listen_port)
    try:
        check_p2p_address(address)
    except ValueError as exc:
        raise ConfigError(
            config.config_file or home,
            "p2p.external_address",
            "the address peers dial, when listen_host is every interface",
            str(exc),
        ) from None
    secret = load_ceremony_secret(home / CEREMONY_SECRET_FILE, create=True)
    unsigned = Contribution(
        network=network,
        chain_id=config.chain_id,
        name=config.moniker,
        power=power,
        validator_pubkey=validator.public_key(),
        evm_address=bridge.public_key(),
        peer_id=compute_peer_id(node),
        p2p_address=address,
        cometbft_address=get_cometbft_address(config, address),
        seed_box_key=secret.public_box_key(),
        seed_commitment=secret.commitment(),
    )
    return sign_contribution(unsigned, validator, bridge)


def collect(template: Path, network: str, sources: list[Path]) -> tuple[bytes, Ceremony]:
    """The genesis file's bytes (the template with the contributions as its validators)
    and the ceremony naming them by their hash."""
    doc = read_json(template)
    if not isinstance(doc, dict):
        raise MalformedRecord(str(template), "(file)", "not a genesis JSON object")
    contributions = [(str(p), Contribution.from_json(read_json(p), str(p))) for p in sources]
    check_contributions(contributions, network, doc.get("chain_id", 0))
    genesis = copy.deepcopy(doc)
    genesis["validators"] = [c.genesis_entry() for _, c in contributions]
    compute_risk_setup(parse_genesis(genesis))  # a genesis every node will start from
    check_venue_keys(genesis["venues"], str(template))
    check_validator_keys(genesis["validators"], [str(p) for p in sources])
    document = encode_genesis_file(genesis)
    ceremony = Ceremony(network, compute_genesis_hash(document), tuple(c for _, c in contributions))
    return document, ceremony


def get_own(ceremony: Ceremony, config: NodeConfig, source: str) -> tuple[int, Contribution]:
    """This home's contribution in `ceremony` (and its index), checked against its keys."""
    validator = load_key(config.validator_key_file, VALIDATOR_KEY).public_key()
    found = [
        (i, c) for i, c in enumerate(ceremony.contributions) if c.validator_pubkey == validator
    ]
    if not found:
        raise GenesisMismatch(
            source, "validators", f"no entry for this home's validator key 0x{validator.hex()}"
        )
    index, mine = found[0]
    secret = load_ceremony_secret(config.home / CEREMONY_SECRET_FILE)
    expected = {
        "evm_address": load_key(config.bridge_key_file, BRIDGE_KEY).public_key(),
        "peer_id": compute_peer_id(load_key(config.node_key_file, NODE_KEY)),
        "seed_box_key": secret.public_box_key(),
        "seed_commitment": secret.commitment(),
    }
    for name, value in expected.items():
        if getattr(mine, name) != value:
            raise GenesisMismatch(
                source,
                f"validators[{index}].{name}",
                f"{getattr(mine, name)!r}, this home's keys give {value!r}",
            )
    if mine.chain_id != config.chain_id:
        raise GenesisMismatch(
            source, "chain_id", f"{mine.chain_id}, this home's config says {config.chain_id}"
        )
    return index, mine


def install_peers(config_file: Path, table: str, peers: list[str]) -> None:
    """config.toml's `[table] persistent_peers` replaced by `peers` (the key, or the table,
    added if missing), the rest as it was."""
    text = config_file.read_text()
    value = "[\n" + "".join(f'    "{p}",\n' for p in peers) + "]"
    header = re.search(rf"(?m)^\[{table}\]\n", text)
    if header is None:
        config_file.write_text(text.rstrip("\n") + f"\n\n[{table}]\npersistent_peers = {value}\n")
        return
    following = re.search(r"(?m)^\[", text[header.end() :])
    end = len(text) if following is None else header.end() + following.start()
    line = f"persistent_peers = {value}"
    body, count = PERSISTENT_PEERS.subn(lambda _: line, text[header.end() : end])
    if count > 1:
        raise ConfigError(
            config_file, f"{table}.persistent_peers",
            "one `persistent_peers = [...]` line to replace (set it by hand)", f"{count} found",
        )  # fmt: skip
    if count == 0:
        body = f"{line}\n{body}"
    config_file.write_text(text[: header.end()] + body + text[end:])


def check_and_install(
    home: Path, genesis_path: Path, ceremony_path: Path, shares_out: Path
) -> tuple[Ceremony, Contribution]:
    """Check the genesis against the ceremony and this home; install it and the peers;
    write this validator's sealed seed shares. Writes nothing if a check fails."""
    config = load_config(home)
    ceremony = Ceremony.from_json(read_json(ceremony_path), str(ceremony_path))
    document = read_bytes(genesis_path)
    genesis = check_genesis(ceremony, document, str(genesis_path))
    compute_risk_setup(parse_genesis(genesis))
    _, mine = get_own(ceremony, config, str(genesis_path))
    installed = config.genesis_file
    if installed.exists() and installed.resolve() != genesis_path.resolve():
        if compute_genesis_hash(read_bytes(installed)) != ceremony.genesis_hash:
            raise GenesisMismatch(
                str(installed),
                "(file)",
                "this home already has another genesis; move it away to install this one",
            )
    secret = load_ceremony_secret(home / CEREMONY_SECRET_FILE)
    validator = load_key(config.validator_key_file, VALIDATOR_KEY)
    shares = seal_shares(ceremony, mine, secret, validator)
    if installed.resolve() != genesis_path.resolve():
        installed.write_bytes(document)  # as they are: their hash is the genesis hash
    others = [c for c in ceremony.contributions if c is not mine]
    config_file = config.config_file or home / CONFIG_FILE_NAME
    install_peers(config_file, "p2p", [c.persistent_peer for c in others])
    if genesis.get("engine") == COMETBFT:
        install_peers(config_file, "cometbft", [c.cometbft_peer for c in others])
    load_config(home)  # what we wrote must load
    write_json(shares_out, shares.to_json())
    return ceremony, mine


def install_seed(home: Path, ceremony_path: Path, share_paths: list[Path]) -> bytes:
    """The report seed from every validator's shares, saved in the home (never replaced);
    the ceremony secret, needed no more, deleted."""
    config = load_config(home)
    ceremony = Ceremony.from_json(read_json(ceremony_path), str(ceremony_path))
    check_genesis(ceremony, read_bytes(config.genesis_file), str(config.genesis_file))
    _, mine = get_own(ceremony, config, str(ceremony_path))
    secret = load_ceremony_secret(home / CEREMONY_SECRET_FILE)
    received = [(str(p), SeedShares.from_json(read_json(p), str(p))) for p in share_paths]
    seed = derive_report_seed(ceremony, open_shares(ceremony, mine, secret, received))
    save_report_seed(home / config.reports.seed_file, seed)
    # Its share is in the seed now: kept, it would only widen what a key backup reveals.
    (home / CEREMONY_SECRET_FILE).unlink()
    return seed


def seed_fingerprint(seed: bytes) -> str:
    """What operators compare to know they hold the same seed, revealing nothing of it."""
    return sha256(b"clearnode report seed fingerprint\0", seed)[:8].hex()


ERRORS = (CeremonyError, ConfigError, KeyFileError, GenesisError, OSError, ValueError)
Run = Callable[[argparse.Namespace], int]


def refusing(command: str) -> Callable[[Run], Run]:
    """A subcommand whose refusal (a bad file, key or config) is one line naming it and
    exit 2, having written nothing more."""

    def wrap(run: Run) -> Run:
        @functools.wraps(run)
        def refused(args: argparse.Namespace) -> int:
            try:
                return run(args)
            except ERRORS as exc:
                print(f"clearnode genesis {command}: {exc}")
                return 2

        return refused

    return wrap


@refusing("template")
def run_template(args: argparse.Namespace) -> int:
    venues = [parse_venue_arg(text) for text in args.venue]
    doc = build_template(args.chain_id, venues, args.engine)
    if args.out.exists():
        raise FileExistsError(f"{args.out} already exists; refusing to overwrite a template")
    write_json(args.out, doc)
    names = ", ".join(v["id"] for v in venues) or "none yet (governance adds them)"
    print(f"template     {args.out}  (chain id {args.chain_id}, engine {args.engine})")
    print(f"venues       {names}")
    print(
        "Edit the rest before `clearnode genesis collect` (docs/ceremony.md): genesis_time_ms, "
        "the collateral tokens and vaults of your chains (the example's are placeholders), "
        "instruments and risk; collect fills `validators` from the contributions."
    )
    return 0


@refusing("contribution")
def run_contribution(args: argparse.Namespace) -> int:
    contribution = make_contribution(args.home, args.network, args.power)
    if args.out is None:
        print(json.dumps(contribution.to_json(), indent=2))
    else:
        write_json(args.out, contribution.to_json())
        print(
            f"contribution of {contribution.name} written to {args.out}: send it to the coordinator"
        )
    return 0


@refusing("collect")
def run_collect(args: argparse.Namespace) -> int:
    ceremony_path = args.ceremony or get_ceremony_path(args.out)
    genesis, ceremony = collect(args.template, args.network, args.contribution)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(genesis)
    write_json(ceremony_path, ceremony.to_json())
    print(f"genesis      {args.out}  (hash 0x{ceremony.genesis_hash.hex()})")
    print(f"ceremony     {ceremony_path}  (hash 0x{ceremony.digest().hex()})")
    for c in ceremony.contributions:
        print(f"  {c.name}  power {c.power}  {c.persistent_peer}")
    print("Send both files to every operator; each runs `clearnode genesis check`.")
    return 0


@refusing("check")
def run_check(args: argparse.Namespace) -> int:
    ceremony_path = args.ceremony or get_ceremony_path(args.genesis)
    shares_out = args.shares_out or args.home / SEED_SHARES_FILE
    ceremony, mine = check_and_install(args.home, args.genesis, ceremony_path, shares_out)
    print(f"genesis hash   0x{ceremony.genesis_hash.hex()}")
    print(f"ceremony hash  0x{ceremony.digest().hex()}")
    print("your entry     " + json.dumps(mine.genesis_entry()))
    print(f"your address   {mine.persistent_peer}")
    print(
        f"installed      {args.home} (genesis, {len(ceremony.contributions) - 1} persistent peers)"
    )
    print(
        f"seed shares    {shares_out}: compare both hashes with every operator, then send "
        "this file to the others (or the coordinator, who relays it)"
    )
    return 0


@refusing("seed")
def run_seed(args: argparse.Namespace) -> int:
    seed = install_seed(args.home, args.ceremony, args.shares)
    print(
        f"report seed installed (fingerprint {seed_fingerprint(seed)}: the same on every "
        f"validator); {CEREMONY_SECRET_FILE} deleted (the seed holds its share); next: "
        f"clearnode start --home {args.home}"
    )
    return 0

"""`python -m proofs.verify REPORT --genesis FILE [--genesis-hash HEX] [--checkpoint
HEIGHT:TIME_MS:HASH] [--skip statement,anchor] [--member ADDRESS --openings FILE]`, or
`--account-proof FILE --state-root ROOT [--height H]`.

Checks everything about a solvency report that needs only public data (and, for a
member, its own openings). The full check is the default: the genesis is required (a
file, or with `clearnode verify`, fetched from a node and pinned by its hash), the
statement is recomputed from it and the state root followed to the chain from the
genesis's set (or a checkpoint) within the trusting period (lightclient/anchor.py). A
member who wants less says so (`--skip`), and the verdict's headline names what was not
checked. It prints the verdict and the genesis hash first, then each check with its
result, then what it did not check and why. `clearnode verify` adds `--node` (the genesis
fetched) and `--rpc` (the vaults' balances read on chain, node/chainread.py, compared
here, proofs/reserves.py). Exit codes: `EXIT_*` below.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clearing.errors import GenesisError
from clearing.genesis import DEFAULT_ENGINE, Genesis, compute_genesis_hash, parse_genesis
from clearing.risk.engine import compute_risk_setup
from lightclient.anchor import Checkpoint, Trust
from proofs.account_proof import AccountProofError, AccountProofFile, check_account_proof
from proofs.backends import get_backend, get_backend_names, get_fastest
from proofs.clearing_members import check_clearing_members
from proofs.coverage import check_coverage
from proofs.disclosed import check_disclosed
from proofs.errors import ReportDecodeError
from proofs.member_account import check_member_account
from proofs.openings import MemberOpenings, strip_0x, verify_member_openings
from proofs.pedersen import Generators, get_generators
from proofs.recompute import check_statement, get_configured_genesis, get_scenario_names
from proofs.report import Report, Verdict, VotingPower, decode_report, verify_report
from proofs.reserves import Unreadable, VaultReading, check_reserves

EXIT_VALID = 0
"""Every check made and passed: the statement recomputed and the root followed."""
EXIT_INVALID = 1
"""A check failed, or the report does not decode."""
EXIT_USAGE = 2
"""Bad arguments, unreadable files, a genesis that is not the one pinned by its hash, or
the weak check without asking for it (the message names what to add)."""
EXIT_NOT_CHECKED = 3
"""No check failed, but one asked for could not be made: no anchor in the report, a
trusted point older than the trusting period, a chain or a node that did not answer, a
node's genesis that is not the one pinned."""
EXIT_PARTIAL = 4
"""No check failed, but the member skipped some (`--skip`): valid only as far as checked.
Not 0, so that a script testing for 0 never takes a partial check for the full one."""
SKIPPABLE = {
    "statement": "the statement recomputed from the genesis",
    "anchor": "the state root followed to the chain within the trusting period",
}
"""What `--skip` may leave out, and how the verdict's headline names it."""
ReadVaults = Callable[
    [Genesis, Mapping[int, str], Mapping[int, int], int], Mapping[int, VaultReading | Unreadable]
]
"""Reads each chain's vault (genesis `vaults`) at the given RPC URL and block (default:
the chain's last block at or before the given time, the report's): what `clearnode
verify` passes; `python -m proofs.verify` reads no chain."""
FetchGenesis = Callable[[str], bytes]
"""The genesis file's bytes as the node at a URL serves them (`GET /v1/genesis`), or
GenesisUnavailable: what `clearnode verify --node` passes; `python -m proofs.verify`
fetches nothing."""


class UsageError(Exception):
    """Bad arguments or unreadable input files (exit code 2)."""


class GenesisUnavailable(Exception):
    """The genesis asked for could not be had from a node (exit code 3)."""


@dataclass(frozen=True)
class GivenGenesis:
    """The genesis a verification starts from, its hash and where it came from."""

    genesis: Genesis
    hash: bytes
    source: str

    def describe(self) -> str:
        return f"genesis 0x{self.hash.hex()} ({self.source})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "report", nargs="?", help="report file: msgpack bytes, hex, or JSON {'report': hex}"
    )
    parser.add_argument(
        "--account-proof",
        metavar="FILE",
        help="instead of a report: your account proof (POST /v1/accounts/proof's answer)",
    )
    parser.add_argument(
        "--state-root", metavar="HEX", help="the committed state root the account proof must match"
    )
    parser.add_argument("--height", type=int, help="the height the account proof must be for")
    parser.add_argument(
        "--genesis",
        metavar="FILE",
        help="the chain's genesis (required unless fetched with --node): its validator set "
        "and chain id, and what the statement is recomputed from",
    )
    parser.add_argument(
        "--genesis-hash",
        metavar="HEX",
        help="the genesis hash the network publishes (SHA-256 of the genesis file, as "
        "`clearnode status` prints it): the genesis given or fetched must have it",
    )
    parser.add_argument(
        "--skip",
        metavar="CHECKS",
        help=f"ask for less than the full check: a comma-separated list of {', '.join(SKIPPABLE)} "
        "(the verdict then says VALID ONLY AS FAR AS CHECKED and names them; exit 4)",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="HEIGHT:TIME_MS:HASH",
        help="a block you trust (from a node you trust: `clearnode status` prints one): its "
        "height, its header's time and validators_hash; the root is followed from it, not "
        "from the genesis (needed once the genesis is older than the trusting period)",
    )
    parser.add_argument(
        "--now",
        type=int,
        metavar="UNIX_MS",
        help="the time to measure the trusting period to (default: this machine's clock)",
    )
    parser.add_argument(
        "--validators",
        metavar="FILE",
        help="with --skip statement, instead of a genesis: a JSON validator set (a list of "
        "{pubkey, power}); without a genesis time, following the root needs --checkpoint",
    )
    parser.add_argument(
        "--chain-id",
        type=int,
        metavar="ID",
        help="with --validators: the chain the report must be for",
    )
    parser.add_argument("--member", metavar="ADDRESS", help="0x-hex EVM address of the member")
    parser.add_argument("--openings", metavar="FILE", help="the member's openings (JSON)")
    parser.add_argument(
        "--known",
        metavar="FILE",
        help="JSON {sub-account: {label: value}} the member expects (missing labels = 0)",
    )
    parser.add_argument(
        "--backend",
        choices=sorted(get_backend_names()),
        default=get_fastest().name,
        help="group arithmetic: the native core (the default where it is installed) or "
        "py-ecc, the slow pure-Python reference",
    )
    parser.add_argument(
        "--rpc",
        action="append",
        default=[],
        metavar="CHAIN_ID=URL",
        help="read that chain's vault (genesis vaults) over JSON-RPC and check it holds the "
        "report's collateral on the chain (repeatable; needs --genesis)",
    )
    parser.add_argument(
        "--block",
        action="append",
        default=[],
        metavar="CHAIN_ID=NUMBER",
        help="the block of that chain to read the vault at (default: its last block at or "
        "before the report's time)",
    )


def read_report_bytes(path: Path) -> bytes:
    data = _read(path)
    text = data.strip()
    if text.startswith(b"{"):
        try:
            return bytes.fromhex(strip_0x(json.loads(text)["report"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ReportDecodeError(f"{path}: JSON without a hex 'report' field: {exc!r}") from exc
    try:
        return bytes.fromhex(strip_0x(text.decode("ascii")))
    except (UnicodeDecodeError, ValueError):
        return data


def read_validators(path: Path) -> list[VotingPower]:
    try:
        obj: Any = json.loads(_read(path))
        entries = obj["validators"] if isinstance(obj, dict) else obj
        return [
            VotingPower(
                bytes.fromhex(strip_0x(v.get("pubkey") or v["public_key"])), int(v["power"])
            )
            for v in entries
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: not a validator set: {exc!r}") from exc


def get_engine(genesis: Genesis | None) -> str:
    """The engine whose chain a report's anchor must follow: the genesis's (ours when a
    bare validator set was given instead)."""
    return DEFAULT_ENGINE if genesis is None else genesis.engine


def read_genesis(path: Path) -> Genesis:
    return parse_genesis_bytes(_read(path), str(path))


def parse_genesis_bytes(data: bytes, where: str) -> Genesis:
    try:
        genesis = parse_genesis(json.loads(data))
        compute_risk_setup(genesis)
    except GenesisError as exc:
        raise UsageError(f"{where}: not a valid genesis: {exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{where}: not JSON: {exc}") from exc
    return genesis


def parse_hash(text: str, option: str) -> bytes:
    try:
        found = bytes.fromhex(strip_0x(text.strip()))
    except ValueError:
        raise UsageError(f"{option} {text!r} is not hex") from None
    if len(found) != 32:
        raise UsageError(f"{option} must be 32 bytes, got {len(found)}")
    return found


def get_genesis(args: argparse.Namespace, fetch: FetchGenesis | None) -> GivenGenesis | None:
    """The genesis of `--genesis FILE` or fetched from `--node URL`, checked against
    `--genesis-hash`; None only with `--validators` (and `--skip statement`)."""
    pinned = None if args.genesis_hash is None else parse_hash(args.genesis_hash, "--genesis-hash")
    node = getattr(args, "node", None)
    if args.genesis is not None and node is not None:
        raise UsageError("give the genesis as a file (--genesis) or from a node (--node), not both")
    if args.genesis is not None:
        data = _read(Path(args.genesis))
        found = compute_genesis_hash(data)
        if pinned is not None and found != pinned:
            raise UsageError(f"{args.genesis} is genesis 0x{found.hex()}, not 0x{pinned.hex()} "
                             f"as --genesis-hash says: not the network's genesis")  # fmt: skip
        source = "the file given" + (", as --genesis-hash pins" if pinned else "")
        return GivenGenesis(parse_genesis_bytes(data, args.genesis), found, source)
    if node is not None:
        if pinned is None:
            raise UsageError("a genesis fetched from a node needs --genesis-hash HEX (the hash "
                             "the network publishes): a node could serve any genesis")  # fmt: skip
        if fetch is None:
            raise UsageError("this verifier fetches nothing: give --genesis FILE, or use "
                             "clearnode verify --node")  # fmt: skip
        data = fetch(node)
        found = compute_genesis_hash(data)
        if found != pinned:
            raise GenesisUnavailable(f"{node} serves genesis 0x{found.hex()}, not 0x"
                                     f"{pinned.hex()} as --genesis-hash says")  # fmt: skip
        return GivenGenesis(parse_genesis_bytes(data, node), found,
                            f"fetched from {node}, as --genesis-hash pins")  # fmt: skip
    if pinned is not None:
        raise UsageError("--genesis-hash pins the genesis of --genesis FILE or --node URL")
    if args.validators is not None and "statement" in parse_skip(args.skip):
        return None
    raise UsageError(
        "the full check needs the chain's genesis: add --genesis FILE, or --node URL "
        "--genesis-hash HEX (fetched from a node and pinned by the hash the network "
        "publishes); to check less, say so with --skip statement,anchor"
    )


def parse_skip(text: str | None) -> tuple[str, ...]:
    """`--skip`'s checks, in SKIPPABLE's order."""
    names = set() if text is None else {n.strip() for n in text.split(",") if n.strip()}
    unknown = sorted(names - set(SKIPPABLE))
    if unknown:
        raise UsageError(f"--skip {text!r}: no check {', '.join(unknown)} (the checks that "
                         f"may be skipped: {', '.join(SKIPPABLE)})")  # fmt: skip
    return tuple(n for n in SKIPPABLE if n in names)


def parse_checkpoint(text: str) -> Checkpoint:
    height, _, rest = text.partition(":")
    time_ms, _, digest = rest.partition(":")
    if not (height.isdigit() and time_ms.isdigit() and int(height) >= 1):
        raise UsageError(f"--checkpoint {text!r}: expected HEIGHT:TIME_MS:HASH (the block's "
                         f"height, its header's time_ms and validators_hash)")  # fmt: skip
    return Checkpoint(int(height), int(time_ms), parse_hash(digest, "--checkpoint's hash"))


def get_trust(
    args: argparse.Namespace, given: GivenGenesis | None, skipped: Sequence[str]
) -> Trust | None:
    """Where following the root starts, and the clock it is measured on; None when the
    member skipped it."""
    checkpoint = None if args.checkpoint is None else parse_checkpoint(args.checkpoint)
    if "anchor" in skipped:
        if checkpoint is not None:
            raise UsageError("--checkpoint is where following the root starts: not with "
                             "--skip anchor")  # fmt: skip
        return None
    if given is None and checkpoint is None:
        raise UsageError(
            "--validators carries no genesis time to measure the trusting period from: add "
            "--checkpoint HEIGHT:TIME_MS:HASH, or --skip anchor"
        )
    # the clock is this command's to read; proofs' checks take it as given
    now_ms = time.time_ns() // 1_000_000 if args.now is None else args.now
    if given is not None:
        return Trust(now_ms, given.genesis.genesis_time_ms, checkpoint)
    assert checkpoint is not None
    return Trust(now_ms, checkpoint.time_ms, checkpoint)


def read_chain_id(path: Path) -> int | None:
    """`chain_id` of a genesis file; None for a bare list of validators."""
    obj: Any = json.loads(_read(path))
    chain_id = obj.get("chain_id") if isinstance(obj, dict) else None
    if chain_id is not None and type(chain_id) is not int:
        raise UsageError(f"{path}: chain_id {chain_id!r} is not an integer")
    return chain_id


def read_known(path: Path) -> dict[int, dict[str, int]]:
    """{sub-account: {label: value}} from JSON (values as ints or decimal strings)."""
    try:
        obj: Any = json.loads(_read(path))
        return {int(sub): {str(k): int(v) for k, v in kv.items()} for sub, kv in obj.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: not {{sub-account: {{label: value}}}}: {exc!r}") from exc


def parse_address(text: str) -> bytes:
    try:
        raw = bytes.fromhex(strip_0x(text))
    except ValueError as exc:
        raise UsageError(f"--member {text!r} is not hex") from exc
    if len(raw) != 20:
        raise UsageError(f"--member must be a 20-byte address, got {len(raw)} bytes")
    return raw


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def parse_chain_options(options: Sequence[str], name: str) -> dict[int, str]:
    """`CHAIN_ID=VALUE` options as {chain id: value}."""
    found: dict[int, str] = {}
    for option in options:
        chain, sep, value = option.partition("=")
        if not sep or not chain.strip().isdigit() or not value:
            raise UsageError(f"{name} {option!r}: expected CHAIN_ID=VALUE")
        found[int(chain)] = value.strip()
    return found


def read_reserves(
    args: argparse.Namespace,
    report: Report,
    genesis: Genesis | None,
    read_vaults: ReadVaults | None,
) -> Mapping[int, VaultReading | Unreadable]:
    urls = parse_chain_options(args.rpc, "--rpc")
    blocks = {c: _parse_block(b) for c, b in parse_chain_options(args.block, "--block").items()}
    if not urls:
        return {}
    if genesis is None:
        raise UsageError("--rpc needs --genesis (the vaults and tokens are in it)")
    if read_vaults is None:
        why = "this verifier reads no chain: use clearnode verify"
        return {chain: Unreadable(chain, why) for chain in urls}
    return read_vaults(genesis, urls, blocks, report.market.time_ms)


def _parse_block(text: str) -> int:
    if not text.isdigit():
        raise UsageError(f"--block {text!r}: expected a block number")
    return int(text)


def get_headline(sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = ()) -> str:
    """The verdict's first line: it names the checks the member skipped."""
    failures = sum(len(v.failures) for _, v in sections)
    unreadable = sum(len(v.unreadable) for _, v in sections)
    if failures:
        return f"VERDICT: INVALID ({failures} failure{'s' if failures > 1 else ''})"
    if unreadable:
        return f"VERDICT: NOT CHECKED ({unreadable} check(s) asked for could not be made)"
    if skipped:
        names = "; ".join(SKIPPABLE[name] for name in skipped)
        return f"VERDICT: VALID ONLY AS FAR AS CHECKED — NOT CHECKED: {names}"
    return "VERDICT: VALID"


def print_report(
    sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = (), genesis: str = ""
) -> int:
    """The verdict, the genesis it was checked against, each section's checks, then what
    was not checked; the exit code."""
    unreadable = [line for _, v in sections for line in v.unreadable]
    not_checked = [line for _, v in sections for line in v.not_checked]
    not_checked += [f"{SKIPPABLE[name]}: skipped (--skip {name})" for name in skipped]
    headline = get_headline(sections, skipped)
    print(headline)
    if genesis:
        print(genesis)
    for title, verdict in sections:
        print(title)
        for line in verdict.passed:
            print(f"  ok    {line}")
        for line in verdict.failures:
            print(f"  FAIL  {line}")
    if unreadable or not_checked:
        print("not checked")
        for line in unreadable:
            print(f"  could not  {line}")
        for line in not_checked:
            print(f"  not asked  {line}")
    if headline.startswith("VERDICT: INVALID"):
        return EXIT_INVALID
    if unreadable:
        return EXIT_NOT_CHECKED
    return EXIT_PARTIAL if skipped else EXIT_VALID


def check_account(args: argparse.Namespace) -> int:
    """`--account-proof FILE --state-root ROOT [--height H]`."""
    if args.report is not None or args.state_root is None:
        raise UsageError("--account-proof takes --state-root (and --height), not a report")
    try:
        root = bytes.fromhex(strip_0x(args.state_root))
    except ValueError as exc:
        raise UsageError(f"--state-root {args.state_root!r} is not hex") from exc
    try:
        found = AccountProofFile.from_json(_read(Path(args.account_proof)))
        member = check_account_proof(found, root, args.height)
    except AccountProofError as exc:
        print(f"account proof {args.account_proof}: {type(exc).__name__}: {exc}")
        print("VERDICT: INVALID")
        return EXIT_INVALID
    print(f"account of 0x{found.member.hex()} at height {found.height} under 0x{root.hex()}")
    for sub_id, sub in sorted(member.sub_accounts.items()):
        collateral = sum(sub.collateral.values())
        print(f"  sub-account {sub_id}: cash {sub.cash}, collateral quanta {collateral}, "
              f"{len(sub.positions)} positions")  # fmt: skip
    print("VERDICT: VALID")
    return EXIT_VALID


def check(
    args: argparse.Namespace,
    read_vaults: ReadVaults | None = None,
    fetch_genesis: FetchGenesis | None = None,
) -> int:
    """Run the checks; raises UsageError for bad arguments."""
    if args.account_proof is not None:
        return check_account(args)
    if args.report is None:
        raise UsageError("give a report file, or --account-proof")
    if (args.member is None) != (args.openings is None):
        raise UsageError("--member and --openings go together")
    skipped = parse_skip(args.skip)
    if args.validators is not None and "statement" not in skipped:
        raise UsageError("--validators stands in for a genesis only with --skip statement "
                         "(the statement is recomputed from the genesis)")  # fmt: skip
    if args.validators is not None and (args.genesis or getattr(args, "node", None)):
        raise UsageError("--validators is instead of a genesis: not both")
    try:
        given = get_genesis(args, fetch_genesis)
    except GenesisUnavailable as exc:
        print(f"VERDICT: NOT CHECKED (the genesis asked for could not be had: {exc})")
        return EXIT_NOT_CHECKED
    trust = get_trust(args, given, skipped)
    gens: Generators[Any] = get_generators(get_backend(args.backend))
    genesis = None if given is None else given.genesis
    if given is not None:
        validators = [VotingPower(v.pubkey, v.power) for v in given.genesis.validators]
        chain_id: int | None = given.genesis.chain_id
        described = given.describe()
    else:
        validators = read_validators(Path(args.validators))
        chain_id = args.chain_id
        if chain_id is None:
            chain_id = read_chain_id(Path(args.validators))
        digest = compute_genesis_hash(_read(Path(args.validators)))
        described = f"no genesis: the validator set of the file given (sha256 0x{digest.hex()})"
    member = parse_address(args.member) if args.member else None
    openings_obj = json.loads(_read(Path(args.openings))) if args.openings else None
    known = read_known(Path(args.known)) if args.known else None
    try:
        report: Report = decode_report(read_report_bytes(Path(args.report)))
    except ReportDecodeError as exc:
        print("VERDICT: INVALID (undecodable report)")
        print(described)
        print(f"report {args.report}: cannot decode: {exc}")
        return EXIT_INVALID
    readings = read_reserves(args, report, genesis, read_vaults)
    openings = None if member is None else parse_openings(openings_obj)
    recompute = "statement" not in skipped
    sections = get_sections(gens, report, validators, chain_id, genesis, readings, member,
                            openings, known, trust, recompute)  # fmt: skip
    return print_report(sections, skipped, described)


def parse_openings(obj: Any) -> MemberOpenings | ReportDecodeError:
    """A member's openings (their JSON), or why they are not: a verdict's failure."""
    try:
        return MemberOpenings.from_json(obj)
    except ReportDecodeError as exc:
        return exc


def get_sections(
    gens: Generators[Any],
    report: Report,
    validators: Sequence[VotingPower] | None,
    chain_id: int | None,
    genesis: Genesis | None = None,
    readings: Mapping[int, VaultReading | Unreadable] | None = None,
    member: bytes | None = None,
    openings: MemberOpenings | ReportDecodeError | None = None,
    known: dict[int, dict[str, int]] | None = None,
    trust: Trust | None = None,
    recompute: bool = True,
) -> list[tuple[str, Verdict]]:
    """Every check of `report` the inputs allow, as (title, verdict) sections: the
    signatures and proofs and, with `trust`, the root followed to the chain as a check
    asked for; the statement (with `genesis`, unless not to `recompute`), the reserves
    (`readings`), each clearing member's house and clients and, with `member` and its
    `openings`, the member's own commitments."""
    title = (
        f"report of chain {report.chain_id}, epoch {report.epoch}, "
        f"state root 0x{report.state_root.hex()}, "
        f"{len(report.accounts)} accounts, hash 0x{report.get_hash().hex()}"
    )
    sections = [
        (title, verify_report(gens, report, validators, chain_id, trust, get_engine(genesis))),
        ("statement", check_statement(report, genesis if recompute else None)),
        ("reserves", check_reserves(report, genesis, readings or {})),
        ("clearing members", check_clearing_members(report)),
        ("defaults and accounts in default", check_disclosed(report)),
        ("accounts covered", check_coverage(report)),
    ]
    if member is not None:
        if isinstance(openings, MemberOpenings):
            names = get_scenario_names(report, get_configured_genesis(report, genesis))
            mine = verify_member_openings(gens, report, member, openings, known, names)
            if openings.owner == member:
                mine.add(check_member_account(report, openings))
        else:
            mine = Verdict(failures=[f"openings: {openings}"])
        sections.append((f"member 0x{member.hex()}", mine))
    return sections


def run(
    args: argparse.Namespace,
    read_vaults: ReadVaults | None = None,
    fetch_genesis: FetchGenesis | None = None,
) -> int:
    try:
        return check(args, read_vaults, fetch_genesis)
    except (UsageError, json.JSONDecodeError) as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m proofs.verify", description="Verify a clearnode solvency report."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

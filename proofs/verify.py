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
fetched) and `--rpc` (the vaults' balances read on chain, clearnode/client/reserves.py,
compared here, proofs/reserves.py). Exit codes: `EXIT_*` below.

The checks and their verdict take no arguments' parsing: `check_report` (from a genesis
or a bare validator set, `get_trust`'s start, the checks skipped) answers a
`ReportCheck`, which this command prints and the SDK's `verify_report` returns, so both
say the same of the same report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from clearing.errors import GenesisError
from clearing.genesis import DEFAULT_ENGINE, Genesis, compute_genesis_hash, parse_genesis
from clearing.risk.engine import compute_risk_setup
from lightclient.anchor import Checkpoint, Trust
from proofs.account_proof import AccountProofError, AccountProofFile, check_account_proof
from proofs.backends import get_backend, get_backend_names, get_fastest
from proofs.checks import Verdict, verify_report
from proofs.clearing_members import check_clearing_members
from proofs.coverage import check_coverage
from proofs.disclosed import check_disclosed
from proofs.errors import ReportDecodeError
from proofs.member_account import check_member_account
from proofs.openings import MemberOpenings, strip_0x, verify_member_openings
from proofs.pedersen import Generators, get_generators
from proofs.recompute import check_statement, get_configured_genesis, get_scenario_names
from proofs.report import Report, VotingPower, decode_report
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
    [Genesis, Mapping[int, str], Mapping[int, int], int | None],
    Mapping[int, VaultReading | Unreadable],
]
"""Reads each chain's vault (genesis `vaults`) at the given RPC URL and block (default:
the chain's last block at or before the given time, the report's `get_time_ms`): what `clearnode
verify` passes; `python -m proofs.verify` reads no chain."""
FetchGenesis = Callable[[str], bytes]
"""The genesis file's bytes as the node at a URL serves them (`GET /v1/genesis`), or
GenesisUnavailable: what `clearnode verify --node` passes; `python -m proofs.verify`
fetches nothing."""


class UsageError(Exception):
    """Bad arguments or unreadable input files (exit code 2)."""


class GenesisUnavailable(Exception):
    """The genesis asked for could not be had from a node (exit code 3)."""


class Outcome(StrEnum):
    """A verification's verdict, in the words of its headline."""

    VALID = "VALID"
    """Every check made and passed: the statement recomputed and the root followed."""
    INVALID = "INVALID"
    """A check failed."""
    NOT_CHECKED = "NOT CHECKED"
    """No check failed, but one asked for could not be made."""
    PARTIAL = "VALID ONLY AS FAR AS CHECKED"
    """No check failed, but the member skipped some: valid only as far as checked."""


@dataclass(frozen=True)
class GivenGenesis:
    """The genesis a verification starts from, its hash and where it came from."""

    genesis: Genesis
    hash: bytes
    source: str

    @property
    def validators(self) -> list[VotingPower]:
        """The genesis's validator set, from which the walk to the report's signers starts."""
        return [VotingPower(v.pubkey, v.power) for v in self.genesis.validators]

    @property
    def chain_id(self) -> int:
        """The chain the report must be of."""
        return self.genesis.chain_id

    def describe(self) -> str:
        """The verdict's line naming the genesis: its hash and where it came from."""
        return f"genesis 0x{self.hash.hex()} ({self.source})"


@dataclass(frozen=True)
class GivenValidators:
    """A bare validator set instead of a genesis (`--validators`, the statement skipped):
    no genesis time, no statement to recompute; the chain id, if the member knows it."""

    validators: list[VotingPower]
    chain_id: int | None
    hash: bytes
    """SHA-256 of the file the set was read from."""
    genesis_hash: bytes | None = None
    """The network's genesis hash (`--genesis-hash`): the chain's headers are signed under
    a name that carries it, so following the root needs it."""

    def describe(self) -> str:
        described = f"no genesis: the validator set of the file given (sha256 0x{self.hash.hex()})"
        if self.genesis_hash is None:
            return described
        return f"{described}, on the chain of genesis 0x{self.genesis_hash.hex()} (--genesis-hash)"


@dataclass(frozen=True)
class ReportCheck:
    """A report's verdict, as `clearnode verify` prints it: `headline` (`VERDICT: VALID`,
    `INVALID`, `NOT CHECKED` or `VALID ONLY AS FAR AS CHECKED`, naming what was
    skipped), the genesis it was checked against, each section's checks, then what was
    not checked; `str()` is that whole text, `lines()` its lines."""

    report: Report
    sections: list[tuple[str, Verdict]]
    """Each section's title and its checks (`passed`, `failures`, `not_checked`,
    `unreadable`)."""
    skipped: tuple[str, ...] = ()
    """The checks the member chose to skip (SKIPPABLE's names)."""
    genesis: str = ""
    """What the check started from: the genesis's hash and where it came from."""

    @property
    def verdict(self) -> Outcome:
        """VALID, INVALID, NOT CHECKED or VALID ONLY AS FAR AS CHECKED (a `str`)."""
        return get_outcome(self.sections, self.skipped)

    @property
    def headline(self) -> str:
        """The verdict's first line, naming the checks skipped."""
        return get_headline(self.sections, self.skipped)

    @property
    def ok(self) -> bool:
        """VALID: every check made and passed, none skipped (a partial check is not ok)."""
        return self.verdict is Outcome.VALID

    @property
    def passed(self) -> list[str]:
        """Every check that passed, one line each."""
        return [line for _, v in self.sections for line in v.passed]

    @property
    def failures(self) -> list[str]:
        """Every failed check, one line each (empty when none failed)."""
        return [line for _, v in self.sections for line in v.failures]

    @property
    def could_not(self) -> list[str]:
        """Checks asked for that could not be made (a chain that did not answer, no
        anchor), and why."""
        return [line for _, v in self.sections for line in v.unreadable]

    @property
    def not_checked(self) -> list[str]:
        """Checks not asked for or skipped, and why."""
        return get_not_asked(self.sections, self.skipped)

    @property
    def exit_code(self) -> int:
        """`clearnode verify`'s exit code for this verdict (EXIT_*)."""
        return get_exit_code(self.sections, self.skipped)

    def lines(self) -> list[str]:
        """What `clearnode verify` prints, line by line."""
        return get_lines(self.sections, self.skipped, self.genesis)

    def __str__(self) -> str:
        return "\n".join(self.lines())


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
        "`clearnode status` prints it): the genesis given or fetched must have it; with "
        "--validators, the chain the root is followed on (its headers carry it)",
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
        "{pubkey, power}); without a genesis, following the root needs --checkpoint (its "
        "time) and --genesis-hash (its chain)",
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
        help="group arithmetic: the native core (the default where it is installed), "
        "pure-python (the default without it) or py-ecc, the slow readable reference",
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
    if args.validators is not None and "statement" in parse_skip(args.skip):
        return None  # --genesis-hash, if given, names the validators' chain
    if pinned is not None:
        raise UsageError("--genesis-hash pins the genesis of --genesis FILE or --node URL")
    raise UsageError(
        "the full check needs the chain's genesis: add --genesis FILE, or --node URL "
        "--genesis-hash HEX (fetched from a node and pinned by the hash the network "
        "publishes); to check less, say so with --skip statement,anchor"
    )


def parse_skip(text: str | None) -> tuple[str, ...]:
    """`--skip`'s checks, in SKIPPABLE's order."""
    names = set() if text is None else {n.strip() for n in text.split(",") if n.strip()}
    try:
        return check_skip(names)
    except UsageError as exc:
        raise UsageError(f"--skip {text!r}: {exc}") from None


def check_skip(names: Iterable[str]) -> tuple[str, ...]:
    """The checks a member asked to skip, in SKIPPABLE's order; UsageError for a name
    that is none of them."""
    asked = set(names)
    unknown = sorted(asked - set(SKIPPABLE))
    if unknown:
        raise UsageError(f"no check {', '.join(unknown)} (the checks that may be skipped: "
                         f"{', '.join(SKIPPABLE)})")  # fmt: skip
    return tuple(n for n in SKIPPABLE if n in asked)


def parse_checkpoint(text: str) -> Checkpoint:
    try:
        return Checkpoint.parse(text)
    except ValueError as exc:
        raise UsageError(f"--checkpoint {text!r}: {exc}") from None


def get_trust(
    start: GivenGenesis | GivenValidators,
    checkpoint: Checkpoint | None,
    skipped: Sequence[str],
    now_ms: int,
) -> Trust | None:
    """Where following the root starts (the genesis's set, or `checkpoint`), and the clock
    it is measured on (`now_ms`, the caller's to read: proofs' checks take it as given);
    None when the member skipped it."""
    if "anchor" in skipped:
        if checkpoint is not None:
            raise UsageError("a checkpoint is where following the root starts: not with the "
                             "anchor skipped")  # fmt: skip
        return None
    if isinstance(start, GivenGenesis):
        return Trust(now_ms, start.genesis.genesis_time_ms, checkpoint)
    if checkpoint is None:
        raise UsageError(
            "--validators carries no genesis time to measure the trusting period from: add "
            "--checkpoint HEIGHT:TIME_MS:HASH, or --skip anchor"
        )
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
    return read_vaults(genesis, urls, blocks, report.get_time_ms())


def _parse_block(text: str) -> int:
    if not text.isdigit():
        raise UsageError(f"--block {text!r}: expected a block number")
    return int(text)


def get_outcome(sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = ()) -> Outcome:
    if any(v.failures for _, v in sections):
        return Outcome.INVALID
    if any(v.unreadable for _, v in sections):
        return Outcome.NOT_CHECKED
    return Outcome.PARTIAL if skipped else Outcome.VALID


def get_headline(sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = ()) -> str:
    """The verdict's first line: it names the checks the member skipped."""
    outcome = get_outcome(sections, skipped)
    if outcome is Outcome.INVALID:
        failures = sum(len(v.failures) for _, v in sections)
        return f"VERDICT: INVALID ({failures} failure{'s' if failures > 1 else ''})"
    if outcome is Outcome.NOT_CHECKED:
        unreadable = sum(len(v.unreadable) for _, v in sections)
        return f"VERDICT: NOT CHECKED ({unreadable} check(s) asked for could not be made)"
    if outcome is Outcome.PARTIAL:
        names = "; ".join(SKIPPABLE[name] for name in skipped)
        return f"VERDICT: VALID ONLY AS FAR AS CHECKED — NOT CHECKED: {names}"
    return "VERDICT: VALID"


def get_not_asked(sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str]) -> list[str]:
    """The checks not asked for, and those the member skipped."""
    not_checked = [line for _, v in sections for line in v.not_checked]
    return not_checked + [f"{SKIPPABLE[name]}: skipped (--skip {name})" for name in skipped]


def get_lines(
    sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = (), genesis: str = ""
) -> list[str]:
    """The verdict, the genesis it was checked against, each section's checks, then what
    was not checked."""
    unreadable = [line for _, v in sections for line in v.unreadable]
    not_checked = get_not_asked(sections, skipped)
    lines = [get_headline(sections, skipped), *([genesis] if genesis else [])]
    for title, verdict in sections:
        lines.append(title)
        lines += [f"  ok    {line}" for line in verdict.passed]
        lines += [f"  FAIL  {line}" for line in verdict.failures]
    if unreadable or not_checked:
        lines.append("not checked")
        lines += [f"  could not  {line}" for line in unreadable]
        lines += [f"  not asked  {line}" for line in not_checked]
    return lines


def get_exit_code(sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = ()) -> int:
    return {
        Outcome.VALID: EXIT_VALID,
        Outcome.INVALID: EXIT_INVALID,
        Outcome.NOT_CHECKED: EXIT_NOT_CHECKED,
        Outcome.PARTIAL: EXIT_PARTIAL,
    }[get_outcome(sections, skipped)]


def print_report(
    sections: Sequence[tuple[str, Verdict]], skipped: Sequence[str] = (), genesis: str = ""
) -> int:
    """Print the verdict's lines (`get_lines`); the exit code."""
    print("\n".join(get_lines(sections, skipped, genesis)))
    return get_exit_code(sections, skipped)


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
    start = given if given is not None else read_given_validators(args)
    checkpoint = None if args.checkpoint is None else parse_checkpoint(args.checkpoint)
    # the clock is this command's to read; proofs' checks take it as given
    now_ms = time.time_ns() // 1_000_000 if args.now is None else args.now
    trust = get_trust(start, checkpoint, skipped, now_ms)
    gens: Generators[Any] = get_generators(get_backend(args.backend))
    member = parse_address(args.member) if args.member else None
    openings_obj = json.loads(_read(Path(args.openings))) if args.openings else None
    known = read_known(Path(args.known)) if args.known else None
    try:
        report: Report = decode_report(read_report_bytes(Path(args.report)))
    except ReportDecodeError as exc:
        print("VERDICT: INVALID (undecodable report)")
        print(start.describe())
        print(f"report {args.report}: cannot decode: {exc}")
        return EXIT_INVALID
    readings = read_reserves(args, report, None if given is None else given.genesis, read_vaults)
    openings = None if member is None else parse_openings(openings_obj)
    checked = check_report(gens, report, start, trust, skipped, readings, member, openings, known)
    print(checked)
    return checked.exit_code


def read_given_validators(args: argparse.Namespace) -> GivenValidators:
    """`--validators FILE` (with `--chain-id`, else the file's own chain id, if any)."""
    path = Path(args.validators)
    chain_id = read_chain_id(path) if args.chain_id is None else args.chain_id
    pinned = None if args.genesis_hash is None else parse_hash(args.genesis_hash, "--genesis-hash")
    return GivenValidators(
        read_validators(path), chain_id, compute_genesis_hash(_read(path)), pinned
    )


def check_report(
    gens: Generators[Any],
    report: Report,
    start: GivenGenesis | GivenValidators,
    trust: Trust | None,
    skipped: Sequence[str] = (),
    readings: Mapping[int, VaultReading | Unreadable] | None = None,
    member: bytes | None = None,
    openings: MemberOpenings | ReportDecodeError | None = None,
    known: dict[int, dict[str, int]] | None = None,
) -> ReportCheck:
    """The verdict on `report` from `start` (the genesis, or a bare validator set with
    the statement skipped), following the root with `trust` (`get_trust`; None: the
    anchor skipped): what `clearnode verify` prints and the SDK's `verify_report`
    answers, from the same checks (`get_sections`)."""
    genesis = start.genesis if isinstance(start, GivenGenesis) else None
    recompute = "statement" not in skipped
    genesis_hash = start.hash if isinstance(start, GivenGenesis) else start.genesis_hash
    sections = get_sections(gens, report, start.validators, start.chain_id, genesis, readings,
                            member, openings, known, trust, recompute, genesis_hash)  # fmt: skip
    return ReportCheck(report, sections, tuple(skipped), start.describe())


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
    genesis_hash: bytes | None = None,
) -> list[tuple[str, Verdict]]:
    """Every check of `report` the inputs allow, as (title, verdict) sections: the
    signatures and proofs and, with `trust`, the root followed to the chain of
    `genesis_hash` as a check asked for; the statement (with `genesis`, unless not to
    `recompute`), the reserves (`readings`), each clearing member's house and clients and,
    with `member` and its `openings`, the member's own commitments."""
    title = (
        f"report of chain {report.chain_id}, epoch {report.epoch}, "
        f"state root 0x{report.state_root.hex()}, "
        f"{len(report.accounts)} accounts, hash 0x{report.get_hash().hex()}"
    )
    engine = get_engine(genesis)
    sections = [
        (title, verify_report(gens, report, validators, chain_id, trust, engine, genesis_hash)),
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

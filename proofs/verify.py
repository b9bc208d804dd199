"""`python -m proofs.verify REPORT [--genesis FILE] [--validators FILE] [--chain-id ID]
[--member ADDRESS --openings FILE]`, or `--account-proof FILE --state-root ROOT [--height H]`.

Checks everything about a solvency report that needs only public data (and,
for a member, its own openings). It prints the verdict first, then each check with
its result, then what it did not check and why. `clearnode verify` adds `--rpc`: the
vaults' balances read on chain (node/chainread.py), compared here (proofs/reserves.py).
Exit codes: 0 valid as far as checked, 1 invalid (or undecodable), 2 usage error,
3 no check failed but one asked for could not be made (a chain that did not answer).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from clearing.errors import GenesisError
from clearing.genesis import Genesis, parse_genesis
from clearing.risk.engine import compute_risk_setup
from proofs.account_proof import AccountProofError, AccountProofFile, check_account_proof
from proofs.clearing_members import check_clearing_members
from proofs.disclosed import check_disclosed
from proofs.errors import ReportDecodeError
from proofs.group import BACKENDS, FAST, get_backend
from proofs.member_account import check_member_account
from proofs.openings import MemberOpenings, strip_0x, verify_member_openings
from proofs.pedersen import Generators, get_generators
from proofs.recompute import check_statement, get_configured_genesis, get_scenario_names
from proofs.report import Report, Validator, Verdict, decode_report, verify_report
from proofs.reserves import Unreadable, VaultReading, check_reserves

EXIT_VALID, EXIT_INVALID, EXIT_USAGE, EXIT_NOT_CHECKED = 0, 1, 2, 3
ReadVaults = Callable[
    [Genesis, Mapping[int, str], Mapping[int, int], int], Mapping[int, VaultReading | Unreadable]
]
"""Reads each chain's vault (genesis `vaults`) at the given RPC URL and block (default:
the chain's last block at or before the given time, the report's): what `clearnode
verify` passes; `python -m proofs.verify` reads no chain."""


class UsageError(Exception):
    """Bad arguments or unreadable input files (exit code 2)."""


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
        help="the chain's genesis: recompute the statement from it and the report's marks "
        "(and take the validator set and chain id from it unless --validators is given)",
    )
    parser.add_argument(
        "--validators",
        metavar="FILE",
        help="JSON validator set: a genesis file or a list of {pubkey, power}",
    )
    parser.add_argument(
        "--chain-id",
        type=int,
        metavar="ID",
        help="the chain the report must be for (default: chain_id of the --validators genesis)",
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
        choices=sorted(BACKENDS),
        default=FAST.name,
        help="group arithmetic: the native core (default) or py-ecc, the slow pure-Python "
        "reference",
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


def read_validators(path: Path) -> list[Validator]:
    try:
        obj: Any = json.loads(_read(path))
        entries = obj["validators"] if isinstance(obj, dict) else obj
        return [
            Validator(bytes.fromhex(strip_0x(v.get("pubkey") or v["public_key"])), int(v["power"]))
            for v in entries
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: not a validator set: {exc!r}") from exc


def read_genesis(path: Path) -> Genesis:
    try:
        genesis = parse_genesis(json.loads(_read(path)))
        compute_risk_setup(genesis)
    except GenesisError as exc:
        raise UsageError(f"{path}: not a valid genesis: {exc}") from exc
    return genesis


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


def print_report(sections: Sequence[tuple[str, Verdict]]) -> int:
    """The verdict, each section's checks, then what was not checked; the exit code."""
    failures = sum(len(v.failures) for _, v in sections)
    unreadable = [line for _, v in sections for line in v.unreadable]
    not_checked = [line for _, v in sections for line in v.not_checked]
    if failures:
        print(f"VERDICT: INVALID ({failures} failure{'s' if failures > 1 else ''})")
    elif unreadable:
        print(f"VERDICT: NOT CHECKED ({len(unreadable)} check(s) asked for could not be made)")
    else:
        print("VERDICT: VALID" + (" as far as checked" if not_checked else ""))
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
    if failures:
        return EXIT_INVALID
    return EXIT_NOT_CHECKED if unreadable else EXIT_VALID


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


def check(args: argparse.Namespace, read_vaults: ReadVaults | None = None) -> int:
    """Run the checks; raises UsageError for bad arguments."""
    if args.account_proof is not None:
        return check_account(args)
    if args.report is None:
        raise UsageError("give a report file, or --account-proof")
    if (args.member is None) != (args.openings is None):
        raise UsageError("--member and --openings go together")
    gens: Generators[Any] = get_generators(get_backend(args.backend))
    genesis = read_genesis(Path(args.genesis)) if args.genesis else None
    validators_file = args.validators or args.genesis
    validators = read_validators(Path(validators_file)) if validators_file else None
    chain_id = args.chain_id
    if chain_id is None and validators_file:
        chain_id = read_chain_id(Path(validators_file))
    member = parse_address(args.member) if args.member else None
    openings_obj = json.loads(_read(Path(args.openings))) if args.openings else None
    known = read_known(Path(args.known)) if args.known else None
    try:
        report: Report = decode_report(read_report_bytes(Path(args.report)))
    except ReportDecodeError as exc:
        print("VERDICT: INVALID (undecodable report)")
        print(f"report {args.report}: cannot decode: {exc}")
        return EXIT_INVALID
    readings = read_reserves(args, report, genesis, read_vaults)
    openings = None if member is None else parse_openings(openings_obj)
    return print_report(
        get_sections(gens, report, validators, chain_id, genesis, readings, member, openings, known)
    )


def parse_openings(obj: Any) -> MemberOpenings | ReportDecodeError:
    """A member's openings (their JSON), or why they are not: a verdict's failure."""
    try:
        return MemberOpenings.from_json(obj)
    except ReportDecodeError as exc:
        return exc


def get_sections(
    gens: Generators[Any],
    report: Report,
    validators: Sequence[Validator] | None,
    chain_id: int | None,
    genesis: Genesis | None = None,
    readings: Mapping[int, VaultReading | Unreadable] | None = None,
    member: bytes | None = None,
    openings: MemberOpenings | ReportDecodeError | None = None,
    known: dict[int, dict[str, int]] | None = None,
) -> list[tuple[str, Verdict]]:
    """Every check of `report` the inputs allow, as (title, verdict) sections: the
    signatures and proofs, the statement (with `genesis`), the reserves (`readings`), each
    clearing member's house and clients and, with `member` and its `openings`, the
    member's own commitments."""
    title = (
        f"report of chain {report.chain_id}, epoch {report.epoch}, "
        f"state root 0x{report.state_root.hex()}, "
        f"{len(report.accounts)} accounts, hash 0x{report.get_hash().hex()}"
    )
    sections = [
        (title, verify_report(gens, report, validators, chain_id)),
        ("statement", check_statement(report, genesis)),
        ("reserves", check_reserves(report, genesis, readings or {})),
        ("clearing members", check_clearing_members(report)),
        ("defaults and accounts in default", check_disclosed(report)),
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


def run(args: argparse.Namespace, read_vaults: ReadVaults | None = None) -> int:
    try:
        return check(args, read_vaults)
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

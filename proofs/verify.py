"""`python -m proofs.verify REPORT [--genesis FILE] [--validators FILE] [--chain-id ID]
[--member ADDRESS --openings FILE]`, or `--account-proof FILE --state-root ROOT [--height H]`.

Checks everything about a solvency report that needs only public data (and,
for a member, its own openings), prints each check and a final verdict.
Exit codes: 0 valid, 1 invalid (or undecodable), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clearing.errors import GenesisError
from clearing.genesis import Genesis, parse_genesis
from clearing.risk.engine import get_risk_setup
from proofs.account_proof import AccountProofError, AccountProofFile, check_account_proof
from proofs.errors import DecodeError
from proofs.group import FAST, REFERENCE
from proofs.openings import MemberOpenings, strip_0x, verify_member_openings
from proofs.pedersen import Generators, get_generators
from proofs.recompute import check_statement
from proofs.report import Report, Validator, Verdict, decode_report, verify_report

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


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
    parser.add_argument("--backend", choices=["arkworks", "py-ecc"], default="arkworks")


def read_report_bytes(path: Path) -> bytes:
    data = _read(path)
    text = data.strip()
    if text.startswith(b"{"):
        try:
            return bytes.fromhex(strip_0x(json.loads(text)["report"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise DecodeError(f"{path}: JSON without a hex 'report' field: {exc!r}") from exc
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
        get_risk_setup(genesis)
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


def _print_verdict(title: str, verdict: Verdict) -> None:
    print(title)
    for line in verdict.passed:
        print(f"  ok    {line}")
    for line in verdict.warnings:
        print(f"  warn  {line}")
    for line in verdict.failures:
        print(f"  FAIL  {line}")


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


def check(args: argparse.Namespace) -> int:
    """Run the checks; raises UsageError for bad arguments."""
    if args.account_proof is not None:
        return check_account(args)
    if args.report is None:
        raise UsageError("give a report file, or --account-proof")
    if (args.member is None) != (args.openings is None):
        raise UsageError("--member and --openings go together")
    gens: Generators[Any] = get_generators(REFERENCE if args.backend == "py-ecc" else FAST)
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
    except DecodeError as exc:
        print(f"report {args.report}: cannot decode: {exc}")
        print("VERDICT: INVALID (undecodable report)")
        return EXIT_INVALID
    verdicts = [verify_report(gens, report, validators, chain_id)]
    _print_verdict(
        f"report of chain {report.chain_id}, epoch {report.epoch}, "
        f"state root 0x{report.state_root.hex()}, "
        f"{len(report.accounts)} accounts, hash 0x{report.get_hash().hex()}",
        verdicts[0],
    )
    verdicts.append(check_statement(report, genesis))
    _print_verdict("statement", verdicts[-1])
    if member is not None:
        try:
            openings = MemberOpenings.from_json(openings_obj)
        except DecodeError as exc:
            verdicts.append(Verdict(failures=[f"openings: {exc}"]))
        else:
            verdicts.append(verify_member_openings(gens, report, member, openings, known))
        _print_verdict(f"member 0x{member.hex()}", verdicts[-1])
    failures = sum(len(v.failures) for v in verdicts)
    if failures:
        print(f"VERDICT: INVALID ({failures} failure{'s' if failures > 1 else ''})")
        return EXIT_INVALID
    print("VERDICT: VALID" + (" (signatures not checked)" if validators is None else ""))
    return EXIT_VALID


def run(args: argparse.Namespace) -> int:
    try:
        return check(args)
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

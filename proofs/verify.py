"""`python -m proofs.verify REPORT --genesis FILE [--genesis-hash HEX] [--checkpoint
HEIGHT:TIME_MS:HASH] [--skip statement,anchor] [--member ADDRESS --openings FILE]`, or
`--account-proof FILE --state-root ROOT [--height H]`: the command line of a report's
verdict (proofs/report_check.py).

It reads its arguments and files (the genesis is required: a file, or with `clearnode
verify`, fetched from a node and pinned by its hash), and prints the verdict and the
genesis hash first, then each check with its result, then what it did not check and
why. `clearnode verify` adds `--node` (the genesis fetched) and `--rpc` (the vaults'
balances read on chain, clearnode/client/reserves.py, compared by proofs/reserves.py).
Exit codes: `EXIT_*` of proofs/report_check.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from clearing.genesis import Genesis, compute_genesis_hash
from lightclient.anchor import Checkpoint
from proofs.account_proof import AccountProofError, AccountProofFile, check_account_proof
from proofs.backends import get_backend, get_backend_names, get_fastest
from proofs.checks import Verdict
from proofs.errors import ReportDecodeError
from proofs.openings import strip_0x
from proofs.pedersen import Generators, get_generators
from proofs.report import Report, VotingPower, decode_report
from proofs.report_check import (
    EXIT_INVALID,
    EXIT_NOT_CHECKED,
    EXIT_USAGE,
    EXIT_VALID,
    SKIPPABLE,
    GivenGenesis,
    GivenValidators,
    UsageError,
    check_report,
    check_skip,
    get_exit_code,
    get_lines,
    get_trust,
    parse_genesis_bytes,
    parse_openings,
)
from proofs.reserves import Unreadable, VaultReading

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


class GenesisUnavailable(Exception):
    """The genesis asked for could not be had from a node (exit code 3)."""


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


def read_genesis(path: Path) -> Genesis:
    return parse_genesis_bytes(_read(path), str(path))


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


def parse_checkpoint(text: str) -> Checkpoint:
    try:
        return Checkpoint.parse(text)
    except ValueError as exc:
        raise UsageError(f"--checkpoint {text!r}: {exc}") from None


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

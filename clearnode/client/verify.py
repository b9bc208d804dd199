"""Checking what a node serves with public data alone: a solvency report, one's own
openings in it, one's account proof. The checks and their verdict are `clearnode
verify`'s, by the same function (proofs/report_check.py `check_report`), on what `Client`
fetched; the vaults are read on chain as the CLI reads them (reserves.py).

The full check is the default, as the CLI's: the chain's genesis pinned by the hash the
network publishes, the statement recomputed from it, the state root followed to the
chain within the trusting period. Less is asked for by name (`skip`), and the verdict
then says so (`VALID ONLY AS FAR AS CHECKED`, `ok` False); without a pinned genesis
nothing is checked (`CheckRefused`)."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import Any, TypedDict, Unpack

from clearing.genesis import compute_genesis_hash
from clearnode.client.errors import CheckRefused, GenesisMismatch
from clearnode.client.reserves import read_vaults
from lightclient.anchor import Checkpoint
from proofs.account_proof import check_account_proof
from proofs.backends import get_fastest
from proofs.openings import MemberOpenings
from proofs.pedersen import get_generators
from proofs.report import decode_report
from proofs.report_check import (
    SKIPPABLE,
    GivenGenesis,
    ReportCheck,
    UsageError,
    check_report,
    check_skip,
    get_trust,
    parse_genesis_bytes,
)
from proofs.reserves import Unreadable, VaultReading

__all__ = [
    "SKIPPABLE",
    "CheckOptions",
    "GivenGenesis",
    "ReportCheck",
    "check_account_proof",
    "pin_genesis",
    "verify_report",
]


def pin_genesis(data: bytes, expected_hash: bytes, source: str = "the file given") -> GivenGenesis:
    """The genesis file `data`, refused (`GenesisMismatch`) unless its SHA-256 is
    `expected_hash`, the hash the network publishes; `source` says where it came from in
    the verdict. `CheckRefused` if the bytes of that hash are not a genesis."""
    found = compute_genesis_hash(data)
    if found != expected_hash:
        raise GenesisMismatch(source, found, expected_hash)
    try:
        return GivenGenesis(parse_genesis_bytes(data, source), found, source)
    except UsageError as exc:
        raise CheckRefused(str(exc)) from None


class CheckOptions(TypedDict, total=False):
    """The keyword arguments of `verify_report` and `Client.verify_report`, each
    optional: `rpc` ({chain id: JSON-RPC URL}: each vault's reserves read on its chain at
    the report's time, or at `blocks[chain id]`); `checkpoint` (a block you trust, where
    following the root starts instead of the genesis); `now_ms` (the time the trusting
    period is measured to; default: this machine's clock); `skip` (checks left out by
    name, SKIPPABLE's "statement" and "anchor": the verdict names them)."""

    rpc: Mapping[int, str]
    blocks: Mapping[int, int]
    checkpoint: Checkpoint
    now_ms: int
    skip: Collection[str]


def verify_report(
    view: Mapping[str, Any],
    genesis: GivenGenesis,
    member: bytes | None = None,
    openings: MemberOpenings | None = None,
    **options: Unpack[CheckOptions],
) -> ReportCheck:
    """`clearnode verify`'s check of a report (`Client.report()`'s answer, or any
    `{"report": hex}`) from `genesis` (`Client.pinned_genesis(hash)`, or `pin_genesis`
    of the file): the validators' signatures, every account's proof, the aggregates, the
    statement recomputed from the genesis, the state root followed to the chain from the
    genesis's set (or a checkpoint) within the trusting period; with `member` and its
    `openings` (`Client.openings`), one's own commitments and account; with `options`
    (`CheckOptions`), the vaults read on chain, and less by name (`skip`). Print the
    result for the whole verdict; `ok` is True only for VALID. Runs the chain reads and
    the group arithmetic in the calling thread (seconds in pure Python:
    `Client.verify_report` runs it in a worker thread). `CheckRefused` for what cannot
    be checked as asked; `proofs.errors.ReportDecodeError` for bytes that are not a
    report (the CLI's `INVALID (undecodable report)`)."""
    if not isinstance(genesis, GivenGenesis):
        raise CheckRefused(
            "the check needs the chain's genesis pinned by the hash the network publishes "
            "(await client.pinned_genesis(hash), or pin_genesis(the file's bytes, hash)), "
            f"not {type(genesis).__name__}: without it no signature is counted against the "
            "chain's validators and the root is not followed"
        )
    if (member is None) != (openings is None):
        raise CheckRefused("member and openings go together")
    skip = options.get("skip", ())
    now_ms = options.get("now_ms", time.time_ns() // 1_000_000)
    try:
        skipped = check_skip((skip,) if isinstance(skip, str) else skip)
        trust = get_trust(genesis, options.get("checkpoint"), skipped, now_ms)
    except UsageError as exc:
        raise CheckRefused(str(exc)) from None
    report = decode_report(bytes.fromhex(str(view["report"]).removeprefix("0x")))
    readings: Mapping[int, VaultReading | Unreadable] = {}
    if rpc := options.get("rpc"):
        blocks = options.get("blocks", {})
        readings = read_vaults(genesis.genesis, rpc, blocks, report.get_time_ms())
    gens: Any = get_generators(get_fastest())
    return check_report(gens, report, genesis, trust, skipped, readings, member, openings)

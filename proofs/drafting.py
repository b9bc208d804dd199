"""Drafting an epoch's solvency report: its inputs blinded, its accounts proven, its
validators' signatures added.

Blinding factors are derived from a secret seed shared by the validators and (epoch,
owner, sub-account, label), so every validator builds the same report byte for byte
and can hand a member its own openings. Proving runs as independent jobs (`ProofJob`),
which a pool of worker processes may take (node/reports/worker.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.risk.solvency import SolvencyMarket
from clearing.state import DefaultRecord
from clearing.transition.reported_accounts import AccountKey
from clearing.transition.root import AccountProof, MarketProof
from proofs.aggregate import AggregateError, compute_aggregates
from proofs.backends import get_backend
from proofs.checks import check_defaults
from proofs.errors import ReportDecodeError
from proofs.group import P, R
from proofs.pedersen import Generators, get_generators
from proofs.report import (
    MAX_UINT64,
    MIN_INT64,
    REPORT_VERSION,
    AccountEntry,
    DefaultAccount,
    DefaultEntry,
    Report,
    ValidatorSignature,
    check_account_key,
    check_report_header,
    compute_account_context,
    is_in_default,
)
from proofs.statement import (
    LinearForm,
    SolvencyClaim,
    SolvencyStatement,
    check_provable,
    get_statement,
    prove_solvency,
    verify_solvency_batch,
)

BLINDING_DOMAIN = b"clearnode-blinding-v1"


ProofResult = tuple[tuple[bytes, ...], bytes]
MapFn = Callable[[Callable[["ProofJob"], ProofResult], Iterable["ProofJob"]], Iterator[ProofResult]]


def compute_blinding(seed: bytes, epoch: int, key: AccountKey, label: str) -> int:
    """The blinding factor of one committed input; only seed holders can compute it."""
    owner, sub = key
    message = b"".join(
        [
            BLINDING_DOMAIN,
            len(seed).to_bytes(4, "big"),
            seed,
            epoch.to_bytes(8, "big"),
            owner,
            sub.to_bytes(8, "big"),
            label.encode(),
        ]
    )
    return int.from_bytes(hashlib.sha3_512(message).digest(), "big") % R


def get_blindings(seed: bytes, epoch: int, key: AccountKey, labels: Sequence[str]) -> list[int]:
    return [compute_blinding(seed, epoch, key, label) for label in labels]


def build_report(
    gens: Generators[P],
    epoch: int,
    state_root: bytes,
    form: LinearForm | SolvencyStatement,
    accounts: Mapping[AccountKey, Sequence[int]],
    seed: bytes,
    map_fn: MapFn = map,
    *,
    chain_id: int,
    height: int,
    market: SolvencyMarket,
    market_proof: MarketProof,
    defaults: tuple[DefaultRecord, ...] = (),
    account_records: Mapping[bytes, tuple[bytes, AccountProof]] | None = None,
) -> Report:
    """The unsigned report of `chain_id` at `height` (the epoch's last block, whose state
    `state_root` is); deterministic in its arguments.

    Every account is checked before any is proven: one that fails the statement is
    listed in the clear (`in_default`) instead of proven; raises ProverError for an
    input out of range, AggregateError if the book is not flat, ReportDecodeError for
    `defaults` (the epoch's, clearing.state.DefaultRecord) that are unsorted or whose
    layers do not add up to their deficits. `account_records` (``clearing.transition.root.
    get_account_proofs``'s) bind each account in default to the state root: the report
    carries the record of each of their owners. `market` is what the statement was computed
    from (clearing.risk.engine.compute_market_solvency_form) with the configuration in
    force that `market_proof` carries, published so that a verifier holding the genesis
    recomputes it; `market_proof` proves both under `state_root`. Proving (about a
    second per account) goes through `map_fn`, so a caller can pass a process pool's
    `map` (jobs and results are plain picklable values)."""
    draft = draft_report(gens, epoch, state_root, form, accounts, seed, chain_id=chain_id,
                         height=height, market=market, market_proof=market_proof,
                         defaults=defaults, account_records=account_records)  # fmt: skip
    return complete_report(gens, draft, {}, map_fn)[0]


@dataclass(frozen=True)
class ReportDraft:
    """A report checked and computed but for its accounts' proofs: what validators that
    prove an epoch's accounts between them each hold (the same for every seed holder)."""

    report: Report  # accounts: none yet
    jobs: dict[AccountKey, ProofJob]  # one per proven account, by key (sorted)

    def prove(self, keys: Iterable[AccountKey], map_fn: MapFn = map) -> dict[AccountKey, bytes]:
        """The proofs of those of `keys` this report proves (accounts in default have none)."""
        jobs = [(k, self.jobs[k]) for k in keys if k in self.jobs]
        results = map_fn(run_proof_job, [job for _, job in jobs])
        return {key: proof for (key, _), (_, proof) in zip(jobs, results, strict=True)}


def draft_report(
    gens: Generators[P],
    epoch: int,
    state_root: bytes,
    form: LinearForm | SolvencyStatement,
    accounts: Mapping[AccountKey, Sequence[int]],
    seed: bytes,
    *,
    chain_id: int,
    height: int,
    market: SolvencyMarket,
    market_proof: MarketProof,
    defaults: tuple[DefaultRecord, ...] = (),
    account_records: Mapping[bytes, tuple[bytes, AccountProof]] | None = None,
) -> ReportDraft:
    """Every check and computation of `build_report` but the proving (same errors)."""
    statement = form if isinstance(form, SolvencyStatement) else get_statement(form)
    check_report_header(chain_id, epoch, height, state_root)
    for owner, sub in accounts:
        check_account_key(owner, sub)
    failures = check_defaults(defaults)
    if failures:
        raise ReportDecodeError("; ".join(failures))
    in_default = tuple(
        DefaultEntry(k[0], k[1], tuple(accounts[k]))
        for k in sorted(accounts)
        if is_in_default(statement, accounts[k])
    )
    defaulted = {d.key for d in in_default}
    keys = [k for k in sorted(accounts) if k not in defaulted]
    for key in keys:
        check_provable(statement, accounts[key])
    blindings = [get_blindings(seed, epoch, k, statement.input_labels) for k in keys]
    aggregates = compute_aggregates(
        statement, [accounts[k] for k in keys], blindings, [d.inputs for d in in_default]
    )
    for entry in aggregates:
        if not MIN_INT64 <= entry.total <= MAX_UINT64:
            raise AggregateError(f"total of {entry.label!r} = {entry.total} exceeds its range")
    jobs = {
        key: ProofJob(
            gens.group.name,
            statement,
            compute_account_context(REPORT_VERSION, epoch, state_root, key),
            tuple(accounts[key]),
            tuple(r),
        )
        for key, r in zip(keys, blindings, strict=True)
    }
    records = account_records or {}
    default_accounts = tuple(
        DefaultAccount(owner, records[owner][0], records[owner][1].steps)
        for owner in sorted({d.owner for d in in_default})
        if owner in records
    )
    report = Report(REPORT_VERSION, chain_id, epoch, height, state_root, statement, market,
                    market_proof, (), aggregates, in_default, defaults,
                    default_accounts)  # fmt: skip
    return ReportDraft(report, jobs)


def complete_report(
    gens: Generators[P], draft: ReportDraft, proofs: Mapping[AccountKey, bytes], map_fn: MapFn = map
) -> tuple[Report, list[AccountKey]]:
    """The report of `draft` with `proofs` (made elsewhere: other validators') where they
    verify, and every other account proven here (through `map_fn`); and the keys whose
    given proof was refused. The given proofs are checked in one batch against
    commitments computed here from the seed's blindings (bisected when it fails), so a
    wrong proof, or a right one for other commitments, never enters the report."""
    report = draft.report
    given = {k: p for k, p in proofs.items() if k in draft.jobs}
    keys = sorted(given)
    width = len(report.statement.input_labels)
    commitment_points = gens.group.msm_batch(  # what gens.commit computes, in one batch
        [([gens.G, gens.H], [x, r]) for k in keys
         for x, r in zip(draft.jobs[k].inputs, draft.jobs[k].blindings, strict=True)]
    )  # fmt: skip
    entries = [
        AccountEntry(key[0], key[1], tuple(gens.group.encode(c) for c in
                     commitment_points[index * width : (index + 1) * width]), given[key])
        for index, key in enumerate(keys)
    ]  # fmt: skip
    claims = [SolvencyClaim(report.get_context(e), e.commitments, e.proof) for e in entries]
    batch = verify_solvency_batch(gens, report.statement, claims)
    bad = set(batch.invalid) | {i for i, d in enumerate(batch.decoded) if isinstance(d, str)}
    refused = [keys[i] for i in sorted(bad)]
    verified = {e.key: e for i, e in enumerate(entries) if i not in bad}
    missing = [k for k in draft.jobs if k not in verified]
    proven = map_fn(run_proof_job, [draft.jobs[k] for k in missing])
    for key, (commitments, proof) in zip(missing, proven, strict=True):
        verified[key] = AccountEntry(key[0], key[1], commitments, proof)
    accounts = tuple(verified[k] for k in draft.jobs)
    return replace(report, accounts=accounts), sorted(refused)


@dataclass(frozen=True)
class ProofJob:
    """One account's proving work, as plain values (can cross a process boundary)."""

    backend: str
    statement: SolvencyStatement
    context: bytes
    inputs: tuple[int, ...]
    blindings: tuple[int, ...]


def run_proof_job(job: ProofJob) -> ProofResult:
    gens: Generators[Any] = get_generators(get_backend(job.backend))
    commitments, proof = prove_solvency(gens, job.statement, job.context, job.inputs, job.blindings)
    return commitments, proof.encode()


def sign_report(report: Report, key: Ed25519PrivateKey) -> ValidatorSignature:
    public = key.public_key().public_bytes_raw()
    return ValidatorSignature(public, key.sign(report.get_signing_bytes()))


def add_signatures(report: Report, signatures: Sequence[ValidatorSignature]) -> Report:
    """The report with these signatures added, sorted by public key, one per key."""
    merged = {s.public_key: s for s in (*report.signatures, *signatures)}
    return replace(report, signatures=tuple(merged[k] for k in sorted(merged)))

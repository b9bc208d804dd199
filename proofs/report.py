"""The solvency report of one epoch: build, encode, hash, sign, verify.

Layout and hashing are specified in proofs/FORMAT.md. Blinding factors are
derived from a secret seed shared by the validators and (epoch, owner,
sub-account, label), so every validator builds the same report byte for byte
and can hand a member its own openings.

A report names its chain. Each validator signs it once, over
`clearing.report_commitment.compute_report_signing_bytes(chain_id, epoch,
report_hash)`: the very signature the `ReportCommitment` transaction carries,
so the quorum a member checks here is the one clearing checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import msgpack
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.default.house import HOUSE
from clearing.report_commitment import compute_report_signing_bytes
from clearing.reported_accounts import AccountKey
from clearing.risk.solvency import COLLATERAL_PREFIX, SolvencyMarket
from clearing.root import AccountProof, MarketProof
from clearing.state import DEFAULT_LAYERS, DefaultRecord, is_in_default_order
from lightclient.anchor import (
    ENGINE_RECORDS,
    OUR_ENGINE,
    AnchorError,
    CheckpointAfterAnchor,
    CheckpointMismatch,
    SetChangeError,
    StateAnchor,
    Trust,
    ValidatorHistory,
    ValidatorSetChanged,
    check_anchor,
    check_trusting_period,
    follow_set_changes,
    get_consensus_chain_id,
)
from lightclient.crypto import is_valid_signature
from lightclient.validators import ValidatorPowers
from proofs.aggregate import AggregateEntry, AggregateError, check_aggregates, compute_aggregates
from proofs.backends import get_backend
from proofs.bulletproofs import N_BITS
from proofs.errors import ProverError, ReportDecodeError, StatementError
from proofs.group import POINT_BYTES, P, R, decode_scalar, encode_scalar
from proofs.pedersen import Generators, get_generators
from proofs.statement import (
    LinearForm,
    SolvencyClaim,
    SolvencyStatement,
    check_provable,
    decode_statement,
    get_statement,
    prove_solvency,
    verify_solvency_batch,
)
from records.codec import DecodeError, pack

REPORT_VERSION = 11
# 11: the height its own field (12); the market without the height or the block time,
# with the time options are priced at (the state root commits to neither: a header does);
# 10: the accounts a report must cover and their cash under the state root (the market
# proof's reported accounts and ledger), the cash aggregated as collateral and positions;
# 9: the defaults and the insurance fund in the market proof (the published ledger), the
# account record of each owner in default with its path to the accounts root;
# 8: the published roles (clearing members, their clients) in the market proof;
# 7: the configuration in force (its bytes, in the market proof) the statement is
# computed from; 6: an anchor (the next block's header and commit certificate) for the state root;
# 5: the market the statement is computed from; 4: the epoch's defaults
REPORT_HASH_DOMAIN = b"clearnode-solvency-report-v1"
BLINDING_DOMAIN = b"clearnode-blinding-v1"
MAX_UINT64 = (1 << 64) - 1
MIN_INT64 = -(1 << 63)  # a published total may be negative once accounts in default are apart

ProofResult = tuple[tuple[bytes, ...], bytes]
MapFn = Callable[[Callable[["ProofJob"], ProofResult], Iterable["ProofJob"]], Iterator[ProofResult]]


def describe_account(key: AccountKey) -> str:
    owner, sub = key
    return f"account 0x{owner.hex()}/{sub}"


@dataclass(frozen=True)
class AccountEntry:
    owner: bytes
    subaccount: int
    commitments: tuple[bytes, ...]
    proof: bytes

    @property
    def key(self) -> AccountKey:
        return (self.owner, self.subaccount)

    def describe(self) -> str:
        return describe_account(self.key)


@dataclass(frozen=True)
class DefaultEntry:
    """An account that fails the statement (below maintenance in some scenario, or with
    negative equity): nothing to prove, so its inputs are published in the clear and
    anyone can evaluate them against the public rows. One account cannot block the
    report; the clearing house's own account is listed here when it is short."""

    owner: bytes
    subaccount: int
    inputs: tuple[int, ...]

    @property
    def key(self) -> AccountKey:
        return (self.owner, self.subaccount)

    def describe(self) -> str:
        return describe_account(self.key)


MAX_PROOF_STEPS = 64  # an accounts tree of 2^64 leaves


@dataclass(frozen=True)
class DefaultAccount:
    """The account record of an owner with a sub-account in default
    (``clearing.root.encode_account``) and its path to the accounts root the market
    proof carries: what a verifier recomputes that owner's published inputs from."""

    owner: bytes
    account: bytes
    steps: tuple[tuple[bool, bytes], ...]

    def to_fields(self) -> list[object]:
        return [self.owner, self.account, [[left, h] for left, h in self.steps]]


@dataclass(frozen=True)
class ValidatorSignature:
    public_key: bytes
    signature: bytes


@dataclass(frozen=True)
class VotingPower:
    """A validator as a report's verifier counts it: its Ed25519 key and voting power (the
    genesis's set, from which the anchor's set changes lead; clearing's whole record of a
    validator is `clearing.genesis.Validator`)."""

    public_key: bytes
    power: int


@dataclass(frozen=True)
class Report:
    version: int
    chain_id: int
    epoch: int
    height: int  # the epoch's last block, whose state `state_root` is
    state_root: bytes
    statement: SolvencyStatement
    market: SolvencyMarket  # what the statement's rows are computed from besides the genesis
    market_proof: MarketProof  # with the market, gives the state root; holds the
    # configuration and the published roles
    accounts: tuple[AccountEntry, ...]
    aggregates: tuple[AggregateEntry, ...]
    in_default: tuple[DefaultEntry, ...] = ()
    defaults: tuple[DefaultRecord, ...] = ()  # sub-accounts that defaulted this epoch
    default_accounts: tuple[DefaultAccount, ...] = ()  # by owner, of `in_default`'s owners
    signatures: tuple[ValidatorSignature, ...] = ()
    anchor: StateAnchor | None = None
    """Block H+1's header and commit certificate, H the report's height: what ties the
    state root to the chain. Not signed by the report (any node attaches its own copy of
    the certificate; it authenticates itself), so not part of the hash."""

    def _body(self) -> list[Any]:
        return [
            self.version,
            self.chain_id,
            self.epoch,
            self.state_root,
            self.statement.to_list(),
            [[a.owner, a.subaccount, b"".join(a.commitments), a.proof] for a in self.accounts],
            [[e.label, e.total, encode_scalar(e.blinding_sum)] for e in self.aggregates],
            [[d.owner, d.subaccount, list(d.inputs)] for d in self.in_default],
            [r.to_fields() for r in self.defaults],
            self.market.to_fields(),
            self.market_proof.to_fields(),
            [a.to_fields() for a in self.default_accounts],
            self.height,
        ]

    def get_hash(self) -> bytes:
        """What validators sign: SHA3-256 over the domain and the body (no signatures)."""
        body = pack(self._body())
        return hashlib.sha3_256(REPORT_HASH_DOMAIN + body).digest()

    def get_signing_bytes(self) -> bytes:
        """What each validator signs: this report's hash bound to its chain and epoch."""
        return compute_report_signing_bytes(self.chain_id, self.epoch, self.get_hash())

    def encode(self) -> bytes:
        sigs = [[s.public_key, s.signature] for s in self.signatures]
        anchor = None if self.anchor is None else self.anchor.to_wire()
        return pack([*self._body(), sigs, anchor])

    def get_time_ms(self) -> int | None:
        """When the chain committed the report's state root: the time of the anchor's
        header (block H+1's); None without an anchor (the state root commits to no time)."""
        return None if self.anchor is None else self.anchor.header.time_ms

    def get_account(self, owner: bytes, subaccount: int) -> AccountEntry | None:
        for entry in self.accounts:
            if entry.key == (owner, subaccount):
                return entry
        return None

    def get_context(self, entry: AccountEntry) -> bytes:
        return compute_account_context(self.version, self.epoch, self.state_root, entry.key)

    def get_total(self, label: str) -> int | None:
        """What every account holds of `label`: the proven accounts' aggregate plus the
        inputs published of the accounts in default; None without that aggregate or that
        label in the statement (the aggregates check fails such a report, naming it)."""
        labels = self.statement.input_labels
        entry = next((e for e in self.aggregates if e.label == label), None)
        if entry is None or label not in labels:
            return None
        column = labels.index(label)
        return entry.total + sum(d.inputs[column] for d in self.in_default)


def compute_account_context(version: int, epoch: int, state_root: bytes, key: AccountKey) -> bytes:
    """What an account's proof is bound to, besides the statement and its commitments."""
    owner, sub = key
    return (
        version.to_bytes(2, "big")
        + epoch.to_bytes(8, "big")
        + state_root
        + owner
        + sub.to_bytes(8, "big")
    )


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
    layers do not add up to their deficits. `account_records` (``clearing.root.
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
    _check_header(chain_id, epoch, height, state_root)
    for owner, sub in accounts:
        _check_key(owner, sub)
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


def is_in_default(statement: SolvencyStatement, inputs: Sequence[int]) -> bool:
    """Some scenario leaves the account below its requirement (every input in range:
    an out-of-range input is the prover's error, never a default)."""
    values = statement.compute_values(inputs)
    count = len(statement.input_labels)
    for index, v in enumerate(values[:count]):
        if not 0 <= v < 1 << N_BITS:
            raise ProverError(statement.describe_value(index), index=index, value=v)
    return any(v < 0 for v in values[count:])


def get_equity(statement: SolvencyStatement, inputs: Sequence[int]) -> Fraction:
    """Equity from the base scenario's row (``k_den * equity``, the cash coefficient being
    ``k_den``): what the account holds net of what it owes, at the marks. StatementError
    for a statement whose first input is not cash."""
    if not statement.input_labels or statement.input_labels[0] != "cash" or not statement.rows:
        raise StatementError("equity needs a statement whose first input is cash")
    row = statement.rows[0]
    return Fraction(sum(a * x for a, x in zip(row, inputs, strict=True)), row[0])


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


@dataclass
class Verdict:
    """What was checked: `passed` and `failures` are human-readable sentences."""

    passed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    """Checks not made, and why (nothing asked for them: no --genesis, no --rpc)."""
    unreadable: list[str] = field(default_factory=list)
    """Checks asked for that could not be made (a chain that did not answer)."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def add(self, other: Verdict) -> None:
        """`other`'s checks, as this verdict's own."""
        self.passed.extend(other.passed)
        self.failures.extend(other.failures)
        self.not_checked.extend(other.not_checked)
        self.unreadable.extend(other.unreadable)


def check_signatures(report: Report, powers: ValidatorPowers) -> list[str]:
    """Failures of the quorum check: > 2/3 of total power, cross-multiplied."""
    failures = []
    message = report.get_signing_bytes()
    signed = 0
    seen: set[bytes] = set()
    for s in report.signatures:
        name = s.public_key.hex()
        if s.public_key in seen:
            failures.append(f"duplicate signature by {name}")
            continue
        seen.add(s.public_key)
        if not powers.is_member(s.public_key):
            failures.append(f"signature by {name}, not in the validator set")
            continue
        if not is_valid_signature(s.public_key, message, s.signature):
            failures.append(f"invalid signature by {name}")
            continue
        signed += powers.get_power(s.public_key)
    if not powers.is_quorum(signed):
        failures.append(f"signed power {signed} of {powers.total_power} is not more than 2/3")
    return failures


def get_powers(validators: Sequence[VotingPower], engine: str = OUR_ENGINE) -> ValidatorPowers:
    """The set as the chain of `engine` hashes and counts it."""
    return ENGINE_RECORDS[engine].powers((v.public_key, v.power) for v in validators)


def check_root_on_chain(
    report: Report,
    validators: Sequence[VotingPower] | None,
    trust: Trust | None = None,
    engine: str = OUR_ENGINE,
    genesis_hash: bytes | None = None,
) -> tuple[Verdict, ValidatorHistory | None]:
    """The light-client check: the report's state root is the chain's after the market's
    height, committed by the next block's header under a quorum's precommits of the set
    followed from `validators` (or `trust`'s checkpoint) through the anchor's set changes,
    on the chain of the genesis whose hash is `genesis_hash` (the name consensus signs
    under carries it: `get_consensus_chain_id`); and that walk (None when the anchor is
    missing or the walk fails: the set given is then all there is). With `trust`, the
    check is asked for: what stops it (no anchor, no genesis hash, a trusted point older
    than the trusting period, a set the walk does not reach) is a check that could not be
    made, not one left out."""
    verdict = Verdict()
    height = report.height
    not_made = verdict.not_checked if trust is None else verdict.unreadable
    if validators is None:
        verdict.not_checked.append("state root not followed to the chain: no validator set given")
        return verdict, None
    if report.anchor is None:
        not_made.append(
            f"state root not followed to the chain: the report carries no anchor (the header "
            f"of block {height + 1} and its commit certificate; a node attaches them when it "
            f"serves the report)"
        )
        return verdict, None
    if genesis_hash is None:
        not_made.append(
            "state root not followed to the chain: no genesis hash given (the chain's headers "
            "are signed under a name that carries it: give the genesis, or its hash)"
        )
        return verdict, None
    chain = get_consensus_chain_id(report.chain_id, genesis_hash)
    if report.anchor.engine != engine:
        verdict.failures.append(
            f"state root not followed to the chain: the anchor follows a {report.anchor.engine} "
            f"chain, and the genesis's network runs {engine}"
        )
        return verdict, None
    checkpoint = None if trust is None else trust.checkpoint
    try:
        if trust is not None:
            check_trusting_period(trust)
        if checkpoint is not None and checkpoint.height > height + 1:
            raise CheckpointAfterAnchor(checkpoint.height, height + 1)
    except AnchorError as exc:
        not_made.append(f"state root not followed to the chain: {exc}")
        return verdict, None
    try:
        history = follow_set_changes(report.anchor.set_changes, chain,
                                     get_powers(validators, engine), checkpoint)  # fmt: skip
    except (SetChangeError, CheckpointMismatch) as exc:
        start = (
            "the set given"
            if checkpoint is None
            else f"the checkpoint of block {checkpoint.height}"
        )
        verdict.failures.append(f"validator set not followed from {start}: {exc}")
        return verdict, None
    if checkpoint is not None:
        verdict.passed.append(
            f"validator set taken from the checkpoint of block {checkpoint.height} (set "
            f"0x{checkpoint.validators_hash.hex()[:16]}..., time {checkpoint.time_ms} ms), "
            f"within the trusting period"
        )
    if history.changed_at:
        count = len(history.changed_at)
        verdict.passed.append(
            f"validator set followed through {count} change{'s' if count > 1 else ''} since "
            f"the set given, each committed by the set before it (the last in block "
            f"{history.changed_at[-1]})"
        )
    powers = history.get_set_at(height + 1)
    try:
        check_anchor(report.anchor, chain, height, report.state_root, powers)
    except ValidatorSetChanged as exc:
        not_made.append(f"state root not followed to the chain: {exc}")
    except AnchorError as exc:
        verdict.failures.append(f"state root is not the chain's after block {height}: {exc}")
    else:
        signers = report.anchor.commit.get_signers(powers)
        verdict.passed.append(
            f"state root is the chain's after block {height}: block {height + 1}'s header "
            f"commits to it, and its certificate carries precommits of "
            f"{sum(powers.get_power(key) for key in signers)} of "
            f"{powers.total_power} voting power ({len(signers)} validators)"
        )
    return verdict, history


def verify_report(
    gens: Generators[P],
    report: Report,
    validators: Sequence[VotingPower] | None,
    chain_id: int | None = None,
    trust: Trust | None = None,
    engine: str = OUR_ENGINE,
    genesis_hash: bytes | None = None,
) -> Verdict:
    """Every check that needs only public data; all proofs in one batch (`engine` and
    `genesis_hash`: the genesis's, whose chain the anchor must follow). The
    signatures are checked over the report's own chain id, by the set that signs last in
    the walk from `validators` (the genesis's, or `trust`'s checkpoint) through the
    anchor's set changes; `chain_id`, when the member knows its chain, must be that one.
    With `trust`, following the root to the chain is required (`check_root_on_chain`)."""
    verdict = Verdict()
    if chain_id is None:
        verdict.not_checked.append(f"chain id {report.chain_id} read from the report, not compared")
    elif chain_id != report.chain_id:
        verdict.failures.append(f"report is for chain {report.chain_id}, not chain {chain_id}")
    else:
        verdict.passed.append(f"report is for chain {chain_id}")
    root, history = check_root_on_chain(report, validators, trust, engine, genesis_hash)
    if validators is None:
        verdict.not_checked.append("signatures not checked: no validator set given")
    else:
        signers = get_powers(validators, engine) if history is None else history.latest
        failures = check_signatures(report, signers)
        verdict.failures.extend(failures)
        followed = "" if history is None or not history.changed_at else (
            f", by the validator set in force from block {history.changed_at[-1] + 1}"
        )  # fmt: skip
        if not failures:
            verdict.passed.append(
                f"quorum of {len(report.signatures)} validator signatures over chain "
                f"{report.chain_id}, epoch {report.epoch} and the report hash{followed}"
            )
    verdict.add(root)
    claims = [SolvencyClaim(report.get_context(e), e.commitments, e.proof) for e in report.accounts]
    batch = verify_solvency_batch(gens, report.statement, claims)
    all_points: list[list[P]] = []
    admitted: list[AccountEntry] = []
    for entry, decoded in zip(report.accounts, batch.decoded, strict=True):
        if isinstance(decoded, str):
            verdict.failures.append(f"{entry.describe()}: malformed: {decoded}")
            continue
        all_points.append(decoded)
        admitted.append(entry)
    if not batch.invalid:
        verdict.passed.append(f"solvency proofs of {len(admitted)} accounts (batch)")
    for index in batch.invalid:
        failing = report.accounts[index]
        verdict.failures.append(f"{failing.describe()}: solvency proof does not verify")
    verdict.failures.extend(check_in_default(report))
    verdict.passed.extend(describe_in_default(report))
    verdict.failures.extend(check_defaults(report.defaults))
    verdict.passed.extend(describe_defaults(report.defaults))
    if len(admitted) == len(report.accounts):
        in_clear = [d.inputs for d in report.in_default]
        failures = check_aggregates(gens, report.statement, all_points, report.aggregates, in_clear)
        verdict.failures.extend(failures)
        if not failures:
            verdict.passed.append(f"{len(report.aggregates)} aggregate totals (book flat)")
        for e in report.aggregates:
            if e.label.startswith(COLLATERAL_PREFIX):
                verdict.passed.append(f"total {e.label} = {e.total} quanta (compare with vault)")
    else:
        verdict.failures.append("aggregates not checked: some accounts are malformed")
    return verdict


def check_in_default(report: Report) -> list[str]:
    """An account is listed in the clear only if its published inputs fail the statement:
    a solvent member's figures are never published to spare proving them."""
    failures = []
    for entry in report.in_default:
        try:
            failing = is_in_default(report.statement, entry.inputs)
        except ProverError as exc:
            failures.append(f"{entry.describe()} in default: {exc}")
            continue
        if not failing:
            failures.append(f"{entry.describe()} is listed in default but meets the statement")
    return failures


def describe_in_default(report: Report) -> list[str]:
    """What a member reads: each account in default with its equity, and whether the
    clearing house is whole or by how much it is short."""
    lines = []
    for entry in report.in_default:
        try:
            equity = get_equity(report.statement, entry.inputs)
        except StatementError:
            continue
        lines.append(f"{entry.describe()} in default, listed in the clear: equity {equity}")
    house = next((d for d in report.in_default if d.key == HOUSE), None)
    if house is None:
        lines.append("the clearing house is whole: its account is proven or empty")
        return lines
    try:
        equity = get_equity(report.statement, house.inputs)
    except StatementError:
        return lines
    if equity < 0:
        lines.append(f"the clearing house is short by {-equity} (an uncovered deficit)")
    else:
        lines.append(f"the clearing house is whole (equity {equity}) but below its requirement")
    return lines


def check_defaults(records: tuple[DefaultRecord, ...]) -> list[str]:
    """Each default's layers add up to its deficit; one record per sub-account and block,
    sorted by (height, member, sub-account)."""
    failures = [] if is_in_default_order(records) else ["defaults are not strictly sorted"]
    for record in records:
        if not record.is_covered():
            failures.append(f"{describe_default(record)}: the layers add up to "
                            f"{sum(record.get_layers())}, not the deficit")  # fmt: skip
    return failures


def describe_defaults(records: tuple[DefaultRecord, ...]) -> list[str]:
    """What a member reads of the epoch's defaults, one line each."""
    if not records:
        return ["no sub-account defaulted this epoch"]
    return [describe_default(r) for r in records]


def describe_default(record: DefaultRecord) -> str:
    layers = ", ".join(
        f"{name} {amount}" for name, amount in zip(DEFAULT_LAYERS, record.get_layers(), strict=True)
    )
    return (f"member 0x{record.member.hex()} sub {record.sub_account} defaulted in block "
            f"{record.height} with deficit {record.deficit}: {layers}")  # fmt: skip


def _check_header(chain_id: int, epoch: int, height: int, state_root: bytes) -> None:
    if not 0 <= chain_id <= MAX_UINT64:
        raise ReportDecodeError(f"chain id {chain_id} does not fit in uint64")
    if not 0 <= epoch <= MAX_UINT64:
        raise ReportDecodeError(f"epoch {epoch} does not fit in uint64")
    if not 0 <= height <= MAX_UINT64:
        raise ReportDecodeError(f"height {height} does not fit in uint64")
    if len(state_root) != 32:
        raise ReportDecodeError(f"state root must be 32 bytes, got {len(state_root)}")


def _check_key(owner: bytes, sub: int) -> None:
    if len(owner) != 20:
        raise ReportDecodeError(f"owner must be a 20-byte address, got {len(owner)} bytes")
    if not 0 <= sub <= MAX_UINT64:
        raise ReportDecodeError(f"sub-account {sub} does not fit in uint64")


# What each refused version lacks, for the error a member reads.
REFUSED_VERSIONS = {
    1: "its signatures are not bound to the chain",
    2: "one insolvent account stopped it",
    3: "it does not publish the epoch's defaults",
    4: "it does not carry the marks its statement is computed from, so the statement "
    "cannot be recomputed",
    5: "it has no place for the anchor that ties its state root to the chain",
    6: "it does not carry the configuration its statement is computed from, so the "
    "statement cannot be recomputed once governance changed it",
    7: "it does not carry the clearing members and their clients, so it cannot show each "
    "clearing member's house and client accounts",
    8: "nothing ties its defaults and its accounts in default to the state root",
    9: "nothing shows it covers every account under the state root: it could leave out "
    "an insolvent account",
    10: "its market's height and block time are ones the state root no longer commits to",
}


class UnsupportedReportVersion(ReportDecodeError):
    """A report in a format this verifier does not read (REFUSED_VERSIONS says why)."""

    def __init__(self, version: object) -> None:
        reason = REFUSED_VERSIONS.get(version) if type(version) is int else None
        why = f": {reason}" if reason else ""
        super().__init__(f"report version {version!r} is not supported{why} (this reads "
                         f"version {REPORT_VERSION})")  # fmt: skip
        self.version = version


def _expect(cond: bool, what: str) -> None:
    if not cond:
        raise ReportDecodeError(what)


def _decode_in_default(obj: object, width: int) -> tuple[DefaultEntry, ...]:
    _expect(isinstance(obj, list), "accounts in default must be a list")
    assert isinstance(obj, list)
    entries = []
    for i, d in enumerate(obj):
        _expect(isinstance(d, list) and len(d) == 3, f"default #{i} must be [owner, sub, inputs]")
        owner, sub, inputs = d
        _expect(isinstance(owner, bytes) and type(sub) is int, f"default #{i}: bad owner/sub")
        _check_key(owner, sub)
        _expect(
            isinstance(inputs, list) and len(inputs) == width
            and all(type(x) is int for x in inputs),
            f"default #{i}: {width} integer inputs",
        )  # fmt: skip
        entries.append(DefaultEntry(owner, sub, tuple(inputs)))
    return tuple(entries)


def _decode_defaults(obj: object) -> tuple[DefaultRecord, ...]:
    """Well-formed records; their order and coverage are the verifier's checks
    (`check_defaults`), which say which record fails."""
    _expect(isinstance(obj, list), "defaults must be a list")
    assert isinstance(obj, list)
    records = []
    for i, fields in enumerate(obj):
        try:
            records.append(DefaultRecord.from_fields(fields))
        except DecodeError as exc:
            raise ReportDecodeError(f"default #{i}: {exc}") from None
    return tuple(records)


def _decode_default_accounts(obj: object) -> tuple[DefaultAccount, ...]:
    """Well-formed records sorted by owner; whether each is under the root and gives the
    published inputs is the verifier's check (proofs/disclosed.py)."""
    _expect(isinstance(obj, list), "accounts of owners in default must be a list")
    assert isinstance(obj, list)
    found = []
    for i, a in enumerate(obj):
        what = f"account of owner in default #{i}"
        _expect(isinstance(a, list) and len(a) == 3, f"{what} must be [owner, account, steps]")
        owner, account, steps = a
        _expect(isinstance(owner, bytes) and len(owner) == 20, f"{what}: owner 20 bytes")
        _expect(isinstance(account, bytes), f"{what}: account must be bytes")
        _expect(isinstance(steps, list) and len(steps) <= MAX_PROOF_STEPS,
                f"{what}: at most {MAX_PROOF_STEPS} steps")  # fmt: skip
        parsed = []
        for step in steps:
            _expect(isinstance(step, list) and len(step) == 2, f"{what}: step [left, sibling]")
            left, sibling = step
            _expect(isinstance(left, bool) and isinstance(sibling, bytes) and len(sibling) == 32,
                    f"{what}: step [bool, 32 bytes]")  # fmt: skip
            parsed.append((left, sibling))
        found.append(DefaultAccount(owner, account, tuple(parsed)))
    owners = [a.owner for a in found]
    _expect(owners == sorted(set(owners)), "accounts of owners in default must be sorted, unique")
    return tuple(found)


def _decode_anchor(obj: object) -> StateAnchor | None:
    if obj is None:
        return None
    try:
        return StateAnchor.from_wire(obj)
    except (AnchorError, DecodeError) as exc:
        raise ReportDecodeError(f"anchor: {exc}") from None


def decode_report(data: bytes) -> Report:
    """The report from its encoding; ReportDecodeError names the first bad field."""
    # Not records.codec.unpack: a report is its own document (FORMAT.md), read alike by the
    # browser verifier, whose decoder takes a map or an extension as a value and lets the
    # field check that meets it refuse it; this one must fail with the same words.
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise ReportDecodeError(f"report is not msgpack: {exc}") from exc
    _expect(isinstance(obj, list) and len(obj) >= 1, "report must be a list of fields")
    if obj[0] != REPORT_VERSION:
        raise UnsupportedReportVersion(obj[0])
    _expect(len(obj) == 15, "report must be a list of 15 fields")
    version, chain_id, epoch, state_root, statement_obj, accounts_obj, aggregates_obj = obj[:7]
    default_obj, defaults_obj, market_obj, market_proof_obj, records_obj, height = obj[7:13]
    sigs, anchor_obj = obj[13:]
    _expect(
        type(chain_id) is int and type(epoch) is int and type(height) is int
        and isinstance(state_root, bytes),
        "bad chain id, epoch, height or state root",
    )  # fmt: skip
    _check_header(chain_id, epoch, height, state_root)
    statement = decode_statement(statement_obj)
    width = len(statement.input_labels) * POINT_BYTES
    _expect(isinstance(accounts_obj, list), "accounts must be a list")
    accounts = []
    for i, a in enumerate(accounts_obj):
        _expect(isinstance(a, list) and len(a) == 4, f"account #{i} must be a list of 4 fields")
        owner, sub, blob, proof = a
        _expect(isinstance(owner, bytes) and type(sub) is int, f"account #{i}: bad owner/sub")
        _check_key(owner, sub)
        _expect(isinstance(blob, bytes) and len(blob) == width, f"account #{i}: commitments")
        _expect(isinstance(proof, bytes), f"account #{i}: proof must be bytes")
        parts = tuple(blob[k : k + POINT_BYTES] for k in range(0, width, POINT_BYTES))
        accounts.append(AccountEntry(owner, sub, parts, proof))
    keys = [a.key for a in accounts]
    _expect(keys == sorted(set(keys)), "accounts must be sorted by (owner, sub) and unique")
    _expect(isinstance(aggregates_obj, list), "aggregates must be a list")
    aggregates = []
    for i, e in enumerate(aggregates_obj):
        _expect(isinstance(e, list) and len(e) == 3, f"aggregate #{i} must be a list of 3")
        label, total, blinding = e
        _expect(isinstance(label, str) and type(total) is int, f"aggregate #{i}: bad fields")
        _expect(MIN_INT64 <= total <= MAX_UINT64, f"aggregate #{i}: total out of range")
        _expect(isinstance(blinding, bytes), f"aggregate #{i}: blinding sum must be bytes")
        aggregates.append(AggregateEntry(label, total, decode_scalar(blinding)))
    in_default = _decode_in_default(default_obj, len(statement.input_labels))
    clear_keys = [d.key for d in in_default]
    _expect(clear_keys == sorted(set(clear_keys)), "accounts in default must be sorted, unique")
    _expect(not set(clear_keys) & set(keys), "an account is both proven and in default")
    defaults = _decode_defaults(defaults_obj)
    try:
        market = SolvencyMarket.from_fields(market_obj)
        market_proof = MarketProof.from_fields(market_proof_obj)
    except DecodeError as exc:
        raise ReportDecodeError(f"market: {exc}") from None
    default_accounts = _decode_default_accounts(records_obj)
    _expect(isinstance(sigs, list), "signatures must be a list")
    signatures = []
    for i, s in enumerate(sigs):
        _expect(isinstance(s, list) and len(s) == 2, f"signature #{i} must be [key, sig]")
        key, sig = s
        _expect(isinstance(key, bytes) and len(key) == 32, f"signature #{i}: key 32 bytes")
        _expect(isinstance(sig, bytes) and len(sig) == 64, f"signature #{i}: sig 64 bytes")
        signatures.append(ValidatorSignature(key, sig))
    report = Report(
        version, chain_id, epoch, height, state_root, statement, market, market_proof,
        tuple(accounts),
        tuple(aggregates), in_default, defaults, default_accounts, tuple(signatures),
        _decode_anchor(anchor_obj),
    )  # fmt: skip
    _expect(report.encode() == bytes(data), "report encoding is not canonical")
    return report

"""The checks of a solvency report that need only public data: its quorum of
signatures, its state root followed to the chain, its statement and proofs, its
accounts in default; each adds its sentences to a `Verdict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from clearing.default.house import HOUSE
from clearing.risk.solvency import COLLATERAL_PREFIX
from clearing.state import DEFAULT_LAYERS, DefaultRecord, is_in_default_order
from lightclient.anchor import (
    ENGINE_RECORDS,
    OUR_ENGINE,
    AnchorError,
    CheckpointAfterAnchor,
    CheckpointMismatch,
    SetChangeError,
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
from proofs.aggregate import check_aggregates
from proofs.errors import ProverError, StatementError
from proofs.group import P
from proofs.pedersen import Generators
from proofs.report import AccountEntry, Report, VotingPower, get_equity, is_in_default
from proofs.statement import (
    SolvencyClaim,
    verify_solvency_batch,
)


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

"""The generic solvency statement: committed inputs, public offsets, public rows.

An account commits to its inputs x_j (cash, collateral quanta, positions: every
label, zeros included) as C_j = x_j·G + r_j·H. The public statement gives an
offset per input and one integer row A_s per scenario. The verifier itself
derives
    input range commitments   C_j + offset_j·G      (opens to x_j + offset_j)
    scenario commitments      Σ_j A_{s,j}·C_j         (opens to row_s · x)
and checks ONE aggregated range proof that all J + S values lie in [0, 2^64).
Because every input is bounded (|x_j| < 2^64) and the rows are small public
integers, Σ_j A_{s,j}·x_j cannot wrap around the group order (|A|·J·2^64 ≪ R is
enforced below), so a proof that it lies in [0, 2^64) is a proof that the
integer is non-negative: for every s, k_den·equity − k_num·L_s >= 0.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol

from clearing.risk.solvency import COLLATERAL_PREFIX
from proofs.bulletproofs import (
    N_BITS,
    RangeProof,
    add_range_check,
    compute_padded_count,
    decode_proof_points,
    prove_range,
)
from proofs.errors import ProverError, ReportDecodeError, StatementError
from proofs.group import P, R
from proofs.msm import MsmCheck
from proofs.pedersen import Generators
from proofs.transcript import Transcript
from records.codec import pack

STATEMENT_DOMAIN = b"clearnode-solvency-statement-v1"
SIGNED_OFFSET = 1 << 63
# |Σ_j A_{s,j}·x_j| < 2^MAX_SCENARIO_BITS ≪ R/2: a scenario value cannot wrap mod R.
MAX_SCENARIO_BITS = 200


class LinearForm(Protocol):
    """What clearing.risk.solvency.SolvencyForm provides (any object of this shape)."""

    @property
    def input_labels(self) -> tuple[str, ...]: ...

    @property
    def rows(self) -> tuple[tuple[int, ...], ...]: ...


def get_default_offset(label: str) -> int:
    """Collateral quanta are non-negative; cash and positions are signed."""
    return 0 if label.startswith(COLLATERAL_PREFIX) else SIGNED_OFFSET


@dataclass(frozen=True)
class SolvencyStatement:
    """The public part of the statement, the same for every account of an epoch."""

    input_labels: tuple[str, ...]
    offsets: tuple[int, ...]
    rows: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        count = len(self.input_labels)
        if count == 0 or len(set(self.input_labels)) != count:
            raise StatementError(f"labels must be non-empty and unique: {self.input_labels}")
        if len(self.offsets) != count:
            raise StatementError(f"{len(self.offsets)} offsets for {count} inputs")
        if not all(0 <= o < 1 << N_BITS for o in self.offsets):
            raise StatementError(f"offsets must lie in [0, 2^64): {self.offsets}")
        for s, row in enumerate(self.rows):
            if len(row) != count:
                raise StatementError(f"row {s} has {len(row)} entries for {count} inputs")
            worst = max((abs(c) for c in row), default=0)
            if worst.bit_length() + count.bit_length() + N_BITS > MAX_SCENARIO_BITS:
                raise StatementError(f"row {s} coefficient {worst} could wrap mod the group order")

    @property
    def value_count(self) -> int:
        return len(self.input_labels) + len(self.rows)

    @property
    def padded_count(self) -> int:
        return compute_padded_count(self.value_count)

    def to_list(self) -> list[Any]:
        """[labels, offsets, rows]: the msgpack form (see FORMAT.md)."""
        return [list(self.input_labels), list(self.offsets), [list(r) for r in self.rows]]

    def digest(self) -> bytes:
        return self._digest

    @functools.cached_property
    def _digest(self) -> bytes:
        body = pack(self.to_list())
        return hashlib.sha3_256(STATEMENT_DOMAIN + body).digest()

    @functools.cached_property
    def columns(self) -> tuple[tuple[int, ...], ...]:
        """columns[j][s] = rows[s][j]: input j's coefficient in every scenario."""
        return tuple(tuple(row[j] for row in self.rows) for j in range(len(self.input_labels)))

    def compute_values(self, inputs: Sequence[int]) -> list[int]:
        """Inputs shifted by their offsets, then the scenario values (integers)."""
        self._check_width(inputs)
        shifted = [x + o for x, o in zip(inputs, self.offsets, strict=True)]
        return shifted + [sum(a * x for a, x in zip(row, inputs, strict=True)) for row in self.rows]

    def compute_blindings(self, blindings: Sequence[int]) -> list[int]:
        self._check_width(blindings)
        scenario = [
            sum(a * r for a, r in zip(row, blindings, strict=True)) % R for row in self.rows
        ]
        return [r % R for r in blindings] + scenario

    def describe_value(self, index: int) -> str:
        count = len(self.input_labels)
        if index < count:
            return f"input {self.input_labels[index]!r} + offset {self.offsets[index]}"
        return f"scenario {index - count}"

    def _check_width(self, vector: Sequence[int]) -> None:
        if len(vector) != len(self.input_labels):
            raise StatementError(f"{len(vector)} inputs for {len(self.input_labels)} labels")


def get_statement(form: LinearForm) -> SolvencyStatement:
    """The statement of a clearing solvency form, with default offsets from the labels."""
    labels = tuple(form.input_labels)
    return SolvencyStatement(labels, tuple(get_default_offset(x) for x in labels), tuple(form.rows))


def decode_statement(obj: object) -> SolvencyStatement:
    """From the msgpack list [labels, offsets, rows]; ReportDecodeError on any bad field."""
    if not isinstance(obj, list) or len(obj) != 3:
        raise ReportDecodeError("statement must be a list [labels, offsets, rows]")
    labels, offsets, rows = obj
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ReportDecodeError("statement labels must be a list of strings")
    if not isinstance(offsets, list) or not all(type(x) is int for x in offsets):
        raise ReportDecodeError("statement offsets must be a list of ints")
    if not isinstance(rows, list) or not all(
        isinstance(r, list) and all(type(c) is int for c in r) for r in rows
    ):
        raise ReportDecodeError("statement rows must be a list of lists of ints")
    try:
        return SolvencyStatement(tuple(labels), tuple(offsets), tuple(tuple(r) for r in rows))
    except StatementError as exc:
        raise ReportDecodeError(f"invalid statement: {exc}") from exc


def start_transcript(
    statement: SolvencyStatement, context: bytes, commitments: Sequence[bytes]
) -> Transcript:
    """The transcript an account's range proof continues: context, statement, inputs."""
    transcript = Transcript(b"clearnode-solvency-v1")
    transcript.append(b"context", context)
    transcript.append(b"statement", statement.digest())
    transcript.append(b"commitments", b"".join(commitments))
    return transcript


def check_provable(statement: SolvencyStatement, inputs: Sequence[int]) -> list[int]:
    """The range values of these inputs; ProverError names the first out of range."""
    values = statement.compute_values(inputs)
    for index, v in enumerate(values):
        if not 0 <= v < 1 << N_BITS:
            raise ProverError(statement.describe_value(index), index=index, value=v)
    return values


def prove_solvency(
    gens: Generators[P],
    statement: SolvencyStatement,
    context: bytes,
    inputs: Sequence[int],
    blindings: Sequence[int],
) -> tuple[tuple[bytes, ...], RangeProof]:
    """Commitments to the inputs and the proof; deterministic given the blindings.

    Raises ProverError naming the input or scenario that is out of range
    (an insolvent account, or an input beyond its signed 64-bit range)."""
    values = check_provable(statement, inputs)
    group = gens.group
    commitments = tuple(
        group.encode(gens.commit(x, r)) for x, r in zip(inputs, blindings, strict=True)
    )
    transcript = start_transcript(statement, context, commitments)
    proof = prove_range(gens, transcript, values, statement.compute_blindings(blindings))
    return commitments, proof


def add_solvency_check(
    check: MsmCheck[P],
    statement: SolvencyStatement,
    context: bytes,
    commitment_bytes: Sequence[bytes],
    commitments: Sequence[P],
    proof: bytes,
) -> None:
    """Add one account's statement to `check` (raises ReportDecodeError on malformed data)."""
    count = len(statement.input_labels)
    if len(commitments) != count or len(commitment_bytes) != count:
        raise ReportDecodeError(f"{len(commitments)} commitments for {count} inputs")
    m = statement.padded_count
    decoded = decode_proof_points(check.gens, RangeProof.decode(proof, m))
    transcript = start_transcript(statement, context, commitment_bytes)
    v = add_range_check(check, transcript, decoded, m)
    # V_j = C_j + offset_j·G for inputs, V_{J+s} = Σ_j A_{s,j}·C_j for scenarios.
    scenario_v = v[count:]
    coeffs = [
        vj + sum(map(operator.mul, column, scenario_v))
        for vj, column in zip(v[:count], statement.columns, strict=True)
    ]
    check.G += sum(vj * o for vj, o in zip(v[:count], statement.offsets, strict=True))
    check.add_points(commitments, coeffs)


@dataclass(frozen=True)
class SolvencyClaim:
    """One account's published proof: what it is bound to, its commitments, the proof."""

    context: bytes
    commitments: tuple[bytes, ...]
    proof: bytes


@dataclass(frozen=True)
class BatchVerdict(Generic[P]):
    """Per claim its decoded commitments, or why it is malformed (a ReportDecodeError's words);
    `invalid`: the indices of the well-formed claims whose proofs fail."""

    decoded: list[list[P] | str]
    invalid: list[int]


def verify_solvency_batch(
    gens: Generators[P], statement: SolvencyStatement, claims: Sequence[SolvencyClaim]
) -> BatchVerdict[P]:
    """Every claim's statement checked as ONE multi-scalar multiplication; a failed batch
    is bisected to name the failing claims (about two batches' work per bad claim)."""
    group = gens.group
    if group.proves:
        native_claims = [
            (start_transcript(statement, c.context, c.commitments).state,
             b"".join(c.commitments), c.proof)
            for c in claims
        ]  # fmt: skip
        decoded, invalid = group.verify_batch(
            N_BITS, statement.offsets, statement.rows, native_claims
        )
        return BatchVerdict(decoded, invalid)
    verdict: BatchVerdict[P] = BatchVerdict([], [])
    admitted: list[tuple[int, list[P]]] = []
    check = MsmCheck(gens, N_BITS)
    for index, claim in enumerate(claims):
        try:
            points = [group.decode_point(c) for c in claim.commitments]
            add_solvency_check(
                check, statement, claim.context, claim.commitments, points, claim.proof
            )
        except ReportDecodeError as exc:
            verdict.decoded.append(str(exc))
            continue
        verdict.decoded.append(points)
        admitted.append((index, points))
    if not check.is_identity():
        verdict.invalid.extend(_find_invalid(gens, statement, claims, admitted))
    return verdict


def _find_invalid(
    gens: Generators[P],
    statement: SolvencyStatement,
    claims: Sequence[SolvencyClaim],
    failing: list[tuple[int, list[P]]],
) -> list[int]:
    """The indices of the failing claims among `failing` (well-formed claims whose check
    failed together), by bisection: only the halves are checked again, and the second
    not at all when the first holds (the failure is then in it: the last of five accounts
    found damaged in four checks with the batch's, not seven)."""
    if len(failing) == 1:
        return [failing[0][0]]
    half = len(failing) // 2
    first, second = failing[:half], failing[half:]
    if _check_claims(gens, statement, claims, first):
        return _find_invalid(gens, statement, claims, second)
    invalid = _find_invalid(gens, statement, claims, first)
    if not _check_claims(gens, statement, claims, second):
        invalid += _find_invalid(gens, statement, claims, second)
    return invalid


def _check_claims(
    gens: Generators[P],
    statement: SolvencyStatement,
    claims: Sequence[SolvencyClaim],
    items: list[tuple[int, list[P]]],
) -> bool:
    """Whether the well-formed claims `items` hold together (one msm)."""
    check = MsmCheck(gens, N_BITS)
    for index, points in items:
        claim = claims[index]
        add_solvency_check(check, statement, claim.context, claim.commitments, points, claim.proof)
    return check.is_identity()


def verify_solvency(
    gens: Generators[P],
    statement: SolvencyStatement,
    context: bytes,
    commitment_bytes: Sequence[bytes],
    proof: bytes,
) -> bool:
    """One account's statement on its own (reports use batch verification)."""
    claim = SolvencyClaim(context, tuple(commitment_bytes), proof)
    verdict = verify_solvency_batch(gens, statement, [claim])
    return not isinstance(verdict.decoded[0], str) and not verdict.invalid

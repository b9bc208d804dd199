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
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import msgpack

from clearing.report_commitment import compute_report_signing_bytes
from clearing.risk.solvency import SolvencyMarket
from clearing.state import DefaultRecord
from clearing.transition.reported_accounts import AccountKey
from clearing.transition.root import MarketProof
from lightclient.anchor import (
    AnchorError,
    StateAnchor,
)
from proofs.aggregate import AggregateEntry
from proofs.bulletproofs import N_BITS
from proofs.errors import ProverError, ReportDecodeError, StatementError
from proofs.group import POINT_BYTES, decode_scalar, encode_scalar
from proofs.statement import (
    SolvencyStatement,
    decode_statement,
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
MAX_UINT64 = (1 << 64) - 1
MIN_INT64 = -(1 << 63)  # a published total may be negative once accounts in default are apart


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
    (``clearing.transition.root.encode_account``) and its path to the accounts root the market
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


def check_report_header(chain_id: int, epoch: int, height: int, state_root: bytes) -> None:
    if not 0 <= chain_id <= MAX_UINT64:
        raise ReportDecodeError(f"chain id {chain_id} does not fit in uint64")
    if not 0 <= epoch <= MAX_UINT64:
        raise ReportDecodeError(f"epoch {epoch} does not fit in uint64")
    if not 0 <= height <= MAX_UINT64:
        raise ReportDecodeError(f"height {height} does not fit in uint64")
    if len(state_root) != 32:
        raise ReportDecodeError(f"state root must be 32 bytes, got {len(state_root)}")


def check_account_key(owner: bytes, sub: int) -> None:
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
        check_account_key(owner, sub)
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
    check_report_header(chain_id, epoch, height, state_root)
    statement = decode_statement(statement_obj)
    width = len(statement.input_labels) * POINT_BYTES
    _expect(isinstance(accounts_obj, list), "accounts must be a list")
    accounts = []
    for i, a in enumerate(accounts_obj):
        _expect(isinstance(a, list) and len(a) == 4, f"account #{i} must be a list of 4 fields")
        owner, sub, blob, proof = a
        _expect(isinstance(owner, bytes) and type(sub) is int, f"account #{i}: bad owner/sub")
        check_account_key(owner, sub)
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

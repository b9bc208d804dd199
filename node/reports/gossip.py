"""The `reports` gossip topic: validators' signature shares, proof shares and complete
reports.

Wire format: msgpack `[REPORTS_VERSION, kind, ...]`.
- kind 1, a share: `[2, 1, chain_id, epoch, report_hash, signer, signature]`, the
  signer's one signature of `compute_report_signing_bytes(chain_id, epoch,
  report_hash)`: it goes into the report (what `clearnode verify` checks) and,
  as an attestation, into the `ReportCommitment`. Checked against `signer`, a
  validator with power in the set in force, at the first hop.
- kind 2, a complete report: `[2, 2, report_bytes]` (proofs/FORMAT.md, with its
  signatures), decoded canonically at the first hop; a node keeps it only if its
  hash is the one committed in a block.
- kind 3, a proof share: `[2, 3, chain_id, epoch, statement_digest, signer,
  [[owner, sub, proof], ...], signature]`, proofs of accounts the signer proved
  for the epoch's report (node/reports/sharing.py), keys strictly sorted, at most
  MAX_SHARE_PROOFS per message (a validator's share travels in as many messages as
  it needs), each proof at most MAX_PROOF_BYTES; signed by `signer`, a validator,
  over `["clearnode", "proof-share", chain_id, [epoch, statement_digest,
  sha3_256(packed proofs)]]`. The signature proves only who sent it: every receiver
  verifies the proofs before using them.
A share by a key without power in this node's set in force (with a valid signature)
is ignored, not refused: its signer may be a validator in a block the forwarder or
this node has not committed yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Set
from dataclasses import dataclass
from typing import Annotated, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.attestation import Attestation, compute_signing_bytes, is_valid_signature
from clearing.report_commitment import REPORT_HASH_BYTES, compute_report_signing_bytes
from clearing.state import ClearingState
from clearing.transition.reported_accounts import AccountKey
from clearing.units import MAX_UINT64
from clearing.validator_set import get_voting_powers
from node.p2p import Topic
from proofs.report import Report, ValidatorSignature, decode_report
from records.codec import (
    MAX_MESSAGE_BYTES,
    DecodeError,
    expect_bytes,
    expect_int,
    expect_list,
    pack,
    unpack,
)
from records.declared import (
    Bytes,
    ChainId,
    Checked,
    Declared,
    EdSignature,
    Hash,
    Int,
    PublicKey,
    declare_record,
)

REPORTS = "reports"
REPORTS_VERSION = 2  # 1 carried two signatures per share
KIND_SHARE = 1
KIND_REPORT = 2
KIND_PROOFS = 3
PROOF_SHARE_DOMAIN = "proof-share"
MAX_SHARE_PROOFS = 512  # about 740 KB a message at m = 32; at most 2.1 MB, below the 8 MiB cap
MAX_PROOF_BYTES = 4096  # m = 32 values: 1,408 bytes, 96 more per doubling of m
MAX_REPORTS_BYTES = 16 * 1024 * 1024
MAX_ANNOUNCEMENT_BYTES = min(MAX_REPORTS_BYTES, MAX_MESSAGE_BYTES)
"""The biggest complete report announcement a receiver decodes (`unpack` caps any message
at 8 MiB); a bigger one would be refused at the first hop and its sender scored down."""


class ReportsMessageError(ValueError):
    """A `reports` message that is malformed or whose signatures do not verify."""


class ShareSignerWithoutPower(ReportsMessageError):
    """A validly signed share by a key without voting power in this node's set in force:
    governance may have added (or removed, or evidence jailed) it in a block the forwarder
    and this node have not both committed yet. Ignored, nobody's offence."""

    def __init__(self, signer: bytes, epoch: int) -> None:
        super().__init__(f"share of epoch {epoch} by 0x{signer.hex()}: no voting power in the "
                         f"validator set in force here")  # fmt: skip
        self.signer = signer
        self.epoch = epoch


Epoch = Annotated[int, Int(1)]


class Share(Declared):
    """A share on the wire: ``[REPORTS_VERSION, its kind, fields...]``."""

    __slots__ = ()


@declare_record(head=(REPORTS_VERSION, KIND_SHARE))
@dataclass(frozen=True)
class SignatureShare(Share):
    chain_id: ChainId
    epoch: Epoch
    report_hash: Annotated[bytes, Bytes(REPORT_HASH_BYTES)]
    signer: PublicKey
    signature: EdSignature

    def get_attestation(self) -> Attestation:
        return Attestation(self.signer, self.signature)

    def get_report_signature(self) -> ValidatorSignature:
        return ValidatorSignature(self.signer, self.signature)

    def is_valid(self) -> bool:
        """The signature verifies for `signer` over this chain, epoch and hash."""
        message = compute_report_signing_bytes(self.chain_id, self.epoch, self.report_hash)
        return is_valid_signature(self.signer, self.signature, message)


def sign_share(
    key: Ed25519PrivateKey, chain_id: int, epoch: int, report_hash: bytes
) -> SignatureShare:
    """This validator's signature of the report `report_hash` of `epoch` on `chain_id`."""
    return SignatureShare(
        chain_id,
        epoch,
        report_hash,
        key.public_key().public_bytes_raw(),
        key.sign(compute_report_signing_bytes(chain_id, epoch, report_hash)),
    )


def _proof_fields(proofs: tuple[tuple[AccountKey, bytes], ...]) -> list[list[object]]:
    return [[owner, sub, proof] for (owner, sub), proof in proofs]


def read_proofs(obj: object, what: str) -> tuple[tuple[AccountKey, bytes], ...]:
    """1 to MAX_SHARE_PROOFS ``[owner, sub, proof]``, accounts strictly sorted, each proof
    1 to MAX_PROOF_BYTES bytes."""
    items = expect_list(obj, what)
    if not 0 < len(items) <= MAX_SHARE_PROOFS:
        raise DecodeError(what, f"{len(items)} proofs, expected 1 to {MAX_SHARE_PROOFS}")
    proofs = []
    for item in items:
        owner, sub, proof = expect_list(item, "proof", 3)
        if type(proof) is not bytes or not 0 < len(proof) <= MAX_PROOF_BYTES:
            raise DecodeError("proof", f"expected 1 to {MAX_PROOF_BYTES} bytes")
        key = (expect_bytes(owner, "owner", 20), expect_int(sub, "sub-account", 0, MAX_UINT64))
        proofs.append((key, proof))
    keys = [key for key, _ in proofs]
    if keys != sorted(set(keys)):
        raise DecodeError(what, "accounts must be strictly sorted")
    return tuple(proofs)


@declare_record(head=(REPORTS_VERSION, KIND_PROOFS))
@dataclass(frozen=True)
class ProofShare(Share):
    """Proofs of some of the accounts `signer` proved for the report of `epoch`."""

    chain_id: ChainId
    epoch: Epoch
    statement_digest: Hash
    signer: PublicKey
    proofs: Annotated[tuple[tuple[AccountKey, bytes], ...], Checked(read_proofs, _proof_fields)]
    signature: EdSignature

    def is_valid(self) -> bool:
        message = compute_proof_share_signing_bytes(
            self.chain_id, self.epoch, self.statement_digest, self.proofs
        )
        return is_valid_signature(self.signer, self.signature, message)


def compute_proof_share_signing_bytes(
    chain_id: int,
    epoch: int,
    statement_digest: bytes,
    proofs: tuple[tuple[AccountKey, bytes], ...],
) -> bytes:
    digest = hashlib.sha3_256(pack(_proof_fields(proofs))).digest()
    return compute_signing_bytes(PROOF_SHARE_DOMAIN, chain_id, [epoch, statement_digest, digest])


def sign_proof_shares(
    key: Ed25519PrivateKey,
    chain_id: int,
    epoch: int,
    statement_digest: bytes,
    proofs: dict[AccountKey, bytes],
) -> list[ProofShare]:
    """This validator's proofs for the report of `epoch`, in messages of at most
    MAX_SHARE_PROOFS proofs each, keys sorted."""
    items = sorted(proofs.items())
    signer = key.public_key().public_bytes_raw()
    shares = []
    for start in range(0, len(items), MAX_SHARE_PROOFS):
        chunk = tuple(items[start : start + MAX_SHARE_PROOFS])
        message = compute_proof_share_signing_bytes(chain_id, epoch, statement_digest, chunk)
        shares.append(
            ProofShare(chain_id, epoch, statement_digest, signer, chunk, key.sign(message))
        )
    return shares


@dataclass(frozen=True)
class ReportAnnouncement:
    """A complete report as gossiped (its bytes are what the node stores and serves)."""

    report: Report
    encoded: bytes


def encode_report_announcement(encoded_report: bytes) -> bytes:
    return pack([REPORTS_VERSION, KIND_REPORT, encoded_report])


def decode_reports_message(
    data: bytes, chain_id: int, validators: Set[bytes]
) -> SignatureShare | ProofShare | ReportAnnouncement:
    """Decode and check at the first hop: a signature or proof share must be signed for
    `chain_id`, by one of `validators` (the keys with power in the set in force); raises
    ReportsMessageError (ShareSignerWithoutPower for a good signature by anyone else)."""
    try:
        fields = expect_list(unpack(data, "reports message"), "reports message")
        if len(fields) < 2 or fields[0] != REPORTS_VERSION:
            raise DecodeError("reports message", f"expected [{REPORTS_VERSION}, kind, ...]")
        kind = fields[1]
        if kind == KIND_SHARE:
            return _check_signed(SignatureShare.from_fields(fields), chain_id, validators)
        if kind == KIND_REPORT:
            _, _, encoded = expect_list(fields, "report announcement", 3)
            if not isinstance(encoded, bytes):
                raise DecodeError("report announcement", "the report must be bytes")
            return ReportAnnouncement(decode_report(encoded), encoded)
        if kind == KIND_PROOFS:
            return _check_signed(ProofShare.from_fields(fields), chain_id, validators)
        raise DecodeError("reports message", f"unknown kind {kind!r}")
    except DecodeError as exc:  # ReportDecodeError too
        raise ReportsMessageError(str(exc)) from None


AnyShare = TypeVar("AnyShare", SignatureShare, ProofShare)


def _check_signed(share: AnyShare, chain_id: int, validators: Set[bytes]) -> AnyShare:
    """The share, if signed for `chain_id` by one of `validators`."""
    if share.chain_id != chain_id:
        raise ReportsMessageError(f"share for chain {share.chain_id}, not chain {chain_id}")
    if not share.is_valid():
        raise ReportsMessageError(f"share of epoch {share.epoch}: the signature does not verify")
    if share.signer not in validators:
        raise ShareSignerWithoutPower(share.signer, share.epoch)
    return share


def make_reports_topic(chain_id: int, state: Callable[[], ClearingState]) -> Topic:
    """Shares checked against the keys with power in the committed state's set."""

    def decode(data: bytes) -> SignatureShare | ProofShare | ReportAnnouncement:
        return decode_reports_message(data, chain_id, get_voting_powers(state().validators).keys())

    return Topic(
        REPORTS, MAX_REPORTS_BYTES, decode, (ReportsMessageError,),
        ignores=(ShareSignerWithoutPower,),
    )  # fmt: skip

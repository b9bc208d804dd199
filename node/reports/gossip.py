"""The `reports` gossip topic: validators' signature shares and complete reports.

Wire format: msgpack `[REPORTS_VERSION, kind, ...]`.
- kind 1, a share: `[2, 1, chain_id, epoch, report_hash, signer, signature]`, the
  signer's one signature of `compute_report_signing_bytes(chain_id, epoch,
  report_hash)`: it goes into the report (what `clearnode verify` checks) and,
  as an attestation, into the `ReportCommitment`. Checked against `signer`, a
  genesis validator, at the first hop.
- kind 2, a complete report: `[2, 2, report_bytes]` (proofs/FORMAT.md, with its
  signatures), decoded canonically at the first hop; a node keeps it only if its
  hash is the one committed in a block.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.attestation import Attestation, is_valid_signature
from clearing.codec import MAX_MESSAGE_BYTES, expect_bytes, expect_int, expect_list, pack, unpack
from clearing.errors import DecodeError
from clearing.genesis import Genesis
from clearing.report_commitment import REPORT_HASH_BYTES, compute_report_signing_bytes
from node.p2p import Topic
from proofs.errors import DecodeError as ReportDecodeError
from proofs.report import Report, ValidatorSignature, decode_report

REPORTS = "reports"
REPORTS_VERSION = 2  # 1 carried two signatures per share
KIND_SHARE = 1
KIND_REPORT = 2
MAX_REPORTS_BYTES = 16 * 1024 * 1024
MAX_ANNOUNCEMENT_BYTES = min(MAX_REPORTS_BYTES, MAX_MESSAGE_BYTES)
"""The biggest complete report announcement a receiver decodes (`unpack` caps any message
at 8 MiB); a bigger one would be refused at the first hop and its sender scored down."""


class ReportsMessageError(ValueError):
    """A `reports` message that is malformed or whose signatures do not verify."""


@dataclass(frozen=True)
class SignatureShare:
    chain_id: int
    epoch: int
    report_hash: bytes
    signer: bytes
    signature: bytes

    def encode(self) -> bytes:
        return pack(
            [
                REPORTS_VERSION, KIND_SHARE, self.chain_id, self.epoch, self.report_hash,
                self.signer, self.signature,
            ]
        )  # fmt: skip

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


@dataclass(frozen=True)
class ReportAnnouncement:
    """A complete report as gossiped (its bytes are what the node stores and serves)."""

    report: Report
    encoded: bytes


def encode_report_announcement(encoded_report: bytes) -> bytes:
    return pack([REPORTS_VERSION, KIND_REPORT, encoded_report])


def decode_reports_message(
    data: bytes, chain_id: int, validators: Set[bytes]
) -> SignatureShare | ReportAnnouncement:
    """Decode and check at the first hop: a share must be signed by one of `validators`
    for `chain_id`; raises ReportsMessageError."""
    try:
        fields = expect_list(unpack(data, "reports message"), "reports message")
        if len(fields) < 2 or fields[0] != REPORTS_VERSION:
            raise DecodeError("reports message", f"expected [{REPORTS_VERSION}, kind, ...]")
        kind = fields[1]
        if kind == KIND_SHARE:
            return _decode_share(fields, chain_id, validators)
        if kind == KIND_REPORT:
            _, _, encoded = expect_list(fields, "report announcement", 3)
            if not isinstance(encoded, bytes):
                raise DecodeError("report announcement", "the report must be bytes")
            return ReportAnnouncement(decode_report(encoded), encoded)
        raise DecodeError("reports message", f"unknown kind {kind!r}")
    except (DecodeError, ReportDecodeError) as exc:
        raise ReportsMessageError(str(exc)) from None


def _decode_share(fields: list[object], chain_id: int, validators: Set[bytes]) -> SignatureShare:
    f = expect_list(fields, "signature share", 7)
    share = SignatureShare(
        expect_int(f[2], "chain_id", 1),
        expect_int(f[3], "epoch", 1),
        expect_bytes(f[4], "report_hash", REPORT_HASH_BYTES),
        expect_bytes(f[5], "signer", 32),
        expect_bytes(f[6], "signature", 64),
    )
    if share.chain_id != chain_id or share.signer not in validators:
        raise ReportsMessageError(
            f"share for chain {share.chain_id} by 0x{share.signer.hex()}: not a validator of "
            f"chain {chain_id}"
        )
    if not share.is_valid():
        raise ReportsMessageError(f"share of epoch {share.epoch}: the signature does not verify")
    return share


def make_reports_topic(genesis: Genesis) -> Topic:
    validators = frozenset(v.pubkey for v in genesis.validators)

    def decode(data: bytes) -> SignatureShare | ReportAnnouncement:
        return decode_reports_message(data, genesis.chain_id, validators)

    return Topic(REPORTS, MAX_REPORTS_BYTES, decode, (ReportsMessageError,))

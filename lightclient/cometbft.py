"""A state root followed to a CometBFT v0.38 chain, as CometBFT's light client checks it.

On a network whose genesis names CometBFT (node/cometbft/), block H+1's header commits
to the state root after block H as its `app_hash`, and H+1's commit carries the
precommits of the validators. This module is the verifier's side of that: CometBFT's
header hash, validator-set hash and precommit sign bytes, written from the v0.38
`.proto` files and Go code (types/block.go `Header.Hash`, types/validator_set.go `Hash`,
types/vote.go `VoteSignBytes`, types/validation.go `VerifyCommitLight`), with no
protobuf library: the few deterministic encodings they need are written out below, so
the light SDK that ships this module stays light.

The records carry the methods `lightclient/anchor.py`'s walk reads (a header's `hash`,
`height`, `chain_id`, `validators_hash`, `next_validators_hash`, `prev_state_root`; a
commit's `height`, `block_hash`, `verify`), so one walk follows either engine's chain;
`CometValidatorPowers` hashes a set as CometBFT does (in its order: voting power
descending, then address).

Protobuf as gogoproto writes it: a scalar field is left out when zero, a message field
declared non-nullable is always written (even empty), a nullable one when present.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import re
import struct
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from lightclient.commit import InvalidCommit, VotingPowers
from lightclient.crypto import HASH_BYTES, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, is_valid_signature
from lightclient.validators import ValidatorPowers
from records.codec import (
    MAX_CHAIN_ID_BYTES,
    MAX_INT64,
    MAX_VALIDATORS,
    MIN_INT64,
    DecodeError,
    expect_bytes,
    expect_int,
    expect_list,
    expect_text,
)

ADDRESS_BYTES = 20
PRECOMMIT = 2  # SignedMsgType, tendermint/types/types.proto
FLAG_ABSENT, FLAG_COMMIT, FLAG_NIL = 1, 2, 3  # BlockIDFlag

# --------------------------------------------------------------------------- protobuf


def encode_uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_key(number: int, wire_type: int) -> bytes:
    return encode_uvarint(number << 3 | wire_type)


def encode_int(number: int, value: int) -> bytes:
    """A varint field (int64, uint64, uint32, enum): a negative int64 as its 64-bit two's
    complement, as protobuf writes it."""
    return b"" if value == 0 else encode_key(number, 0) + encode_uvarint(value % 2**64)


def encode_sfixed64(number: int, value: int) -> bytes:
    return b"" if value == 0 else encode_key(number, 1) + struct.pack("<q", value)


def encode_bytes(number: int, value: bytes) -> bytes:
    return b"" if not value else encode_key(number, 2) + encode_uvarint(len(value)) + value


def encode_message(number: int, body: bytes) -> bytes:
    """An embedded message that is present (non-nullable, or a set pointer): written even
    when its body is empty."""
    return encode_key(number, 2) + encode_uvarint(len(body)) + body


# --------------------------------------------------------------------------- merkle


def compute_merkle_root(items: list[bytes]) -> bytes:
    """CometBFT's `merkle.HashFromByteSlices` (RFC 6962: leaves prefixed 0, inner nodes 1;
    the left subtree holds the largest power of two below the count)."""
    if not items:
        return hashlib.sha256(b"").digest()
    if len(items) == 1:
        return hashlib.sha256(b"\x00" + items[0]).digest()
    split = 1 << (len(items) - 1).bit_length() - 1
    left, right = compute_merkle_root(items[:split]), compute_merkle_root(items[split:])
    return hashlib.sha256(b"\x01" + left + right).digest()


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class Timestamp:
    """google.protobuf.Timestamp: seconds since the Unix epoch and nanoseconds (no float)."""

    seconds: int
    nanos: int

    def encode(self) -> bytes:
        return encode_int(1, self.seconds) + encode_int(2, self.nanos)

    @property
    def time_ms(self) -> int:
        return self.seconds * 1000 + self.nanos // 1_000_000

    def to_wire(self) -> list[int]:
        return [self.seconds, self.nanos]

    @staticmethod
    def from_wire(obj: Any, field: str) -> Timestamp:
        seconds, nanos = expect_list(obj, field, 2)
        return Timestamp(
            expect_int(seconds, f"{field}.seconds", MIN_INT64, MAX_INT64),
            expect_int(nanos, f"{field}.nanos", 0, 999_999_999),
        )


@dataclass(frozen=True)
class BlockId:
    hash: bytes
    parts_total: int
    parts_hash: bytes

    def encode(self) -> bytes:
        """BlockID (types.proto): its part set header is non-nullable."""
        parts = encode_int(1, self.parts_total) + encode_bytes(2, self.parts_hash)
        return encode_bytes(1, self.hash) + encode_message(2, parts)

    def to_wire(self) -> list[Any]:
        return [self.hash, self.parts_total, self.parts_hash]

    @staticmethod
    def from_wire(obj: Any, field: str) -> BlockId:
        hash_, total, parts_hash = expect_list(obj, field, 3)
        return BlockId(
            expect_bytes(hash_, f"{field}.hash", max_len=HASH_BYTES),
            expect_int(total, f"{field}.parts_total", 0, 2**32 - 1),
            expect_bytes(parts_hash, f"{field}.parts_hash", max_len=HASH_BYTES),
        )


HEADER_HASHES = (
    "last_commit_hash", "data_hash", "validators_hash", "next_validators_hash",
    "consensus_hash", "app_hash", "last_results_hash", "evidence_hash", "proposer_address",
)  # fmt: skip
"""The header's byte fields, in the order its hash takes them."""


@dataclass(frozen=True)
class CometHeader:
    version_block: int
    version_app: int
    chain_id: str
    height: int
    time: Timestamp
    last_block_id: BlockId
    last_commit_hash: bytes
    data_hash: bytes
    validators_hash: bytes
    next_validators_hash: bytes
    consensus_hash: bytes
    app_hash: bytes
    last_results_hash: bytes
    evidence_hash: bytes
    proposer_address: bytes

    @property
    def prev_state_root(self) -> bytes:
        """The state root after the block before: what block H+1's header commits to."""
        return self.app_hash

    @property
    def prev_block_hash(self) -> bytes:
        return self.last_block_id.hash

    @property
    def time_ms(self) -> int:
        return self.time.time_ms

    @cached_property
    def hash(self) -> bytes:
        """`Header.Hash`: the Merkle root of its fields, each protobuf-encoded, the scalar
        and byte ones wrapped as a google.protobuf value message (`cdcEncode`)."""
        version = encode_int(1, self.version_block) + encode_int(2, self.version_app)
        fields = [
            version,
            encode_bytes(1, self.chain_id.encode()),
            encode_int(1, self.height),
            self.time.encode(),
            self.last_block_id.encode(),
            *(encode_bytes(1, getattr(self, name)) for name in HEADER_HASHES),
        ]
        return compute_merkle_root(fields)

    def to_wire(self) -> list[Any]:
        return [
            self.version_block, self.version_app, self.chain_id, self.height,
            self.time.to_wire(), self.last_block_id.to_wire(),
            *(getattr(self, name) for name in HEADER_HASHES),
        ]  # fmt: skip

    @staticmethod
    def from_wire(obj: Any) -> CometHeader:
        items = expect_list(obj, "cometbft header", 6 + len(HEADER_HASHES))
        hashes = [
            expect_bytes(value, f"header.{name}", max_len=HASH_BYTES)
            for name, value in zip(HEADER_HASHES, items[6:], strict=True)
        ]
        return CometHeader(
            expect_int(items[0], "header.version_block", 0, MAX_INT64),
            expect_int(items[1], "header.version_app", 0, MAX_INT64),
            expect_text(items[2], "header.chain_id", MAX_CHAIN_ID_BYTES),
            expect_int(items[3], "header.height", 1, MAX_INT64),
            Timestamp.from_wire(items[4], "header.time"),
            BlockId.from_wire(items[5], "header.last_block_id"),
            *hashes,
        )


@dataclass(frozen=True)
class CommitSignature:
    flag: int
    validator_address: bytes
    timestamp: Timestamp
    signature: bytes

    def to_wire(self) -> list[Any]:
        return [self.flag, self.validator_address, self.timestamp.to_wire(), self.signature]

    @staticmethod
    def from_wire(obj: Any) -> CommitSignature:
        flag, address, timestamp, signature = expect_list(obj, "commit signature", 4)
        return CommitSignature(
            expect_int(flag, "signature.flag", FLAG_ABSENT, FLAG_NIL),
            expect_bytes(address, "signature.validator_address", max_len=ADDRESS_BYTES),
            Timestamp.from_wire(timestamp, "signature.timestamp"),
            expect_bytes(signature, "signature.signature", max_len=SIGNATURE_BYTES),
        )


@dataclass(frozen=True)
class CometCommit:
    height: int
    round: int
    block_id: BlockId
    signatures: tuple[CommitSignature, ...]

    @property
    def block_hash(self) -> bytes:
        return self.block_id.hash

    def get_vote_sign_bytes(self, chain_id: str, index: int) -> bytes:
        """`VoteSignBytes` of signature `index`'s precommit: CanonicalVote
        (canonical.proto), varint length-prefixed."""
        block_id = self.block_id
        parts = encode_int(1, block_id.parts_total) + encode_bytes(2, block_id.parts_hash)
        canonical_id = encode_bytes(1, block_id.hash) + encode_message(2, parts)
        vote = (
            encode_int(1, PRECOMMIT)
            + encode_sfixed64(2, self.height)
            + encode_sfixed64(3, self.round)
            + encode_message(4, canonical_id)
            + encode_message(5, self.signatures[index].timestamp.encode())
            + encode_bytes(6, chain_id.encode())
        )
        return encode_uvarint(len(vote)) + vote

    def get_signers(self, validators: VotingPowers) -> list[bytes]:
        """The keys, in the set's order, whose slots hold a precommit for this block."""
        if not isinstance(validators, CometValidatorPowers):
            return []
        pairs = zip(self.signatures, validators.ordered, strict=False)
        return [key for sig, (key, _) in pairs if sig.flag == FLAG_COMMIT]

    def verify(self, chain_id: str, validators: VotingPowers) -> None:
        """`VerifyCommitLight`: one signature slot per validator of the set, in its order;
        the precommits for this block (flag Commit) must be by the slot's validator, valid,
        and together more than 2/3 of the set's power. InvalidCommit otherwise."""
        if not isinstance(validators, CometValidatorPowers):
            raise InvalidCommit("not a CometBFT validator set", self.height)
        ordered = validators.ordered
        if len(self.signatures) != len(ordered):
            raise InvalidCommit(f"{len(self.signatures)} signature slots for a set of "
                                f"{len(ordered)}", self.height)  # fmt: skip
        power = 0
        for index, (sig, (key, key_power)) in enumerate(zip(self.signatures, ordered, strict=True)):
            if sig.flag != FLAG_COMMIT:
                continue
            if sig.validator_address != get_address(key):
                raise InvalidCommit(f"signature {index} is not by the set's validator {index}",
                                    self.height)  # fmt: skip
            message = self.get_vote_sign_bytes(chain_id, index)
            if not is_valid_signature(key, message, sig.signature):
                raise InvalidCommit(f"bad precommit signature {index}", self.height)
            power += key_power
        if not validators.is_quorum(power):
            raise InvalidCommit("no quorum", self.height, power, validators.total_power)

    def to_wire(self) -> list[Any]:
        return [self.height, self.round, self.block_id.to_wire(),
                [s.to_wire() for s in self.signatures]]  # fmt: skip

    @staticmethod
    def from_wire(obj: Any) -> CometCommit:
        height, round_, block_id, signatures = expect_list(obj, "cometbft commit", 4)
        return CometCommit(
            expect_int(height, "commit.height", 1, MAX_INT64),
            expect_int(round_, "commit.round", 0, 2**31 - 1),
            BlockId.from_wire(block_id, "commit.block_id"),
            tuple(CommitSignature.from_wire(s) for s in expect_list(
                signatures, "commit.signatures", max_len=MAX_VALIDATORS)),
        )  # fmt: skip


def get_address(public_key: bytes) -> bytes:
    """CometBFT's address of an Ed25519 key: the first 20 bytes of its SHA-256."""
    return hashlib.sha256(public_key).digest()[:ADDRESS_BYTES]


class CometValidatorPowers(ValidatorPowers):
    """A validator set as CometBFT orders and hashes it."""

    @cached_property
    def ordered(self) -> tuple[tuple[bytes, int], ...]:
        """CometBFT's order (ValidatorsByVotingPower): power descending, then address."""
        return tuple(sorted(self.powers, key=lambda kp: (-kp[1], get_address(kp[0]))))

    @cached_property
    def hash(self) -> bytes:
        """`ValidatorSet.Hash`: the Merkle root of each SimpleValidator (its PublicKey
        message with the Ed25519 key, and its voting power), in CometBFT's order."""
        return compute_merkle_root([
            encode_message(1, encode_bytes(1, key)) + encode_int(2, power)
            for key, power in self.ordered
        ])  # fmt: skip

    @staticmethod
    def from_wire(obj: Any) -> CometValidatorPowers:
        return CometValidatorPowers(ValidatorPowers.from_wire(obj).powers)


# --------------------------------------------------------------------------- CometBFT's RPC

RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def parse_time(text: str) -> Timestamp:
    """An RFC 3339 time in UTC as CometBFT's JSON writes it (nanoseconds, no float)."""
    match = RFC3339.fullmatch(text)
    if match is None:
        raise DecodeError("time", f"not an RFC 3339 UTC time: {text!r}")
    *parts, fraction = match.groups()
    seconds = calendar.timegm((*(int(p) for p in parts), 0, 0, 0))
    return Timestamp(seconds, int((fraction or "").ljust(9, "0")))


def parse_hex(text: str | None) -> bytes:
    return bytes.fromhex(text or "")


def parse_block_id(doc: dict[str, Any]) -> BlockId:
    parts = doc["parts"]
    return BlockId(parse_hex(doc["hash"]), int(parts["total"]), parse_hex(parts["hash"]))


def parse_header(doc: dict[str, Any]) -> CometHeader:
    """A header as CometBFT's RPC serves it (`/commit`'s signed_header.header)."""
    return CometHeader(
        int(doc["version"]["block"]),
        int(doc["version"].get("app", 0)),
        doc["chain_id"],
        int(doc["height"]),
        parse_time(doc["time"]),
        parse_block_id(doc["last_block_id"]),
        *(parse_hex(doc[name]) for name in HEADER_HASHES),
    )


def parse_commit(doc: dict[str, Any]) -> CometCommit:
    """A commit as CometBFT's RPC serves it (`/commit`'s signed_header.commit)."""
    return CometCommit(
        int(doc["height"]),
        int(doc["round"]),
        parse_block_id(doc["block_id"]),
        tuple(
            CommitSignature(
                int(s["block_id_flag"]),
                parse_hex(s["validator_address"]),
                parse_time(s["timestamp"]),
                base64.b64decode(s["signature"] or ""),
            )
            for s in doc["signatures"]
        ),
    )


def parse_validators(docs: list[dict[str, Any]]) -> CometValidatorPowers:
    """A set as CometBFT's RPC serves it (`/validators`' validators: Ed25519 keys)."""
    pairs = []
    for doc in docs:
        key = base64.b64decode(doc["pub_key"]["value"])
        if doc["pub_key"]["type"] != "tendermint/PubKeyEd25519" or len(key) != PUBLIC_KEY_BYTES:
            raise DecodeError("validators", f"not an Ed25519 key: {doc['pub_key']}")
        pairs.append((key, int(doc["voting_power"])))
    return CometValidatorPowers(tuple(sorted(pairs)))

"""The genesis ceremony of independent operators: its three records and their checks.

1. A validator's `Contribution` (`clearnode genesis contribution`): its public keys,
   peer id, public p2p address and power, bound to a network name and chain id, signed
   by its validator key and by its bridge key (proof that it holds the key whose
   address the vaults will trust). It also carries the two halves of its part in the
   report seed: an X25519 public key others encrypt to, and a hash commitment to a
   random share.
2. The `Ceremony` bundle (`clearnode genesis collect`): the genesis hash and every
   contribution, so each operator can check the genesis against what the others signed.
3. A validator's `SeedShares` (`clearnode genesis check`): its share encrypted to every
   other validator's X25519 key, sent once the genesis is fixed; each validator checks
   every share it decrypts against its sender's signed commitment and derives the
   report seed from all of them (`derive_report_seed`).

The report seed must be shared: every report blinding derives from it, and validators
build byte-identical reports and each other's proofs (node/reports/sharing.py). The
coordinator relays only signed public keys and ciphertexts: it cannot learn the seed
(each share is encrypted to a validator), change it (each share is checked against a
commitment its validator signed before any share was revealed), nor give two
validators different seeds without their ceremony hashes differing.

Every record is JSON; what a signature covers is the record's canonical JSON (sorted
keys, no spaces) without its signatures, after a domain string naming the record and
its version. A bad record raises a `CeremonyError` subclass naming the file and field.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_utils.crypto import keccak

from bridge.eip712 import SignatureError, recover_signer, sign_digest
from clearing.genesis import compute_genesis_hash
from clearing.governance_documents import encode_document
from node.keys import (
    BRIDGE_KEY,
    VALIDATOR_KEY,
    KeyFile,
    check_peer_id,
    get_peer_node_id,
    load_key,
    save_key,
)
from node.p2p_config import UNSPECIFIED_HOSTS, check_p2p_address

CONTRIBUTION_VERSION = 2  # 2: the CometBFT address
CONTRIBUTION_KIND = "clearnode-genesis-contribution"
CEREMONY_VERSION = 1
CEREMONY_KIND = "clearnode-genesis-ceremony"
SEED_SHARES_VERSION = 1
SEED_SHARES_KIND = "clearnode-seed-shares"

CEREMONY_SECRET = "ceremony-secret"
"""Key-file kind of a validator's ceremony secret (node/keys.py format, 0600): its X25519
key and its seed share both derive from it, so running `genesis contribution` again
gives the same commitment."""
CEREMONY_SECRET_FILE = "keys/ceremony_secret.json"

SHARE_NONCE = bytes(12)  # each box key encrypts one share of one ceremony: no nonce reuse


class CeremonyError(Exception):
    """A ceremony record refused: `source` (a file) and `field` say where, `problem` why."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        super().__init__(f"{source}: {field}: {problem}")
        self.source, self.field, self.problem = source, field, problem


class MalformedRecord(CeremonyError):
    """Not the record it claims to be: a missing or ill-typed field, another version."""


class BadSignature(CeremonyError):
    """A signature that does not verify over the record's fields."""


class WrongNetwork(CeremonyError):
    """A record for another network name or chain id than the ceremony's."""


class DuplicateContribution(CeremonyError):
    """Two contributions claim the same key, peer, address or name."""


class GenesisMismatch(CeremonyError):
    """The genesis differs from what the contributions signed, or from this home's keys."""


class SandboxKeyRefused(CeremonyError):
    """A genesis key that is one of the devnet's public test keys (node/sandbox_guard.py)."""


class ShareMismatch(CeremonyError):
    """A seed share missing, undecryptable, or not the one its sender committed to."""


def sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _domain(kind: str, version: int) -> bytes:
    return f"{kind} v{version}\0".encode()


class _Reader:
    """A record's JSON object, read field by field; each refusal names source and field."""

    def __init__(self, doc: object, source: str, kind: str, version: int) -> None:
        if not isinstance(doc, dict):
            raise MalformedRecord(source, "(record)", f"expected a JSON object, found {doc!r}")
        self.doc, self.source = doc, source
        if doc.get("kind") != kind:
            raise MalformedRecord(source, "kind", f"expected {kind!r}, found {doc.get('kind')!r}")
        if doc.get("version") != version:
            raise MalformedRecord(
                source, "version", f"expected {version}, found {doc.get('version')!r}"
            )

    def get(self, name: str, kind: type[Any], what: str) -> Any:
        value = self.doc.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise MalformedRecord(self.source, name, f"expected {what}, found {value!r}")
        return value

    def get_hex(self, name: str, size: int) -> bytes:
        return parse_hex(self.doc.get(name), size, self.source, name)

    def get_checked(self, name: str, check: Callable[[str], str], what: str) -> str:
        text = self.get(name, str, what)
        try:
            return check(text)
        except ValueError as exc:
            raise MalformedRecord(self.source, name, f"expected {what}: {exc}") from None


def parse_hex(text: object, size: int, source: str, name: str) -> bytes:
    """`text` as 0x and `size` bytes in hex; MalformedRecord naming `source` and `name`."""
    try:
        data = bytes.fromhex(text[2:]) if isinstance(text, str) and text.startswith("0x") else b""
    except ValueError:
        data = b""
    if len(data) != size:
        raise MalformedRecord(source, name, f"expected 0x and {size} bytes in hex, found {text!r}")
    return data


@dataclass(frozen=True)
class CeremonySecret:
    """A validator's ceremony secret and what derives from it."""

    secret: bytes

    @property
    def box_key(self) -> X25519PrivateKey:
        return X25519PrivateKey.from_private_bytes(
            sha256(b"clearnode ceremony x25519\0", self.secret)
        )

    @property
    def share(self) -> bytes:
        return sha256(b"clearnode ceremony seed share\0", self.secret)

    def public_box_key(self) -> bytes:
        return self.box_key.public_key().public_bytes_raw()

    def commitment(self) -> bytes:
        return commit_share(self.share)


def commit_share(share: bytes) -> bytes:
    return sha256(b"clearnode seed share commitment\0", share)


CONTRIBUTION_FIELDS = {
    "kind", "version", "network", "chain_id", "name", "power", "validator_pubkey",
    "evm_address", "peer_id", "p2p_address", "cometbft_address", "seed_box_key",
    "seed_commitment", "signature", "bridge_signature",
}  # fmt: skip


@dataclass(frozen=True)
class Contribution:
    """One validator's signed statement of who it is in the network `network`/`chain_id`."""

    network: str
    chain_id: int
    name: str
    power: int
    validator_pubkey: bytes  # Ed25519, 32 bytes: the genesis `pubkey`
    evm_address: bytes  # 20 bytes: the bridge key's address
    peer_id: str  # the node key's libp2p peer id
    p2p_address: str  # where the others dial it (P2P_ADDRESS)
    cometbft_address: str  # HOST:PORT its CometBFT listens at, on a CometBFT network
    seed_box_key: bytes  # X25519 public key the others encrypt their seed shares to
    seed_commitment: bytes  # commit_share(its seed share)
    signature: bytes = b""  # Ed25519 by the validator key over `digest`
    bridge_signature: bytes = b""  # EIP-191 by the bridge key over `digest`

    def signed_fields(self) -> dict[str, Any]:
        return {
            "kind": CONTRIBUTION_KIND,
            "version": CONTRIBUTION_VERSION,
            "network": self.network,
            "chain_id": self.chain_id,
            "name": self.name,
            "power": self.power,
            "validator_pubkey": "0x" + self.validator_pubkey.hex(),
            "evm_address": "0x" + self.evm_address.hex(),
            "peer_id": self.peer_id,
            "p2p_address": self.p2p_address,
            "cometbft_address": self.cometbft_address,
            "seed_box_key": "0x" + self.seed_box_key.hex(),
            "seed_commitment": "0x" + self.seed_commitment.hex(),
        }

    def digest(self) -> bytes:
        fields = encode_document(self.signed_fields()).encode()
        return sha256(_domain(CONTRIBUTION_KIND, CONTRIBUTION_VERSION), fields)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.signed_fields(),
            "signature": "0x" + self.signature.hex(),
            "bridge_signature": "0x" + self.bridge_signature.hex(),
        }

    @classmethod
    def from_json(cls, doc: object, source: str) -> Contribution:
        r = _Reader(doc, source, CONTRIBUTION_KIND, CONTRIBUTION_VERSION)
        unknown = sorted(set(r.doc) - CONTRIBUTION_FIELDS)
        if unknown:
            raise MalformedRecord(source, unknown[0], "not a field of a contribution")
        power = r.get("power", int, "a power >= 1")
        if power < 1:
            raise MalformedRecord(source, "power", f"expected a power >= 1, found {power}")
        return cls(
            network=r.get("network", str, "the network's name"),
            chain_id=r.get("chain_id", int, "the clearing chain id"),
            name=r.get("name", str, "the validator's name"),
            power=power,
            validator_pubkey=r.get_hex("validator_pubkey", 32),
            evm_address=r.get_hex("evm_address", 20),
            peer_id=r.get_checked("peer_id", check_peer_id, "a libp2p peer id"),
            p2p_address=r.get_checked("p2p_address", check_p2p_address, "a public p2p address"),
            cometbft_address=r.get_checked(
                "cometbft_address", check_cometbft_address, "HOST:PORT of its CometBFT"
            ),
            seed_box_key=r.get_hex("seed_box_key", 32),
            seed_commitment=r.get_hex("seed_commitment", 32),
            signature=r.get_hex("signature", 64),
            bridge_signature=r.get_hex("bridge_signature", 65),
        )

    @property
    def persistent_peer(self) -> str:
        return f"{self.p2p_address}/p2p/{self.peer_id}"

    @property
    def cometbft_peer(self) -> str:
        """Its CometBFT as the others' `[cometbft] persistent_peers` name it: the node id
        of its node key (the one its peer id holds) at its CometBFT address."""
        return f"{get_peer_node_id(self.peer_id)}@{self.cometbft_address}"

    def genesis_entry(self) -> dict[str, Any]:
        """Its genesis `validators` item (clearing/genesis.py)."""
        return {
            "name": self.name,
            "pubkey": "0x" + self.validator_pubkey.hex(),
            "power": self.power,
            "evm_address": "0x" + self.evm_address.hex(),
            "peer_id": self.peer_id,
        }


def check_cometbft_address(text: str) -> str:
    """`text` if it is a dialable HOST:PORT (not an unspecified host); ValueError otherwise."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or host in UNSPECIFIED_HOSTS:
        raise ValueError(f"{text!r} is not a dialable HOST:PORT")
    return text


def get_personal_message_hash(digest: bytes) -> bytes:
    """What an EIP-191 `personal_sign` of the 32 bytes `digest` signs (a wallet's, or
    eth_account's `encode_defunct(primitive=digest)`): no signed message is a transaction."""
    return keccak(b"\x19Ethereum Signed Message:\n32" + digest)


def sign_contribution(unsigned: Contribution, validator: KeyFile, bridge: KeyFile) -> Contribution:
    """`unsigned` signed by the validator key and the bridge key it names."""
    assert validator.kind == VALIDATOR_KEY and bridge.kind == BRIDGE_KEY
    digest = unsigned.digest()
    return replace(
        unsigned,
        signature=validator.ed25519().sign(digest),
        bridge_signature=sign_digest(get_personal_message_hash(digest), bridge.secret),
    )


def verify_contribution(contribution: Contribution, source: str) -> None:
    """Both signatures over its fields, by the keys it names; BadSignature otherwise."""
    digest = contribution.digest()
    try:
        key = Ed25519PublicKey.from_public_bytes(contribution.validator_pubkey)
        key.verify(contribution.signature, digest)
    except (InvalidSignature, ValueError):
        raise BadSignature(
            source,
            "signature",
            "not the validator key's signature of "
            "these fields (a field was changed, or another key signed)",
        ) from None
    try:
        signer = recover_signer(get_personal_message_hash(digest), contribution.bridge_signature)
        recovered = "0x" + signer.hex()
    except SignatureError:
        recovered = ""
    if recovered != "0x" + contribution.evm_address.hex():
        raise BadSignature(
            source,
            "bridge_signature",
            f"signed by {recovered or 'no key'}, "
            f"not by the bridge key of 0x{contribution.evm_address.hex()}",
        )


UNIQUE_FIELDS: tuple[tuple[str, Callable[[Contribution], object]], ...] = (
    ("name", lambda c: c.name),
    ("validator_pubkey", lambda c: c.validator_pubkey),
    ("evm_address", lambda c: c.evm_address),
    ("peer_id", lambda c: c.peer_id),
    ("p2p_address", lambda c: c.p2p_address),
    ("cometbft_address", lambda c: c.cometbft_address),
    ("seed_box_key", lambda c: c.seed_box_key),
    ("seed_commitment", lambda c: c.seed_commitment),
)


def check_contributions(
    contributions: Sequence[tuple[str, Contribution]], network: str, chain_id: int
) -> None:
    """Every (source, contribution) signed, for `network`/`chain_id`, none claiming what
    another does; the first refusal raised, naming its file and field."""
    if not contributions:
        raise MalformedRecord("(ceremony)", "contributions", "expected at least one")
    seen: dict[tuple[str, object], int] = {}
    for index, (source, contribution) in enumerate(contributions):
        if contribution.network != network:
            raise WrongNetwork(source, "network", f"{contribution.network!r}, expected {network!r}")
        if contribution.chain_id != chain_id:
            raise WrongNetwork(source, "chain_id", f"{contribution.chain_id}, expected {chain_id}")
        verify_contribution(contribution, source)
        for name, get in UNIQUE_FIELDS:
            first = seen.setdefault((name, get(contribution)), index)
            if first != index:
                raise DuplicateContribution(
                    source,
                    name,
                    f"the same as contribution {first + 1} ({contributions[first][0]})",
                )


@dataclass(frozen=True)
class Ceremony:
    """What the coordinator hands every operator beside the genesis: the contributions it
    was built from, in genesis order."""

    network: str
    genesis_hash: bytes
    contributions: tuple[Contribution, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": CEREMONY_KIND,
            "version": CEREMONY_VERSION,
            "network": self.network,
            "genesis_hash": "0x" + self.genesis_hash.hex(),
            "contributions": [c.to_json() for c in self.contributions],
        }

    def digest(self) -> bytes:
        """The ceremony hash: binds the seed shares to this genesis and these contributions."""
        body = encode_document(self.to_json()).encode()
        return sha256(_domain(CEREMONY_KIND, CEREMONY_VERSION), body)

    @classmethod
    def from_json(cls, doc: object, source: str) -> Ceremony:
        r = _Reader(doc, source, CEREMONY_KIND, CEREMONY_VERSION)
        items = r.get("contributions", list, "a list of contributions")
        contributions = tuple(
            Contribution.from_json(item, f"{source} contributions[{n}]")
            for n, item in enumerate(items)
        )
        network = r.get("network", str, "the network's name")
        ceremony = cls(network, r.get_hex("genesis_hash", 32), contributions)
        chain_id = contributions[0].chain_id if contributions else 0
        check_contributions(
            [(f"{source} contributions[{n}]", c) for n, c in enumerate(contributions)],
            network,
            chain_id,
        )
        return ceremony

    def get_validators(self) -> list[dict[str, Any]]:
        return [c.genesis_entry() for c in self.contributions]


def encode_genesis_file(genesis: Mapping[str, Any]) -> bytes:
    """The genesis file's bytes as the coordinator writes them. Its hash is the network's
    genesis hash (`clearing.genesis.compute_genesis_hash`, SHA-256 of the file, what
    `GET /v1/genesis` serves and `clearnode verify --genesis-hash` pins), so every
    operator installs these bytes as they are."""
    return (json.dumps(genesis, indent=2) + "\n").encode()


def check_genesis(ceremony: Ceremony, document: bytes, source: str) -> dict[str, Any]:
    """The genesis file's bytes `document` are the ones the ceremony names, listing
    exactly its contributions; returns the genesis."""
    found = compute_genesis_hash(document)
    if found != ceremony.genesis_hash:
        raise GenesisMismatch(
            source, "(hash)", f"0x{found.hex()}, the ceremony names 0x{ceremony.genesis_hash.hex()}"
        )
    try:
        genesis = json.loads(document)
    except ValueError as exc:
        raise MalformedRecord(source, "(syntax)", f"not JSON ({exc})") from None
    if not isinstance(genesis, dict):
        raise MalformedRecord(source, "(file)", "not a genesis JSON object")
    if genesis.get("validators") != ceremony.get_validators():
        raise GenesisMismatch(source, "validators", "not the contributions' entries, in order")
    chain_ids = {c.chain_id for c in ceremony.contributions}
    if chain_ids != {genesis.get("chain_id")}:
        raise GenesisMismatch(
            source,
            "chain_id",
            f"{genesis.get('chain_id')!r}, the contributions sign {sorted(chain_ids)}",
        )
    return genesis


def _box(
    ceremony_digest: bytes, sender: bytes, recipient: bytes, mine: X25519PrivateKey, theirs: bytes
) -> ChaCha20Poly1305:
    """The AEAD key of one share from `sender` to `recipient` (validator public keys) in one
    ceremony: static X25519 between their box keys, HKDF bound to the ceremony and both."""
    shared = mine.exchange(X25519PublicKey.from_public_bytes(theirs))
    info = _domain(SEED_SHARES_KIND, SEED_SHARES_VERSION) + sender + recipient
    key = HKDF(hashes.SHA256(), 32, salt=ceremony_digest, info=info).derive(shared)
    return ChaCha20Poly1305(key)


@dataclass(frozen=True)
class SeedShares:
    """One validator's seed share, encrypted to each other validator of a ceremony."""

    ceremony: bytes  # Ceremony.digest()
    sender: bytes  # validator public key
    boxes: tuple[tuple[bytes, bytes], ...]  # (recipient validator public key, ciphertext)
    signature: bytes = field(default=b"")  # Ed25519 by the sender's validator key

    def signed_fields(self) -> dict[str, Any]:
        return {
            "kind": SEED_SHARES_KIND,
            "version": SEED_SHARES_VERSION,
            "ceremony": "0x" + self.ceremony.hex(),
            "sender": "0x" + self.sender.hex(),
            "boxes": {"0x" + to.hex(): "0x" + box.hex() for to, box in self.boxes},
        }

    def digest(self) -> bytes:
        fields = encode_document(self.signed_fields()).encode()
        return sha256(_domain(SEED_SHARES_KIND, SEED_SHARES_VERSION), fields)

    def to_json(self) -> dict[str, Any]:
        return {**self.signed_fields(), "signature": "0x" + self.signature.hex()}

    @classmethod
    def from_json(cls, doc: object, source: str) -> SeedShares:
        r = _Reader(doc, source, SEED_SHARES_KIND, SEED_SHARES_VERSION)
        boxes = r.get("boxes", dict, "an object of recipient keys to ciphertexts")
        box_size = 32 + 16  # the share and its tag
        parsed = tuple(
            (parse_hex(to, 32, source, "boxes"), parse_hex(box, box_size, source, f"boxes.{to}"))
            for to, box in boxes.items()
        )
        return cls(
            r.get_hex("ceremony", 32), r.get_hex("sender", 32), parsed, r.get_hex("signature", 64)
        )


def seal_shares(
    ceremony: Ceremony, mine: Contribution, secret: CeremonySecret, validator: KeyFile
) -> SeedShares:
    """`secret`'s share encrypted to every other contribution of `ceremony`, signed."""
    digest = ceremony.digest()
    boxes = tuple(
        (
            c.validator_pubkey,
            _box(
                digest, mine.validator_pubkey, c.validator_pubkey, secret.box_key, c.seed_box_key
            ).encrypt(SHARE_NONCE, secret.share, digest),
        )
        for c in ceremony.contributions
        if c.validator_pubkey != mine.validator_pubkey
    )
    unsigned = SeedShares(digest, mine.validator_pubkey, boxes)
    return replace(unsigned, signature=validator.ed25519().sign(unsigned.digest()))


def open_shares(
    ceremony: Ceremony,
    mine: Contribution,
    secret: CeremonySecret,
    received: Sequence[tuple[str, SeedShares]],
) -> list[bytes]:
    """Every validator's share in genesis order (this one's own from `secret`), each
    decrypted from `received` (source, shares) and checked against the commitment its
    sender signed; ShareMismatch naming the file (or the sender) otherwise."""
    digest = ceremony.digest()
    by_sender: dict[bytes, tuple[str, SeedShares]] = {}
    for source, shares in received:
        sender = next(
            (c for c in ceremony.contributions if c.validator_pubkey == shares.sender), None
        )
        if sender is None:
            raise ShareMismatch(
                source, "sender", f"0x{shares.sender.hex()} is no validator of this ceremony"
            )
        if shares.ceremony != digest:
            raise WrongNetwork(
                source, "ceremony", f"0x{shares.ceremony.hex()}, expected 0x{digest.hex()}"
            )
        try:
            Ed25519PublicKey.from_public_bytes(shares.sender).verify(
                shares.signature, shares.digest()
            )
        except InvalidSignature:
            raise BadSignature(source, "signature", "not the sender's signature") from None
        by_sender.setdefault(shares.sender, (source, shares))
    result = []
    for c in ceremony.contributions:
        if c.validator_pubkey == mine.validator_pubkey:
            result.append(secret.share)
            continue
        if c.validator_pubkey not in by_sender:
            raise ShareMismatch(f"(validator {c.name})", "seed shares", "none received")
        source, shares = by_sender[c.validator_pubkey]
        box = dict(shares.boxes).get(mine.validator_pubkey)
        if box is None:
            raise ShareMismatch(source, "boxes", f"no share for {mine.name}")
        try:
            share = _box(
                digest, c.validator_pubkey, mine.validator_pubkey, secret.box_key, c.seed_box_key
            ).decrypt(SHARE_NONCE, box, digest)
        except InvalidTag:
            raise ShareMismatch(
                source, "boxes", f"the share for {mine.name} does not decrypt with its box key"
            ) from None
        if commit_share(share) != c.seed_commitment:
            raise ShareMismatch(
                source,
                "boxes",
                f"the share is not the one {c.name} committed to in its contribution",
            )
        result.append(share)
    return result


def derive_report_seed(ceremony: Ceremony, shares: Sequence[bytes]) -> bytes:
    """The report seed: secret while one share is, unbiased while one share is random."""
    domain = b"clearnode report seed from ceremony shares\0"
    return sha256(domain, ceremony.digest(), *shares)


def load_ceremony_secret(path: Path, create: bool = False) -> CeremonySecret:
    """The secret in `path`, or (`create`, none there yet) a new one saved there (0600)."""
    if create and not path.exists():
        save_key(path, KeyFile(CEREMONY_SECRET, secrets.token_bytes(32)))
    return CeremonySecret(load_key(path, CEREMONY_SECRET).secret)

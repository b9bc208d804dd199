"""The node's three secret keys, each in its own 0600 JSON file.

- node key: Ed25519 seed of the libp2p identity (its public key is the peer id);
- validator key: Ed25519 consensus and oracle signing key (listed in genesis);
- bridge key: secp256k1 key that signs withdrawal authorisations (its EVM address
  is listed in genesis).

`clearnode init` also writes one venue key per genesis venue (Ed25519, kind
`venue-ed25519`, public key listed in genesis `venues`) for the operator to hand
to that venue, which signs its trade batches with it.

Every file is `{"version": 1, "kind": KIND, "secret": "0x" + 64 hex digits}`.

The operator listener's bearer token (`keys/operator_token`, kind `operator-token`) is
the one secret kept as itself, `clearnode-operator-token-v1-` and 64 hex digits with no
JSON around it: Prometheus sends a `credentials_file`'s content as the token, so the
scraper reads the node's own file. Otherwise it is kept as the keys are.

A key file readable by group or others is refused, like ssh does: a validator
key that leaked is a double-signing risk for the whole network.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightclient.cometbft import get_address

KEY_FILE_VERSION = 1
NODE_KEY = "node-ed25519"
VALIDATOR_KEY = "validator-ed25519"
BRIDGE_KEY = "bridge-secp256k1"
VENUE_KEY = "venue-ed25519"
KEY_KINDS = (NODE_KEY, VALIDATOR_KEY, BRIDGE_KEY, VENUE_KEY)
HOME_KEY_FILES = {
    NODE_KEY: "keys/node_key.json",
    VALIDATOR_KEY: "keys/validator_key.json",
    BRIDGE_KEY: "keys/bridge_key.json",
}
"""A node's key files in its home, unless config.toml's `[keys]` names others."""
OPERATOR_TOKEN = "operator-token"
HOME_OPERATOR_TOKEN_FILE = "keys/operator_token"
"""The operator listener's token in the home, unless `[keys] operator_token_file` says."""
OPERATOR_TOKEN_PREFIX = f"clearnode-{OPERATOR_TOKEN}-v{KEY_FILE_VERSION}-"
OPERATOR_TOKEN_HEX_DIGITS = 64


KEY_EXISTS = "already exists; refusing to overwrite a key"


class KeyFileError(Exception):
    """A key file is missing, unreadable, malformed or too widely readable."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class KeyFile:
    kind: str
    secret: bytes  # 32 bytes: Ed25519 seed or secp256k1 private key

    def ed25519(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.secret)

    def public_key(self) -> bytes:
        """Ed25519 public key (32 bytes) or EVM address (20 bytes) for the bridge key."""
        if self.kind == BRIDGE_KEY:
            # eth_keys, which a node loads anyway: eth_account's 0.6 s of imports would
            # be paid by every validator's start for one address
            from bridge.eip712 import get_address

            return get_address(self.secret)
        return self.ed25519().public_key().public_bytes_raw()


def generate_key(kind: str) -> KeyFile:
    if kind not in KEY_KINDS:
        raise ValueError(f"unknown key kind {kind!r}; expected one of {KEY_KINDS}")
    secret = secrets.token_bytes(32)
    if kind == BRIDGE_KEY:
        from bridge.eip712 import SECP256K1_N  # a secp256k1 key is a scalar in [1, n)

        while not 0 < int.from_bytes(secret, "big") < SECP256K1_N:
            secret = secrets.token_bytes(32)
    return KeyFile(kind, secret)


def check_key_absent(path: Path) -> None:
    """No file at `path`: a key is never overwritten (it may be the only copy)."""
    if path.exists() or path.is_symlink():
        raise KeyFileError(path, KEY_EXISTS)


def save_key(path: Path, key: KeyFile) -> None:
    """Write `key` to a new file created with mode 0600; never overwrites."""
    body = {"version": KEY_FILE_VERSION, "kind": key.kind, "secret": "0x" + key.secret.hex()}
    _write_private(path, json.dumps(body) + "\n")


def _write_private(path: Path, text: str) -> None:
    """`text` in a new file created with mode 0600 (its folder 0700); never overwrites."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(path, KEY_EXISTS) from None
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _read_private(path: Path) -> str:
    """The text of a secret's file, refused when group or others may access it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except OSError as exc:
        raise KeyFileError(path, f"cannot read key file ({exc.strerror})") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(path, f"permissions {oct(mode & 0o777)} are too open; expected 0600")
    return text


def load_key(path: Path, kind: str) -> KeyFile:
    """Read a key file, checking mode (no group/other access), version, kind and length."""
    text = _read_private(path)
    try:
        body = json.loads(text)
        version, found, secret = body["version"], body["kind"], body["secret"]
        data = bytes.fromhex(secret[2:]) if secret.startswith("0x") else b""
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeyFileError(path, "not a key file (expected JSON version/kind/secret)") from None
    if version != KEY_FILE_VERSION:
        raise KeyFileError(path, f"key file version {version!r}, expected {KEY_FILE_VERSION}")
    if found != kind:
        raise KeyFileError(path, f"holds a {found!r} key, expected {kind!r}")
    if len(data) != 32:
        raise KeyFileError(path, f"secret is {len(data)} bytes, expected 32")
    return KeyFile(kind, data)


def generate_operator_token() -> str:
    return OPERATOR_TOKEN_PREFIX + secrets.token_hex(OPERATOR_TOKEN_HEX_DIGITS // 2)


def save_operator_token(path: Path, token: str) -> None:
    """Write `token` alone (no newline) to a new 0600 file; never overwrites."""
    _write_private(path, token)


def load_operator_token(path: Path) -> str:
    """The token in `path` (surrounding whitespace ignored, as an editor may add a
    newline), checking mode and form; raises KeyFileError."""
    token = _read_private(path).strip()
    digits = token.removeprefix(OPERATOR_TOKEN_PREFIX)
    if (
        digits == token
        or len(digits) != OPERATOR_TOKEN_HEX_DIGITS
        or any(c not in "0123456789abcdef" for c in digits)
    ):
        raise KeyFileError(
            path,
            f"not an operator token (expected {OPERATOR_TOKEN_PREFIX} and "
            f"{OPERATOR_TOKEN_HEX_DIGITS} lowercase hex digits)",
        )
    return token


IDENTITY_MULTIHASH = 0x00
SHA256_MULTIHASH = 0x12


def check_peer_id(text: str) -> str:
    """`text` if it is a libp2p peer id: base58 of a multihash of a public key (identity,
    as every Ed25519 node key's `12D3KooW...`, or sha2-256); ValueError saying why not.

    Checked here without py-libp2p, whose import costs every config load a second."""
    try:
        data = base58.b58decode(text) if text else b""
    except ValueError:
        raise ValueError(f"{text!r} is not base58") from None
    if len(data) < 2 or data[0] not in (IDENTITY_MULTIHASH, SHA256_MULTIHASH):
        raise ValueError(f"{text!r} is not an identity or sha2-256 multihash")
    if data[1] != len(data) - 2 or (data[0] == SHA256_MULTIHASH and data[1] != 32):
        raise ValueError(
            f"{text!r} has a digest of {len(data) - 2} bytes, its header says {data[1]}"
        )
    return text


ED25519_PEER_KEY = bytes([0x08, 0x01, 0x12, 0x20])
"""How a libp2p peer id of an Ed25519 key holds it: the PublicKey protobuf (type Ed25519,
32 bytes of data) in an identity multihash."""


def get_peer_public_key(peer_id: str) -> bytes:
    """The Ed25519 public key an identity peer id (every node key's `12D3KooW...`) holds;
    ValueError if it holds none (a hashed key, another key type)."""
    data = base58.b58decode(check_peer_id(peer_id))
    body = data[2:]
    if data[0] != IDENTITY_MULTIHASH or len(body) != 36 or body[:4] != ED25519_PEER_KEY:
        raise ValueError(f"{peer_id!r} holds no Ed25519 public key")
    return body[4:]


def compute_peer_id(node_key: KeyFile) -> str:
    """The libp2p peer id (base58) of a node key, as other nodes dial it: its public key
    in an identity multihash (`get_peer_public_key` reads it back). Without py-libp2p,
    whose import would cost every `clearnode init` and `genesis` command 0.5 s."""
    body = ED25519_PEER_KEY + node_key.public_key()
    return base58.b58encode(bytes([IDENTITY_MULTIHASH, len(body)]) + body).decode()


class PeerIdError(ValueError):
    """A libp2p peer id that names no CometBFT node: not a peer id, or one that holds no
    Ed25519 public key (a hashed key, another key type)."""

    def __init__(self, peer_id: str, problem: str) -> None:
        super().__init__(f"peer id {peer_id!r} names no CometBFT node: {problem}")
        self.peer_id = peer_id
        self.problem = problem


def get_node_id(node_key: Ed25519PrivateKey) -> str:
    """CometBFT's node id: the hex of the node key's address."""
    return get_address(node_key.public_key().public_bytes_raw()).hex()


def get_peer_node_id(peer_id: str) -> str:
    """The CometBFT node id of the node whose libp2p peer id is `peer_id`: both are of one
    Ed25519 node key, which an identity peer id (`12D3KooW...`) holds whole, so a genesis
    listing peer ids names the CometBFT nodes too. PeerIdError if it holds no such key."""
    try:
        public = get_peer_public_key(peer_id)
    except ValueError as exc:
        raise PeerIdError(peer_id, str(exc)) from None
    return get_address(public).hex()

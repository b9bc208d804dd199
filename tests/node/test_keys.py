"""Key files: created 0600, never overwritten, refused when too open or malformed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from eth_account import Account
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.peer.id import ID

from node.keys import (
    BRIDGE_KEY,
    NODE_KEY,
    VALIDATOR_KEY,
    KeyFileError,
    compute_peer_id,
    generate_key,
    generate_operator_token,
    get_peer_public_key,
    load_key,
    load_operator_token,
    save_key,
    save_operator_token,
)


@pytest.mark.parametrize("kind", [NODE_KEY, VALIDATOR_KEY, BRIDGE_KEY])
def test_key_round_trip_with_0600_permissions(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "keys" / f"{kind}.json"
    key = generate_key(kind)
    save_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(path, kind) == key
    assert len(key.public_key()) == (20 if kind == BRIDGE_KEY else 32)


def test_a_bridge_keys_address_is_eth_accounts() -> None:
    key = generate_key(BRIDGE_KEY)
    assert key.public_key() == bytes.fromhex(Account.from_key(key.secret).address[2:])


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    key = generate_key(VALIDATOR_KEY)
    save_key(path, key)
    with pytest.raises(KeyFileError, match="already exists"):
        save_key(path, generate_key(VALIDATOR_KEY))
    assert load_key(path, VALIDATOR_KEY) == key


def test_too_open_wrong_kind_and_garbage_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    save_key(path, generate_key(NODE_KEY))
    with pytest.raises(KeyFileError, match="holds a 'node-ed25519' key"):
        load_key(path, VALIDATOR_KEY)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="too open"):
        load_key(path, NODE_KEY)
    garbage = tmp_path / "g.json"
    garbage.write_text("{not json")
    os.chmod(garbage, 0o600)
    with pytest.raises(KeyFileError, match="not a key file"):
        load_key(garbage, NODE_KEY)
    with pytest.raises(KeyFileError, match="cannot read"):
        load_key(tmp_path / "missing.json", NODE_KEY)


def test_the_operator_token_is_kept_as_a_key_is_and_read_as_itself(tmp_path: Path) -> None:
    """Prometheus sends a credentials file's content as the token: no JSON around it."""
    path = tmp_path / "keys" / "operator_token"
    token = generate_operator_token()
    save_operator_token(path, token)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == token
    assert load_operator_token(path) == token and token != generate_operator_token()
    with pytest.raises(KeyFileError, match="already exists"):
        save_operator_token(path, generate_operator_token())
    path.write_text(token + "\n")  # an editor's newline is no part of it
    assert load_operator_token(path) == token
    os.chmod(path, 0o604)
    with pytest.raises(KeyFileError, match="too open"):
        load_operator_token(path)
    for garbage in ("", token[:-1], token.upper(), token.removeprefix("clearnode-")):
        os.chmod(path, 0o600)
        path.write_text(garbage)
        with pytest.raises(KeyFileError, match="not an operator token"):
            load_operator_token(path)


def test_peer_id_is_libp2ps_for_a_node_key() -> None:
    for _ in range(20):
        key = generate_key(NODE_KEY)
        libp2p_id = ID.from_pubkey(create_new_key_pair(key.secret).public_key).to_base58()
        assert compute_peer_id(key) == libp2p_id
        assert libp2p_id.startswith("12D3KooW")
        assert get_peer_public_key(libp2p_id) == key.public_key()

"""The public test keys of configs/genesis.example.json and of the devnet are found in a
genesis, wherever they are copied; keys made fresh are not."""

from __future__ import annotations

import json
from pathlib import Path

from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.genesis import VENUE_ID
from node.keys import BRIDGE_KEY, VALIDATOR_KEY, VENUE_KEY, generate_key
from node.sandbox_guard import SandboxKey, find_sandbox_validator, find_sandbox_venue

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((ROOT / "configs" / "genesis.example.json").read_text())


def fresh_key(kind: str) -> str:
    return "0x" + generate_key(kind).public_key().hex()


def fresh_validator(name: str) -> dict[str, str]:
    return {"name": name, "pubkey": fresh_key(VALIDATOR_KEY), "evm_address": fresh_key(BRIDGE_KEY)}


def test_every_public_key_of_the_example_genesis_is_found() -> None:
    assert find_sandbox_venue(EXAMPLE["venues"]) == (
        0, SandboxKey("pubkey", "venue alpha's key", "venue-alpha")
    )  # fmt: skip
    for index, copied in enumerate(EXAMPLE["validators"]):
        # renamed and moved, its consensus key or its bridge address alone still tells
        for field, kind in (("pubkey", "consensus"), ("evm_address", "bridge")):
            validator = {**fresh_validator("mine"), field: copied[field].upper()}
            found = find_sandbox_validator([fresh_validator("v0"), validator])
            key = SandboxKey(field, f"validator mine's {kind} key", f"validator-{index}")
            assert found == (1, key)


def test_the_devnets_venue_key_is_found_under_any_id() -> None:
    devnet = derive_ed25519_key(f"venue-{VENUE_ID}").public_key().public_bytes_raw()
    venues = [
        {"id": "beta", "pubkey": fresh_key(VENUE_KEY)},
        {"id": "x", "pubkey": "0x" + devnet.hex()},
    ]
    found = find_sandbox_venue(venues)
    assert found is not None and found[0] == 1 and found[1].name == f"venue-{VENUE_ID}"
    own = derive_ed25519_key("venue-beta").public_key().public_bytes_raw()
    assert find_sandbox_venue([{"id": "beta", "pubkey": "0x" + own.hex()}]) is not None


def test_fresh_keys_pass_whatever_their_names() -> None:
    assert find_sandbox_venue([{"id": "alpha", "pubkey": fresh_key(VENUE_KEY)}]) is None
    validators = [fresh_validator(f"validator-{i}") for i in range(5)]
    assert find_sandbox_validator(validators) is None

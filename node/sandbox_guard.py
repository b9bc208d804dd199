"""A genesis for value holds none of the devnet's public test keys.

clearnode/client/sandbox_keys.py derives keys from public names (`venue-alpha`,
`validator-0`, ...), so anyone can sign with them. configs/genesis.example.json lists
such keys (venue `alpha`, validators `validator-0` to `validator-3`, their bridge
addresses from the same seeds), and so does the devnet's genesis (venue `alpha`): a
network whose genesis was copied from them would clear batches anyone signed, or count
votes anyone cast. `find_sandbox_key` finds such a key among the names those files use
and the names the genesis itself gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SANDBOX_VENUE_IDS = ("alpha",)
"""The venue ids of configs/genesis.example.json and of the devnet (devnet/genesis.py)."""
SANDBOX_VALIDATORS = 4
"""configs/genesis.example.json's validators: `validator-0` to `validator-3`."""


@dataclass(frozen=True)
class SandboxKey:
    """A genesis key that is a public test key: where it is, and the public name it derives
    from (`sandbox_keys.derive_seed(name)`)."""

    field: str
    key: str
    """Whose key, as a person says it: `venue alpha's key`."""
    name: str

    def explain(self) -> str:
        return (
            f"{self.key} is a public test key of the devnet (derived from the public name "
            f"{self.name!r} by clearnode/client/sandbox_keys.py): anyone can sign with it"
        )


def get_ed25519_keys(names: Iterable[str]) -> dict[str, str]:
    """The 0x public key of each name's sandbox Ed25519 key, mapped to its name."""
    from clearnode.client.sandbox_keys import derive_ed25519_key

    return {
        "0x" + derive_ed25519_key(name).public_key().public_bytes_raw().hex(): name
        for name in names
    }


def get_evm_addresses(names: Iterable[str]) -> dict[str, str]:
    """The 0x address of each name's sandbox secp256k1 key (its seed as the key, as the
    example genesis's bridge addresses are), mapped to its name."""
    from bridge.eip712 import get_address
    from clearnode.client.sandbox_keys import derive_seed

    return {"0x" + get_address(derive_seed(name)).hex(): name for name in names}


def find_sandbox_venue(venues: Sequence[Mapping[str, Any]]) -> tuple[int, SandboxKey] | None:
    """The first venue (its index) whose key is the sandbox key of its own id or of a
    sandbox venue id."""
    ids = {str(v.get("id")) for v in venues} | set(SANDBOX_VENUE_IDS)
    known = get_ed25519_keys(f"venue-{venue_id}" for venue_id in sorted(ids))
    for index, venue in enumerate(venues):
        name = known.get(str(venue.get("pubkey", "")).lower())
        if name is not None:
            return index, SandboxKey("pubkey", f"venue {venue.get('id')}'s key", name)
    return None


def find_sandbox_validator(
    validators: Sequence[Mapping[str, Any]],
) -> tuple[int, SandboxKey] | None:
    """The first validator (its index) whose consensus key or bridge address derives from
    its own name, or from `validator-I` for any index I of the example's or this list."""
    count = max(SANDBOX_VALIDATORS, len(validators))
    names = sorted({f"validator-{i}" for i in range(count)} | {str(v["name"]) for v in validators})
    keys, addresses = get_ed25519_keys(names), get_evm_addresses(names)
    for index, validator in enumerate(validators):
        for field, kind, known in (
            ("pubkey", "consensus", keys),
            ("evm_address", "bridge", addresses),
        ):
            name = known.get(str(validator[field]).lower())
            if name is not None:
                key = f"validator {validator['name']}'s {kind} key"
                return index, SandboxKey(field, key, name)
    return None

"""The bridge contracts' ABIs read without web3, from their committed artifacts
(bridge/compile.py): a function's signature and result types, a revert's error decoded,
and the gas a transaction is given over its estimate.

web3's chain adapter (bridge/chain.py) decodes its reverts with these, and the client
SDK (clearnode/client/vault.py) encodes its calls of the vault and decodes their
reverts with them over plain JSON-RPC, so both read one ABI the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils.crypto import keccak

Abi = Sequence[dict[str, Any]]

STANDARD_ERRORS = {
    keccak(text="Error(string)")[:4]: ("Error", ["string"]),
    keccak(text="Panic(uint256)")[:4]: ("Panic", ["uint256"]),
}
"""What Solidity reverts with besides a contract's own errors: `require(cond, "reason")`
and `revert("reason")` (`Error`), and a failed check of the language itself (`Panic`: an
arithmetic overflow is code 0x11, a division by zero 0x12)."""

# A gas estimate holds only for the state it was made on: the vault's rate-limit bucket
# rewrites its timestamp slot, which costs 2,800 gas more once the next block is a second
# later than the estimate's, and the transaction then runs out of gas. Unused gas is
# refunded, so headroom costs nothing but block space.
GAS_HEADROOM_NUMERATOR, GAS_HEADROOM_DENOMINATOR = 5, 4


def add_gas_headroom(estimate: int) -> int:
    return estimate * GAS_HEADROOM_NUMERATOR // GAS_HEADROOM_DENOMINATOR


class AbiError(Exception):
    """A function the ABI does not have, or has twice (an overload: name it by signature)."""


def get_function(abi: Abi, name: str) -> dict[str, Any]:
    """The ABI entry of function `name`."""
    found = [item for item in abi if item.get("type") == "function" and item["name"] == name]
    if len(found) != 1:
        raise AbiError(f"the ABI has {len(found)} functions named {name!r}, not 1")
    return found[0]


def get_canonical_type(parameter: dict[str, Any]) -> str:
    """A parameter's type as a signature spells it (a tuple as its components)."""
    kind: str = parameter["type"]
    if not kind.startswith("tuple"):
        return kind
    inner = ",".join(get_canonical_type(c) for c in parameter["components"])
    return f"({inner}){kind.removeprefix('tuple')}"


def get_signature(abi: Abi, name: str) -> str:
    """`name(type,...)`: what the function's 4-byte selector is the hash of."""
    inputs = get_function(abi, name)["inputs"]
    return f"{name}({','.join(get_canonical_type(p) for p in inputs)})"


def get_output_types(abi: Abi, name: str) -> list[str]:
    """The types function `name` returns, in order."""
    return [get_canonical_type(p) for p in get_function(abi, name)["outputs"]]


def compute_error_selectors(abi: Abi) -> dict[bytes, tuple[str, list[str]]]:
    """4-byte selector -> (error name, argument types) for each custom error in `abi`."""
    selectors = {}
    for item in abi:
        if item.get("type") == "error":
            types = [get_canonical_type(i) for i in item["inputs"]]
            signature = f"{item['name']}({','.join(types)})"
            selectors[keccak(text=signature)[:4]] = (item["name"], types)
    return selectors


def decode_error(abi: Abi, data: bytes) -> tuple[str, tuple[Any, ...]] | None:
    """The error a revert's `data` names, one of `abi`'s or Solidity's own (`Error`,
    `Panic`), with its arguments; None for data that is none of them (empty: a revert
    without a reason, or out of gas)."""
    known = {**STANDARD_ERRORS, **compute_error_selectors(abi)}.get(data[:4])
    if known is None:
        return None
    name, types = known
    try:
        return name, tuple(decode(types, data[4:]))
    except DecodingError:
        return None

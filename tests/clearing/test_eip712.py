"""clearing/eip712.py against eth-account, the oracle: the same digests for every
request and query, the same signatures, the same signer recovered (or none) from any
65 bytes."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given
from hypothesis import strategies as st

from clearing.eip712 import (
    DOMAIN_NAME,
    DOMAIN_TYPE,
    DOMAIN_VERSION,
    SignableMessage,
    compute_signable,
    encode_value,
    sign_typed,
    verify_member_signature,
)
from clearing.errors import BadSignature
from clearing.request_schema import SignedRequest
from clearing.transition import member_requests
from tests.clearing.test_request_schema import requests

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
QUERIES = {
    name.removesuffix("_FIELDS"): fields
    for name, fields in vars(member_requests).items()
    if name.endswith("_FIELDS")
}
chain_ids = st.integers(1, 2**64 - 1)
private_keys = st.integers(1, SECP256K1_N - 1).map(lambda k: k.to_bytes(32, "big"))


def sign_as_eth_account(
    chain_id: int, primary_type: str, fields: list[dict[str, str]], message: dict[str, Any]
) -> Any:
    return encode_typed_data(
        full_message={
            "types": {"EIP712Domain": DOMAIN_TYPE, primary_type: fields},
            "primaryType": primary_type,
            "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id},
            "message": message,
        }
    )


def as_eth_account(request: SignedRequest, chain_id: int) -> Any:
    schema = request.SCHEMA
    return sign_as_eth_account(
        chain_id, schema.primary_type, schema.eip712_fields, request.get_message()
    )


@given(requests(), chain_ids)
def test_a_requests_digest_is_eth_accounts(request: SignedRequest, chain_id: int) -> None:
    assert tuple(request.signable(chain_id)) == tuple(as_eth_account(request, chain_id))


@st.composite
def queries(draw: st.DrawFn) -> tuple[str, list[dict[str, str]], dict[str, Any]]:
    name = draw(st.sampled_from(sorted(QUERIES)))
    message: dict[str, Any] = {}
    for field in QUERIES[name]:
        if field["type"] == "address":
            message[field["name"]] = "0x" + draw(st.binary(min_size=20, max_size=20)).hex()
        else:
            bits = int(field["type"].removeprefix("uint"))
            message[field["name"]] = draw(st.integers(0, 2**bits - 1))
    return name, QUERIES[name], message


@given(queries(), chain_ids)
def test_a_querys_digest_is_eth_accounts(
    query: tuple[str, list[dict[str, str]], dict[str, Any]], chain_id: int
) -> None:
    ours = compute_signable(chain_id, *query)
    assert tuple(ours) == tuple(sign_as_eth_account(chain_id, *query))


@given(requests(), chain_ids, private_keys)
def test_a_signature_is_eth_accounts(request: SignedRequest, chain_id: int, key: bytes) -> None:
    theirs = Account.sign_message(as_eth_account(request, chain_id), key).signature
    assert sign_typed(key, request.signable(chain_id)) == bytes(theirs)


def recover(signable: SignableMessage, signature: bytes) -> bytes:
    """The address ``signature`` recovers to, b"" when none (clearing/eip712.py)."""
    try:
        verify_member_signature(bytes(20), signable, signature, "test", 1)
    except BadSignature as refused:
        return refused.recovered
    raise AssertionError("the zero address has no key")


def recover_as_eth_account(signable: Any, signature: bytes) -> bytes:
    try:
        return bytes.fromhex(Account.recover_message(signable, signature=signature)[2:])
    except Exception:
        return b""


@st.composite
def signatures(draw: st.DrawFn, genuine: bytes) -> bytes:
    """``genuine``, or it with another v, or r and s anywhere, or another length."""
    v = st.sampled_from([0, 1, 2, 26, 27, 28, 29, 34, 35, 36, 37, 38, 255]) | st.integers(0, 255)
    rs = st.just(genuine[:64]) | st.binary(min_size=64, max_size=64)
    other = st.binary(max_size=70).filter(lambda b: len(b) != 65)
    return draw(st.tuples(rs, v).map(lambda p: p[0] + bytes([p[1]])) | other)


@given(requests(), private_keys, st.data())
def test_the_signer_recovered_is_eth_accounts(
    request: SignedRequest, key: bytes, data: st.DataObject
) -> None:
    signable = request.signable(7)
    signature = data.draw(signatures(sign_typed(key, signable)))
    assert recover(signable, signature) == recover_as_eth_account(
        as_eth_account(request, 7), signature
    )


@pytest.mark.parametrize(
    ("eip712_type", "value"),
    [
        ("address", "0x" + "11" * 19),
        ("address", bytes(20)),
        ("uint32", 2**32),
        ("uint64", -1),
        ("int8", 128),
        ("uint64", True),
        ("bool", 1),
        ("string", b"alpha"),
        ("bytes32", "0x" + "00" * 32),
        ("uint7", 1),
    ],
)
def test_a_value_its_type_cannot_carry_is_refused(eip712_type: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"is not an EIP-712 {eip712_type}"):
        encode_value(eip712_type, value)

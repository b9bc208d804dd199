"""Member requests declared once: the bytes and digests of today's hand-written requests,
bounds, and declarations that disagree with their class."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from eth_utils.crypto import keccak
from hypothesis import assume, given
from hypothesis import strategies as st

from clearing import request_schema
from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.eip712 import sign_typed, verify_member_signature
from clearing.request_schema import (
    FixedBytes,
    Integer,
    SchemaError,
    Signature,
    SignedAddress,
    SignedRequest,
    Text,
    WireField,
    member_request,
)
from clearing.transition.client_requests import AcceptClientAccount, OfferClientAccount
from clearing.transition.member_requests import MEMBER_REQUESTS
from clearing.transition.transfer import Transfer
from clearing.transition.tx import decode_tx, encode_tx
from clearing.transition.withdrawal import Withdrawal
from clearing.venues import AuthoriseVenue
from clearnode.client.sandbox_keys import derive_member_key
from records.codec import DecodeError

CHAIN_ID = 31337
KEY = derive_member_key("vector")
ME, TOKEN, OTHER = KEY.address, bytes(range(1, 21)), bytes(range(100, 120))

ISSUED, EXPIRY = 1_795_219_200_000, 1_795_219_500_000
# Transaction version 3 (the issue time and the expiry signed before the nonce): each
# EIP-712 digest was checked against eth_account's encode_typed_data when these were
# written; the bytes are the transaction (signature included) the member sends. Version
# 1's (b44afb9's hand-written classes) had no expiry, version 2's no issue time: neither
# decodes.
VECTORS: list[tuple[Any, str, str]] = [
    (
        Withdrawal(ME, 3, 8453, TOKEN, 1_234_567, OTHER, ISSUED, EXPIRY, 42, b""),
        "e339fb4c9b772b3e910b81b51b50ca4965e8c3862421bb8a87e8793b19a8f1a6",
        "9c0305c414faafcc1432978a51831bcdca0b40dc69d9d2f20e03cd2105c4140102030405060708090a0b0c0d"
        "0e0f1011121314ce0012d687c4146465666768696a6b6c6d6e6f7071727374757677cf000001a1fb671800cf"
        "000001a1fb6babe02ac4416705515417e42c4218a2dc11d051eb80a6f1ef54dde6e4eed7b8df853da1e4c605"
        "22bd8e6e674668b99c1f2efe8257d7efc3eff412b8c0bfbb2880a8d29059e71c",
    ),
    (
        Transfer(ME, 0, 7, 0, bytes(20), 500, ISSUED, EXPIRY, 43, b""),
        "eda598739648951fb89d2af805d7aff4c3bf875d5f1325c61782be4973f1cccd",
        "9c0304c414faafcc1432978a51831bcdca0b40dc69d9d2f20e000700c4140000000000000000000000000000"
        "000000000000cd01f4cf000001a1fb671800cf000001a1fb6babe02bc441f60a37241f9a1a084b6c36d45608"
        "75979a47eb579d93cac1d716778de458051c171df58ff03a7f2516621ea3ae4e75d4872380d87473ced446e8"
        "6e1cc6cc68701b",
    ),
    (
        AuthoriseVenue(ME, "alpha-venue", False, ISSUED, EXPIRY, 44, b""),
        "e0291953998fd6093ba962874cda01a6ad30e6ba18f111e45420a81f69c3790c",
        "990302c414faafcc1432978a51831bcdca0b40dc69d9d2f20eab616c7068612d76656e7565c2cf000001a1fb"
        "671800cf000001a1fb6babe02cc441c4673c83c7d47407df6b94f9dc5730a8ef0a85b83531a3a381439d8a76"
        "6aec813a6ba19e9f89f0f9c80305fcda904ead011860f783e65a342d00e834ce4098201c",
    ),
    (
        RegisterBidder(ME, True, ISSUED, EXPIRY, 45, b""),
        "f161993857e7ff5f9a019f42db3dad271f8d6067691c728d1865a3ca0db0e6fc",
        "980315c414faafcc1432978a51831bcdca0b40dc69d9d2f20ec3cf000001a1fb671800cf000001a1fb6babe0"
        "2dc44135100b60f3892517b53ef7997a69cbeb83c53b2105dac6145591332c10cb8cb80d196e51e4655db2eb"
        "528625205ace5331f6ef29ca68aa30b02f3d05afa701e31b",
    ),
    (
        AuctionBid(ME, 2, 9, -1_500, ISSUED, EXPIRY, 46, b""),
        "fd2e5b7a5d9e8277eca53ba467ed248e48731aafbacff170a9e3093c43d06f41",
        "9a0316c414faafcc1432978a51831bcdca0b40dc69d9d2f20e0209d1fa24cf000001a1fb671800cf000001a1"
        "fb6babe02ec44173aac19ba6b14cf1abf945ac9f6294b403816fcc7e1112075c6cfc8b5a26a0c70096d8702f"
        "1a57fddb96bfd6915fb3f4cbc55629bfeb2197daf87ecb2c4573061b",
    ),
    (
        OfferClientAccount(ME, TOKEN, "segregated", OTHER, ISSUED, EXPIRY, 47, b""),
        "24019a803acc8cdc423d3872684f7cac44bd2df7a62cd879fa50d1c12ccedec0",
        "9a0317c414faafcc1432978a51831bcdca0b40dc69d9d2f20ec4140102030405060708090a0b0c0d0e0f1011"
        "121314aa73656772656761746564c4146465666768696a6b6c6d6e6f7071727374757677cf000001a1fb6718"
        "00cf000001a1fb6babe02fc4419d866d305730e0f91a7c673048e55f32f5c32ce0906944b996659b0d7df35b"
        "7f07fca8c041ca77693c3be1a4e6af5a1c7454822891fc9eba5fff56ae8a833c291b",
    ),
    (
        AcceptClientAccount(ME, TOKEN, "omnibus", bytes(20), ISSUED, EXPIRY, 48, b""),
        "c70627b33465f892b51041cb6c417d561a320168a7ce76800900593a8de805c8",
        "9a0318c414faafcc1432978a51831bcdca0b40dc69d9d2f20ec4140102030405060708090a0b0c0d0e0f1011"
        "121314a76f6d6e69627573c4140000000000000000000000000000000000000000cf000001a1fb671800cf00"
        "0001a1fb6babe030c4413d9af68e689d646b4d7afe40c8aeecdfea379db7d89570caac14cc6fd262045f25b6"
        "d8b46659c55837a8bdc4acb28d06ac5c9e13aefc7137bf80e1f406feea911b",
    ),
]


@pytest.mark.parametrize(
    ("unsigned", "digest", "encoded"), VECTORS, ids=[type(v[0]).__name__ for v in VECTORS]
)
def test_requests_sign_and_encode_to_their_vectors(
    unsigned: Any, digest: str, encoded: str
) -> None:
    signable = unsigned.signable(CHAIN_ID)
    assert keccak(b"\x19" + signable.version + signable.header + signable.body).hex() == digest
    signed = replace(unsigned, signature=sign_typed(KEY.private_key, signable))
    assert encode_tx(signed).hex() == encoded
    assert decode_tx(bytes.fromhex(encoded)) == signed
    verify_member_signature(ME, signable, signed.signature, "vector", CHAIN_ID)


U64 = 2**64 - 1
SUB_ACCOUNT = ("int", 0, 2**32 - 1)
ADDRESS, SIGNATURE, NONCE = ("bytes", 20), ("bytes", 65), ("int", 0, U64)

# The wire fields and bounds of the hand-written `from_fields` of b44afb9, the oracle
# for the declarations (the client requests' second field was named "address" then),
# with the issue time and the expiry of transaction version 3 (uint64s, as the nonce)
# before the nonce.
WIRE: dict[type[SignedRequest], list[tuple[str, tuple[Any, ...]]]] = {
    Withdrawal: [
        ("member", ADDRESS), ("sub_account", SUB_ACCOUNT), ("chain_id", ("int", 1, U64)),
        ("token", ADDRESS), ("quanta", ("int", 1, U64)), ("recipient", ADDRESS),
        ("issued_at_ms", NONCE), ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    Transfer: [
        ("member", ADDRESS), ("from_sub_account", SUB_ACCOUNT), ("to_sub_account", SUB_ACCOUNT),
        ("asset_chain_id", ("int", 0, U64)), ("token", ADDRESS), ("amount", ("int", 1, U64)),
        ("issued_at_ms", NONCE), ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    AuthoriseVenue: [
        ("member", ADDRESS), ("venue_id", ("str", 64)), ("authorised", ("bool",)),
        ("issued_at_ms", NONCE), ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    RegisterBidder: [
        ("member", ADDRESS), ("registered", ("bool",)), ("issued_at_ms", NONCE),
        ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    AuctionBid: [
        ("member", ADDRESS), ("sub_account", SUB_ACCOUNT), ("auction", ("int", 1, U64)),
        ("premium", ("int", -(2**63 - 1), 2**63 - 1)), ("issued_at_ms", NONCE),
        ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    OfferClientAccount: [
        ("member", ADDRESS), ("client", ADDRESS), ("model", ("str", 64)), ("backup", ADDRESS),
        ("issued_at_ms", NONCE), ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    AcceptClientAccount: [
        ("member", ADDRESS), ("clearing_member", ADDRESS), ("model", ("str", 64)),
        ("backup", ADDRESS), ("issued_at_ms", NONCE), ("expires_ms", NONCE), ("nonce", NONCE),
        ("signature", SIGNATURE),
    ],
}  # fmt: skip


def describe(wire: WireField) -> tuple[Any, ...]:
    if isinstance(wire, Integer):
        return ("int", wire.lo, wire.hi)
    if isinstance(wire, FixedBytes):
        return ("bytes", wire.length)
    return ("str", wire.max_length) if isinstance(wire, Text) else ("bool",)


def test_the_declarations_state_the_wire_fields_of_before() -> None:
    assert set(WIRE) == set(MEMBER_REQUESTS.values())
    for request, fields in WIRE.items():
        assert [(name, describe(wire)) for name, wire in request.SCHEMA.fields] == fields


def valid(kind: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    if kind[0] == "int":
        return st.integers(kind[1], kind[2])
    if kind[0] == "bytes":
        return st.binary(min_size=kind[1], max_size=kind[1])
    if kind[0] == "str":
        return st.text(min_size=1, max_size=kind[1])
    return st.booleans()


def invalid(kind: tuple[Any, ...]) -> st.SearchStrategy[tuple[Any, str]]:
    """A value outside the field's bound, and the words its error must say."""
    others = st.sampled_from([None, 1.5, [1]])
    if kind[0] == "int":
        lo, hi = kind[1], kind[2]
        outside = st.integers(max_value=lo - 1) | st.integers(min_value=hi + 1)
        return st.tuples(outside, st.just(f"outside [{lo}, {hi}]")) | st.tuples(
            st.booleans() | st.binary() | others, st.just("expected an integer")
        )
    if kind[0] == "bytes":
        length = st.binary().filter(lambda b: len(b) != kind[1])
        return st.tuples(length, st.just(f"expected {kind[1]} bytes")) | st.tuples(
            st.text() | st.integers() | others, st.just("expected bytes")
        )
    if kind[0] == "str":
        wrong = st.just("") | st.text(min_size=kind[1] + 1) | st.binary() | st.integers()
        return st.tuples(wrong, st.just(f"expected a string of 1..{kind[1]} chars"))
    return st.tuples(st.integers(0, 1) | others, st.just("expected a bool"))


@st.composite
def requests(draw: st.DrawFn) -> SignedRequest:
    request = draw(st.sampled_from(sorted(WIRE, key=lambda r: r.__name__)))
    return request(*(draw(valid(kind)) for _, kind in WIRE[request]))


@given(requests())
def test_a_valid_request_decodes_to_itself(request: SignedRequest) -> None:
    assert type(request).from_fields(request.to_fields()) == request
    assert decode_tx(encode_tx(request)) == request


@given(requests(), st.data())
def test_a_field_out_of_its_bound_is_refused_by_name(
    request: SignedRequest, data: st.DataObject
) -> None:
    fields = WIRE[type(request)]
    index = data.draw(st.integers(0, len(fields) - 1))
    name, kind = fields[index]
    value, words = data.draw(invalid(kind))
    encoded = request.to_fields()
    encoded[index] = value
    with pytest.raises(DecodeError) as refused:
        type(request).from_fields(encoded)
    assert (refused.value.what, words in refused.value.reason) == (name, True)


@given(requests(), st.integers(0, 10))
def test_a_wrong_number_of_fields_is_refused(request: SignedRequest, count: int) -> None:
    expected = len(WIRE[type(request)])
    assume(count != expected)
    with pytest.raises(DecodeError) as refused:
        type(request).from_fields((request.to_fields() * 10)[:count])
    assert refused.value.what == type(request).__name__
    assert refused.value.reason == f"expected {expected} fields, got {count}"


def test_a_request_that_is_not_a_dataclass_is_refused() -> None:
    with pytest.raises(SchemaError, match="above @dataclass"):

        @member_request
        class Loose(SignedRequest):
            member: SignedAddress
            signature: Signature


def declare(fields: str) -> None:
    """Declare the request ``Typo`` with ``fields`` as a module does (its annotations are
    strings, read from the module's names)."""
    source = (
        "@member_request\n@dataclass(frozen=True, slots=True)\n"
        f"class Typo(SignedRequest):\n{fields}"
    )
    exec(source, dict(vars(request_schema)))


@pytest.mark.parametrize(
    ("annotation", "reason"),
    [
        ("int", "expected one wire field"),
        ("Annotated[str, Integer('uint64')]", "declared str, but Integer is int"),
        ("Annotated[int, Integer('uint32', 0, 2**32)]", "does not fit uint32"),
        ("Annotated[int, Integer('int64', -(2**63) - 1)]", "does not fit int64"),
        ("Annotated[int, Integer('uint7')]", "'uint7' is not an EIP-712 integer type"),
        ("Annotated[int, Integer('unit64')]", "'unit64' is not an EIP-712 integer type"),
        ("Annotated[bytes, FixedBytes(32, 'address')]", "an address is 20 bytes, not 32"),
        ("Annotated[bytes, FixedBytes(20, 'address', signed_as='member')]", "'member' twice"),
        ("Signature", "only the last field, the signature, is unsigned"),
    ],
)
def test_a_declaration_at_odds_with_its_class_fails_at_import(annotation: str, reason: str) -> None:
    with pytest.raises(SchemaError) as refused:
        declare(
            f"    member: SignedAddress\n    typo: {annotation}\n{COMMON}    signature: Signature\n"
        )
    assert (refused.value.request, refused.value.field) == ("Typo", "typo")
    assert reason in refused.value.reason


COMMON = "    issued_at_ms: IssuedAtMs\n    expires_ms: ExpiresMs\n    nonce: Nonce\n"


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ("    member: SignedAddress\n    nonce: Nonce\n    signature: Signature\n", "issued_at_ms"),
        (
            "    member: SignedAddress\n    expires_ms: ExpiresMs\n    nonce: Nonce\n"
            "    signature: Signature\n",
            "issued_at_ms",
        ),
        (
            "    member: SignedAddress\n    issued_at_ms: IssuedAtMs\n"
            "    expires_ms: Annotated[int, Integer('uint32')]\n    nonce: Nonce\n"
            "    signature: Signature\n",
            "expires_ms",
        ),
        (f"    member: SignedName\n{COMMON}    signature: Signature\n", "member"),
        (
            "    member: SignedAddress\n    issued_at_ms: IssuedAtMs\n    expires_ms: ExpiresMs\n"
            "    signature: Signature\n",
            "nonce",
        ),
    ],
)
def test_a_request_without_the_fields_of_every_request_fails_at_import(
    fields: str, missing: str
) -> None:
    with pytest.raises(SchemaError) as refused:
        declare(fields)
    assert refused.value.field == missing
    assert "every request declares it as" in refused.value.reason


def test_a_request_without_its_signature_last_fails_at_import() -> None:
    with pytest.raises(SchemaError) as refused:
        declare(f"    member: SignedAddress\n{COMMON}")
    assert (refused.value.field, refused.value.reason) == (
        "nonce",
        "expected signed fields, then the signature",
    )

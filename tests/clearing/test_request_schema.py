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
from clearing.client_requests import AcceptClientAccount, OfferClientAccount
from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.eip712 import sign_typed, verify_member_signature
from clearing.errors import DecodeError
from clearing.member_requests import MEMBER_REQUESTS
from clearing.request_schema import (
    Address,
    FixedBytes,
    Integer,
    SchemaError,
    Signature,
    SignedRequest,
    Text,
    WireField,
    member_request,
)
from clearing.sandbox import derive_member_key
from clearing.transfer import Transfer
from clearing.tx import decode_tx, encode_tx
from clearing.venues import AuthoriseVenue
from clearing.withdrawal import Withdrawal

CHAIN_ID = 31337
KEY = derive_member_key("vector")
ME, TOKEN, OTHER = KEY.address, bytes(range(1, 21)), bytes(range(100, 120))

# Computed with the hand-written classes of b44afb9 (before the declarations): the
# transaction bytes (signature included) and the EIP-712 digest each member signed.
VECTORS: list[tuple[Any, str, str]] = [
    (
        Withdrawal(ME, 3, 8453, TOKEN, 1_234_567, OTHER, 42, b""),
        "1889e0b7bc96684a83c1a6512c0f5152d44cd9b80bafcd50d076cdbf71e4d9da",
        "9a0105c414faafcc1432978a51831bcdca0b40dc69d9d2f20e03cd2105c4140102030405060708090a0b0c"
        "0d0e0f1011121314ce0012d687c4146465666768696a6b6c6d6e6f70717273747576772ac4416a5b45153b"
        "4f5247160764dbe3cbbcc65d9527d589320ec143ef3da44ec58e795009e9cfdd5339d8957272fec4331a4d"
        "52a899dec4328f080bb5a31fe7647ad01c",
    ),
    (
        Transfer(ME, 0, 7, 0, bytes(20), 500, 43, b""),
        "ef418adc1ecf20fa8dbfc3441b573af185a6559950bd0f6e32530f562b4f9994",
        "9a0104c414faafcc1432978a51831bcdca0b40dc69d9d2f20e000700c41400000000000000000000000000"
        "00000000000000cd01f42bc4416040a24def711f04c7c0cc7f8af2ace4051186fa07c00225f512462fa454"
        "04246194cd20f36b90e1dc303cd79120583e36fd8d4c9847c6ed5c64f4d8058a6ffa1b",
    ),
    (
        AuthoriseVenue(ME, "alpha-venue", False, 44, b""),
        "67de95a8198f5b1eddd087b150693d6eae51e8415ff23cfa6576b0a44c909c50",
        "970102c414faafcc1432978a51831bcdca0b40dc69d9d2f20eab616c7068612d76656e7565c22cc4418725"
        "44aa085832751a0ecbee896c0fd83e1e4cc06c2193cb2b63c8400ae059b43b8407541dafc97c74468dc3a7"
        "dded005bf4eed8f7f58d54b290c3e2d9ae67861b",
    ),
    (
        RegisterBidder(ME, True, 45, b""),
        "7aa63f9d11e599558951c714a0190c1220e2c20ce6de94c7e276d2b41bbb82cb",
        "960115c414faafcc1432978a51831bcdca0b40dc69d9d2f20ec32dc441248bf4a85d569cafaf38b5c32e4f"
        "8c1c931d9693241394c3c259c5ea16d13267507de5e6f49e2b12547c8ab97fbb477db173a3f33a56525c68"
        "beb526958cfc7e1b",
    ),
    (
        AuctionBid(ME, 2, 9, -1_500, 46, b""),
        "321be2b9c80ba36d35a7ed8d5f18c9d3f786b4e48477e1b6b25d77b933d8ecee",
        "980116c414faafcc1432978a51831bcdca0b40dc69d9d2f20e0209d1fa242ec44154ff677e09c188842841"
        "181a02c1c53d48d4ae1ada4c2146534a522df3a0dc732265bea6b91cdff6b566535afeef98b09c17824f71"
        "287359765b2a9ad66896c61b",
    ),
    (
        OfferClientAccount(ME, TOKEN, "segregated", OTHER, 47, b""),
        "8bdedcf6f571e037aa8819e686b5bdd878f2f1c43740a78c8e0613c2a07621ea",
        "980117c414faafcc1432978a51831bcdca0b40dc69d9d2f20ec4140102030405060708090a0b0c0d0e0f10"
        "11121314aa73656772656761746564c4146465666768696a6b6c6d6e6f70717273747576772fc4410ae32d"
        "080e7332b654c2bb8c8e56f7df96b5dce080ad9e42d5d881e348befe5a74fe761215975012a98f80c633c7"
        "54140f3139bf8e1a02c9fc5a213759af98e51b",
    ),
    (
        AcceptClientAccount(ME, TOKEN, "omnibus", bytes(20), 48, b""),
        "4693d29a79bcf45be891ea2ae207e6a036c7ff6e3f12f39895ddc24f3dd8546e",
        "980118c414faafcc1432978a51831bcdca0b40dc69d9d2f20ec4140102030405060708090a0b0c0d0e0f10"
        "11121314a76f6d6e69627573c414000000000000000000000000000000000000000030c4413349cd067edc"
        "61d5e9801c655f44c819cd1a82ffcb0748871c065792b9aff1647eb45e8366f06dcd13efaad1322c84f0b2"
        "760ba02eb56d64865c57382f6b67841b",
    ),
]


@pytest.mark.parametrize(
    ("unsigned", "digest", "encoded"), VECTORS, ids=[type(v[0]).__name__ for v in VECTORS]
)
def test_requests_sign_and_encode_to_the_bytes_of_before(
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
# for the declarations (the client requests' second field was named "address" then).
WIRE: dict[type[SignedRequest], list[tuple[str, tuple[Any, ...]]]] = {
    Withdrawal: [
        ("member", ADDRESS), ("sub_account", SUB_ACCOUNT), ("chain_id", ("int", 1, U64)),
        ("token", ADDRESS), ("quanta", ("int", 1, U64)), ("recipient", ADDRESS),
        ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    Transfer: [
        ("member", ADDRESS), ("from_sub_account", SUB_ACCOUNT), ("to_sub_account", SUB_ACCOUNT),
        ("asset_chain_id", ("int", 0, U64)), ("token", ADDRESS), ("amount", ("int", 1, U64)),
        ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    AuthoriseVenue: [
        ("member", ADDRESS), ("venue_id", ("str", 64)), ("authorised", ("bool",)),
        ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    RegisterBidder: [
        ("member", ADDRESS), ("registered", ("bool",)), ("nonce", NONCE),
        ("signature", SIGNATURE),
    ],
    AuctionBid: [
        ("member", ADDRESS), ("sub_account", SUB_ACCOUNT), ("auction", ("int", 1, U64)),
        ("premium", ("int", -(2**63 - 1), 2**63 - 1)), ("nonce", NONCE),
        ("signature", SIGNATURE),
    ],
    OfferClientAccount: [
        ("member", ADDRESS), ("client", ADDRESS), ("model", ("str", 64)), ("backup", ADDRESS),
        ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    AcceptClientAccount: [
        ("member", ADDRESS), ("clearing_member", ADDRESS), ("model", ("str", 64)),
        ("backup", ADDRESS), ("nonce", NONCE), ("signature", SIGNATURE),
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
            member: Address
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
        declare(f"    member: Address\n    typo: {annotation}\n    signature: Signature\n")
    assert (refused.value.request, refused.value.field) == ("Typo", "typo")
    assert reason in refused.value.reason


def test_a_request_without_its_signature_last_fails_at_import() -> None:
    with pytest.raises(SchemaError) as refused:
        declare("    member: Address\n    nonce: Nonce\n")
    assert (refused.value.field, refused.value.reason) == (
        "nonce",
        "expected signed fields, then the signature",
    )

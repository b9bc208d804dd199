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
from clearing.member_requests import MEMBER_REQUESTS
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
from clearing.transfer import Transfer
from clearing.tx import decode_tx, encode_tx
from clearing.venues import AuthoriseVenue
from clearing.withdrawal import Withdrawal
from clearnode.client.sandbox_keys import derive_member_key
from lightclient.codec import DecodeError

CHAIN_ID = 31337
KEY = derive_member_key("vector")
ME, TOKEN, OTHER = KEY.address, bytes(range(1, 21)), bytes(range(100, 120))

EXPIRY = 1_795_219_500_000
# Transaction version 2 (the expiry signed before the nonce): each EIP-712 digest was
# checked against eth_account's encode_typed_data when these were written; the bytes
# are the transaction (signature included) the member sends. Version 1's (b44afb9's
# hand-written classes) had no expiry and no longer decode.
VECTORS: list[tuple[Any, str, str]] = [
    (
        Withdrawal(ME, 3, 8453, TOKEN, 1_234_567, OTHER, EXPIRY, 42, b""),
        "ea8bb390adc2228269d68e18274a3cbdf893214c94b231954d3780f8aacf0148",
        "9b0205c414faafcc1432978a51831bcdca0b40dc69d9d2f20e03cd2105c4140102030405060708090a0b0c"
        "0d0e0f1011121314ce0012d687c4146465666768696a6b6c6d6e6f7071727374757677cf000001a1fb6bab"
        "e02ac4412efd2e18a4ca113ccbddef83c2999b0bc40d3e719424fc1e17b59d74e36057a9019032f8dd7ca2"
        "ff6184fd6924088996726927cecb76a50c6045981c06bac3711b",
    ),
    (
        Transfer(ME, 0, 7, 0, bytes(20), 500, EXPIRY, 43, b""),
        "bd6932d860793980c57db3baefe16e9c08d8cf201f2568397dceea4a04dd481f",
        "9b0204c414faafcc1432978a51831bcdca0b40dc69d9d2f20e000700c41400000000000000000000000000"
        "00000000000000cd01f4cf000001a1fb6babe02bc441568c8fffe97c42993e0ab892d580ea8f67c5e3864b"
        "3ad1f228c7606c84123bc12eca95a3f302f42dda060ef7cd136c0aaab603227df97f4838a2de121a97d616"
        "1c",
    ),
    (
        AuthoriseVenue(ME, "alpha-venue", False, EXPIRY, 44, b""),
        "94f8c0bae3f50e1e7d985cd3194ab4850a1cc07f9e62cf3851e03926bfb0d91b",
        "980202c414faafcc1432978a51831bcdca0b40dc69d9d2f20eab616c7068612d76656e7565c2cf000001a1"
        "fb6babe02cc4417b3a2b126ee65c251e667cf3350f71245d25fee2d2d7f0418263e326a4732ad04b9f2bc0"
        "22175cfd5eb6870e9db8503714bd9888e46a8bf78cb4f2b0e9994e561b",
    ),
    (
        RegisterBidder(ME, True, EXPIRY, 45, b""),
        "659f71c027e5e8217aacaee6e6609a177c7c039eb73e81c01669f3b9687ad013",
        "970215c414faafcc1432978a51831bcdca0b40dc69d9d2f20ec3cf000001a1fb6babe02dc441a20d732be3"
        "6bc62495a0c706661988baa32eda79607cf2968b477de03f4918273b79090e86b16c32c9c6afed4ae2da06"
        "0b60323046184e8565c30bf2fb1551001c",
    ),
    (
        AuctionBid(ME, 2, 9, -1_500, EXPIRY, 46, b""),
        "424268a3ab3f911c1634e883d0dfa12f6b76171020704a809e5dafc025522372",
        "990216c414faafcc1432978a51831bcdca0b40dc69d9d2f20e0209d1fa24cf000001a1fb6babe02ec4416e"
        "9f6352aaeb9a9e0a959fea0136888cd359726e47b059f522a6428026a8558c3783f7ba9aaf8e2ff61e9352"
        "c277e581b9ca189b8736d5836443568f6a6e1c701c",
    ),
    (
        OfferClientAccount(ME, TOKEN, "segregated", OTHER, EXPIRY, 47, b""),
        "fa5b3471cccbac8500e7679681f177633135f501aa2175170d5e7c28b3833210",
        "990217c414faafcc1432978a51831bcdca0b40dc69d9d2f20ec4140102030405060708090a0b0c0d0e0f10"
        "11121314aa73656772656761746564c4146465666768696a6b6c6d6e6f7071727374757677cf000001a1fb"
        "6babe02fc44159f7df3fe33bff530ce613e7cf7d3fd16cb21b16990f6d0826d233c5bd32b59a0ecf100fd3"
        "614235a60fb1779373b7989a89fa69db00025b1f5d090ea7dfa47a1c",
    ),
    (
        AcceptClientAccount(ME, TOKEN, "omnibus", bytes(20), EXPIRY, 48, b""),
        "4096c0b7f582c49cf6ae32d6e6f5ef583e16e3f4b607939daa04edae4b3c399c",
        "990218c414faafcc1432978a51831bcdca0b40dc69d9d2f20ec4140102030405060708090a0b0c0d0e0f10"
        "11121314a76f6d6e69627573c4140000000000000000000000000000000000000000cf000001a1fb6babe0"
        "30c441ae87fffc59b9ea71d60c0bc2ce203f8649b33f92d5f8008d6183312a299307f713c850b94658908d"
        "32f350ce7e6d74cc32472af4e043b50584f5ea722e8bfd4e1b",
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
# with the expiry of transaction version 2 (a uint64, as the nonce) before the nonce.
WIRE: dict[type[SignedRequest], list[tuple[str, tuple[Any, ...]]]] = {
    Withdrawal: [
        ("member", ADDRESS), ("sub_account", SUB_ACCOUNT), ("chain_id", ("int", 1, U64)),
        ("token", ADDRESS), ("quanta", ("int", 1, U64)), ("recipient", ADDRESS),
        ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    Transfer: [
        ("member", ADDRESS), ("from_sub_account", SUB_ACCOUNT), ("to_sub_account", SUB_ACCOUNT),
        ("asset_chain_id", ("int", 0, U64)), ("token", ADDRESS), ("amount", ("int", 1, U64)),
        ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    AuthoriseVenue: [
        ("member", ADDRESS), ("venue_id", ("str", 64)), ("authorised", ("bool",)),
        ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    RegisterBidder: [
        ("member", ADDRESS), ("registered", ("bool",)), ("expires_ms", NONCE), ("nonce", NONCE),
        ("signature", SIGNATURE),
    ],
    AuctionBid: [
        ("member", ADDRESS), ("sub_account", SUB_ACCOUNT), ("auction", ("int", 1, U64)),
        ("premium", ("int", -(2**63 - 1), 2**63 - 1)), ("expires_ms", NONCE), ("nonce", NONCE),
        ("signature", SIGNATURE),
    ],
    OfferClientAccount: [
        ("member", ADDRESS), ("client", ADDRESS), ("model", ("str", 64)), ("backup", ADDRESS),
        ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
    ],
    AcceptClientAccount: [
        ("member", ADDRESS), ("clearing_member", ADDRESS), ("model", ("str", 64)),
        ("backup", ADDRESS), ("expires_ms", NONCE), ("nonce", NONCE), ("signature", SIGNATURE),
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


COMMON = "    expires_ms: ExpiresMs\n    nonce: Nonce\n"


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ("    member: SignedAddress\n    nonce: Nonce\n    signature: Signature\n", "expires_ms"),
        (
            "    member: SignedAddress\n    expires_ms: Annotated[int, Integer('uint32')]\n"
            "    nonce: Nonce\n    signature: Signature\n",
            "expires_ms",
        ),
        (f"    member: SignedName\n{COMMON}    signature: Signature\n", "member"),
        (
            "    member: SignedAddress\n    expires_ms: ExpiresMs\n    signature: Signature\n",
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

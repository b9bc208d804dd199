from typing import get_args

import msgpack
import pytest

from clearing.collateral import CollateralCredit
from clearing.member_authorisation import spend_refused_nonce
from clearing.request_schema import SignedRequest
from clearing.transition.member_requests import MEMBER_REQUESTS
from clearing.transition.trade import Trade, TradeBatch, sign_trade_batch, spend_refused_trade_ids
from clearing.transition.tx import (
    KIND_OF,
    KINDS,
    MAX_TX_BYTES,
    TX_VERSION,
    Transaction,
    decode_tx,
    encode_tx,
    get_records_submitted_by,
    get_tx_kind,
)
from clearing.transition.withdrawal import WithdrawalPaid
from clearing.tx_kind import Priority, Submitter
from clearing.withdrawal_expiry import WithdrawalExpired
from clearnode.client.sandbox_keys import derive_ed25519_key
from records.codec import DecodeError, pack
from tests.clearing.support import ALICE, BOB, USDC, new_sandbox


def _examples() -> list[object]:
    box = new_sandbox()
    return [
        box.credit(ALICE.address, USDC, 5, signers=3),
        box.transfer(ALICE, 0, 1, 7),
        box.withdraw(ALICE, USDC, 3),
        box.authorise(ALICE, "alpha"),
        box.paid(ALICE.address, 3, USDC[0]),
        box.prices({"BTC/0.001": 61_000_000}, {"BTC-PERP": 61_000_000}),
        sign_trade_batch(
            derive_ed25519_key("venue-alpha"),
            box.chain_id,
            "alpha",
            9,
            (Trade(1, "BTC-PERP", ALICE.address, 0, BOB.address, 2, 60_000_000, 3),),
            *box.get_times(),
        ),
    ]


@pytest.mark.parametrize("tx", _examples(), ids=lambda tx: type(tx).__name__)
def test_every_kind_round_trips(tx: object) -> None:
    raw = encode_tx(tx)  # type: ignore[arg-type]
    assert decode_tx(raw) == tx
    assert msgpack.unpackb(raw)[:2] == [TX_VERSION, tx.KIND]  # type: ignore[attr-defined]


BAD = [
    (b"\xc1", "not msgpack"),
    (pack({"a": 1}), "max_map_len"),
    (pack(5), "expected a list"),
    (pack([TX_VERSION]), "expected [version, kind"),
    (pack([1, 4]), "version 1 is not 3"),  # before requests expired
    (pack([2, 4]), "version 2 is not 3"),  # before they were signed with their issue time
    (pack([TX_VERSION, 99]), "unknown kind 99"),
    (pack([TX_VERSION, 4, b"x"]), "expected 10 fields"),
    (
        pack([TX_VERSION, 4, b"\x00" * 20, 0, 1, 0, b"\x00" * 20, 0, 8, 9, 1, b"\x00" * 65]),
        "outside",
    ),
    (
        pack([TX_VERSION, 4, b"\x00" * 19, 0, 1, 0, b"\x00" * 20, 5, 8, 9, 1, b"\x00" * 65]),
        "20 bytes",
    ),
    (
        pack([TX_VERSION, 4, b"\x00" * 20, "0", 1, 0, b"\x00" * 20, 5, 8, 9, 1, b"\x00" * 65]),
        "integer",
    ),
    (
        pack([TX_VERSION, 4, b"\x00" * 20, 0, 1, 0, b"\x00" * 20, 5, -1, 9, 1, b"\x00" * 65]),
        "outside",
    ),
    (pack([TX_VERSION, 2, b"\x00" * 20, "alpha", 1, 8, 9, 0, b"\x00" * 65]), "bool"),
    (pack([TX_VERSION, 1, "alpha", 1, 9, [], b"\x00" * 64]), "expected 6 fields"),  # no issue time
    (
        pack([TX_VERSION, 6, [[b"\x00" * 32, 1, [["b", 1], ["a", 1]], [], b"\x00" * 64]]]),
        "increasing",
    ),
    (pack([TX_VERSION, 3, [1, b"", b"", 0, b"", 0, b"", 1], []]), "version 1 is not 3"),  # v1
    (pack([TX_VERSION, 3, [2, 1, b"", b"", 0, 1, b"", 0, b"", 1], []]), "version 2 is not 3"),
    (pack([TX_VERSION, 3, [3, 1], []]), "expected 11 fields"),
    (pack([TX_VERSION, 3, [3, 1, b"", b"", 0, 1, b"", 0, b"", 1, 0], [[b"", b""]]]), "20 bytes"),
]


@pytest.mark.parametrize(("raw", "reason"), BAD)
def test_malformed_input_is_a_decode_error(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_tx(raw)
    assert reason in str(info.value)


def test_oversized_input_is_rejected_before_parsing() -> None:
    with pytest.raises(DecodeError, match="exceeds"):
        decode_tx(b"\x00" * (MAX_TX_BYTES + 1))


def test_trailing_bytes_are_rejected() -> None:
    raw = encode_tx(_examples()[1]) + b"\x00"  # type: ignore[arg-type]
    with pytest.raises(DecodeError, match="not msgpack"):
        decode_tx(raw)


def test_a_transactions_kind_is_read_from_its_head_alone() -> None:
    box = new_sandbox()
    assert get_tx_kind(encode_tx(box.credit(ALICE.address, USDC, 5))) == "CollateralCredit"
    # the head names a trade batch; a body nobody could decode is not read
    assert get_tx_kind(pack([TX_VERSION, 1]) + b"\xc1") == "TradeBatch"
    assert get_tx_kind(pack([TX_VERSION - 1, 1])) == "undecodable"  # another version
    assert get_tx_kind(pack([TX_VERSION, 999])) == "undecodable"  # no such kind
    assert get_tx_kind(pack([TX_VERSION])) == "undecodable"  # no kind at all
    assert get_tx_kind(b"\xc1") == "undecodable"  # not msgpack


def test_the_kinds_are_declared_once_and_the_union_names_each() -> None:
    codes = [kind.code for kind in KINDS]
    assert len(set(codes)) == len(codes)
    assert set(get_args(Transaction)) == {kind.record for kind in KINDS}
    assert all(KIND_OF[kind.record] is kind for kind in KINDS)


def test_a_refusal_spends_what_makes_it_final_and_nothing_else() -> None:
    """A member request's nonce, a trade batch's ids; an attested or a validator's
    transaction leaves nothing to spend (the same bytes can never apply twice)."""
    for kind in KINDS:
        if issubclass(kind.record, SignedRequest):
            assert (kind.spend_refused, kind.submitter) == (spend_refused_nonce, Submitter.MEMBER)
            assert kind.priority is Priority.MEMBER
        elif kind.record is TradeBatch:
            assert kind.spend_refused is spend_refused_trade_ids
            assert kind.priority is Priority.TRADES
        else:
            assert kind.spend_refused is None
            assert kind.priority is Priority.SYSTEM


def test_each_route_takes_the_kinds_its_submitter_hands_in() -> None:
    assert get_records_submitted_by(Submitter.VENUE) == (TradeBatch,)
    assert set(get_records_submitted_by(Submitter.BRIDGE)) == {
        CollateralCredit, WithdrawalPaid, WithdrawalExpired
    }  # fmt: skip
    assert set(MEMBER_REQUESTS.values()) == {
        kind.record for kind in KINDS if issubclass(kind.record, SignedRequest)
    }

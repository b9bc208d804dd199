import msgpack
import pytest

from clearing.trade import Trade, sign_trade_batch
from clearing.tx import MAX_TX_BYTES, TX_VERSION, decode_tx, encode_tx, get_tx_kind
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
    (pack([TX_VERSION, 3, [1, b"", b"", 0, b"", 0, b"", 1], []]), "version 1 is not 2"),  # v1
    (pack([TX_VERSION, 3, [3, 1, b"", b"", 0, 1, b"", 0, b"", 1], []]), "version 3 is not 2"),
    (pack([TX_VERSION, 3, [2, 1], []]), "expected 10 fields"),
    (pack([TX_VERSION, 3, [2, 1, b"", b"", 0, 1, b"", 0, b"", 1], [[b"", b""]]]), "20 bytes"),
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

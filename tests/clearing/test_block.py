import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.errors import TimeNotMonotonic, WrongBlockChain, WrongBlockHeight
from clearing.events import make_event
from clearing.transition.block import (
    BlockContext,
    BlockResult,
    TxResult,
    process_block,
    process_transaction,
)
from clearing.transition.root import compute_state_root_from_scratch
from clearing.transition.tx import TX_VERSION
from records.codec import DecodeError, pack
from tests.clearing.support import ALICE, USDC, WETH, new_sandbox


@pytest.mark.parametrize(
    ("ctx", "error"),
    [
        (BlockContext(2, 1795219201000, 4242), WrongBlockHeight),
        (BlockContext(1, 1795219201000, 1), WrongBlockChain),
        (BlockContext(1, 1795219199999, 4242), TimeNotMonotonic),
    ],
)
def test_a_block_out_of_order_changes_nothing(ctx: BlockContext, error: type) -> None:
    box = new_sandbox()
    with pytest.raises(error):
        process_block(box.state, ctx, [])
    assert (box.state.height, box.state.time_ms) == (0, 1795219200000)


def test_transactions_apply_in_order_and_failures_are_isolated() -> None:
    box = new_sandbox()
    credit = box.credit(ALICE.address, WETH, 100)
    txs = [credit, b"\xc1", box.withdraw(ALICE, WETH, 60), credit, box.withdraw(ALICE, WETH, 60)]
    block = box.apply(txs)
    codes = [r.code for r in block.tx_results]
    assert codes == ["ok", "DecodeError", "ok", "DuplicateCredit", "InsufficientCollateral"]
    assert box.state.members[ALICE.address].sub_accounts[0].collateral[WETH] == 40
    assert block.height == box.state.height == 1
    assert block.state_root == compute_state_root_from_scratch(box.state)


def test_epoch_boundary_is_every_epoch_length_blocks() -> None:
    from clearing.transition.block import is_epoch_boundary

    box = new_sandbox()
    assert is_epoch_boundary(box.state, BlockContext(100, 0, 4242))
    assert not is_epoch_boundary(box.state, BlockContext(101, 0, 4242))


def test_an_unknown_kind_is_reported_not_raised() -> None:
    box = new_sandbox()
    (result,) = box.apply([pack([TX_VERSION, 42])]).tx_results
    assert result.code == "DecodeError" and "unknown kind 42" in result.detail


def _valid_raw_txs() -> list[bytes]:
    from clearing.transition.tx import encode_tx

    box = new_sandbox()
    return [
        encode_tx(tx)
        for tx in (
            box.credit(ALICE.address, USDC, 100),
            box.withdraw(ALICE, USDC, 60),
            box.transfer(ALICE, 0, 1, 5),
            box.authorise(ALICE, "alpha"),
            box.prices({"BTC/0.001": 61_000_000}, {"BTC-PERP": 61_000_000}),
            box.paid(ALICE.address, 0, USDC[0]),
        )
    ]


VALID = _valid_raw_txs()


@settings(max_examples=150)
@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255))))
def test_corrupted_transactions_are_rejected_never_raised(
    raw: bytes, edits: list[tuple[int, int]]
) -> None:
    data = bytearray(raw)
    for position, value in edits:
        data[position % len(data)] = value
    box = new_sandbox()
    box.apply([VALID[0]])
    result = process_transaction(box.state, box.next_context(), bytes(data))
    assert result.code == "ok" or result.detail


@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_rejected_never_raised(data: bytes) -> None:
    box = new_sandbox()
    assert not process_transaction(box.state, box.next_context(), data).is_ok()


def test_block_result_encoding_round_trips() -> None:
    box = new_sandbox()
    credit = box.credit(ALICE.address, USDC, 100)
    result = box.apply([credit, b"\xc1", credit])
    assert BlockResult.decode(result.encode()) == result


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (pack([2, 1, [], [], bytes(32)]), "version 2"),
        (pack([1, 1, [["ok", 5, []]], [], bytes(32)]), "detail"),
        (pack([1, 1, [], [["k", [["x", 1.5]]]], bytes(32)]), "float"),
        (pack([1, 1, [], [], bytes(31)]), "32 bytes"),
    ],
)
def test_malformed_block_result_is_a_decode_error(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        BlockResult.decode(data)


def test_events_with_ints_beyond_64_bits_survive_encoding() -> None:
    event = make_event("funding", funding_index=-(2**80), instrument="BTC-PERP", member=b"\x01")
    result = BlockResult(1, (TxResult("ok", "", (event,)),), (event,), bytes(32))
    assert BlockResult.decode(result.encode()) == result

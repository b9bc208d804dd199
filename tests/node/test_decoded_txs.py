"""A transaction is decoded once on its way through a node (node/decoded_txs.py): the
API or gossip decodes it, and the mempool's check, the proposal's and the block find the
record; what is kept is bounded by bytes."""

from __future__ import annotations

from functools import partial

import pytest

from clearing.collateral import CollateralCredit
from clearing.genesis import parse_genesis
from clearing.transition.tx import decode_tx, encode_tx
from clearnode.client.sandbox_keys import derive_member_key
from node.api.bodies import parse_encoded_tx
from node.clearing_app import ClearingApp, compute_proposal_error
from node.decoded_txs import DecodedTxs
from node.p2p.topics import decode_tx_gossip
from node.txcheck import make_clearing_check
from records.codec import DecodeError
from tests.clearing.support import USDC, genesis_doc, new_sandbox
from tests.node.test_app import make_block

ALICE = derive_member_key("alice")


def credits(count: int) -> list[bytes]:
    """Deposits of amounts no other test sends (the node's memo is the process's)."""
    box = new_sandbox()
    return [encode_tx(box.credit(ALICE.address, USDC, 7_654_321 + n)) for n in range(count)]


def test_bytes_decoded_once_give_the_same_record_after() -> None:
    decoded = DecodedTxs()
    raw = credits(1)[0]
    first = decoded.decode(raw)
    assert decoded.decode(bytes(bytearray(raw))) is first  # equal bytes, another object
    assert first == decode_tx(raw) and decoded.decoded == 1


def test_what_is_kept_is_bounded_by_the_bytes_oldest_out_first() -> None:
    raws = credits(3)
    decoded = DecodedTxs(kept_bytes=2 * len(raws[0]))
    for raw in raws:
        decoded.decode(raw)
    assert list(decoded.records) == raws[1:] and decoded.size == 2 * len(raws[0])
    decoded.decode(raws[0])  # dropped: decoded again
    assert decoded.decoded == 4
    too_large = DecodedTxs(kept_bytes=len(raws[0]) - 1)
    too_large.decode(raws[0])
    assert not too_large.records and too_large.size == 0


def test_bytes_that_do_not_decode_are_refused_each_time_and_never_kept() -> None:
    decoded = DecodedTxs()
    for _ in range(2):
        with pytest.raises(DecodeError):
            decoded.decode(b"\x93\x03\x01\xc1")
    assert not decoded.records and decoded.decoded == 0


def test_a_node_decodes_a_transaction_once_from_arrival_to_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The API (or gossip) decodes it; the mempool's check, the proposal's check and the
    block find the record (each decoded it again before: four decodes)."""
    decodes: list[object] = []
    from_fields = CollateralCredit.from_fields

    def counted(fields: object) -> CollateralCredit:
        decodes.append(fields)
        return from_fields(fields)

    monkeypatch.setattr(CollateralCredit, "from_fields", counted)
    app = ClearingApp(parse_genesis(genesis_doc()))
    check = make_clearing_check(lambda: app.state)
    by_api = partial(parse_encoded_tx, content_type="application/msgpack",
                     allowed=(CollateralCredit,))  # fmt: skip
    for arrive, raw in zip((by_api, decode_tx_gossip), credits(2), strict=True):
        decodes.clear()
        arrive(raw)
        check(raw)
        block = make_block(app.height + 1, [raw])
        assert compute_proposal_error(block.txs) is None
        app.finalize_block(block)
        assert app.last_result is not None and app.last_result.tx_results[0].is_ok()
        assert len(decodes) == 1

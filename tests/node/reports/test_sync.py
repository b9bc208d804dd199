"""Report sync (node/reports/sync.py): a node that missed an epoch's gossip fetches the
committed report from its peers, checks it against the committed hash and a quorum of
signatures, penalises wrong answers and backs off while nobody has it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from clearing.transition.root import compute_state_root
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from node.config import ReportsConfig
from node.p2p import Offence
from node.reports.api import ReportsApi
from node.reports.gossip import (
    MAX_ANNOUNCEMENT_BYTES,
    sign_share,
)
from node.reports.inputs import extract_report_inputs
from node.reports.service import ReportsNode
from node.reports.store import ReportStore
from node.reports.sync import (
    PROTOCOL,
    ReportSyncError,
    decode_report_request,
    decode_report_response,
    encode_report_request,
    encode_report_response,
    serve_report_sync,
)
from proofs.drafting import add_signatures
from proofs.report import Report
from tests.node.reports.service_harness import (
    EPOCH_LENGTH,
    FakeP2P,
    build_cached,
    call,
    make_node,
)
from tests.node.reports.support import (
    trading_sandbox,
)


def sign_complete(box: Sandbox, report: Report, signers: range) -> Report:
    """`report` with the signatures of validators `signers`."""
    shares = [sign_share(derive_ed25519_key(f"validator-{i}"), box.chain_id, report.epoch,
                         report.get_hash()) for i in signers]  # fmt: skip
    return add_signatures(report, [s.get_report_signature() for s in shares])


def serving_peer(home: Path, name: str, served: bytes | None) -> tuple[FakeP2P, ReportStore]:
    """A peer answering report requests from its store, holding `served` for epoch 1."""
    p2p = FakeP2P(name)
    store = ReportStore(home / name, keep=3)
    if served is not None:
        store.save_report(1, served)
    serve_report_sync(p2p, store, ReportsConfig().sync_max_bytes)  # type: ignore[arg-type]
    return p2p, store


def committed_epoch_one(tmp_path: Path) -> tuple[Sandbox, Report, ReportsNode, Any]:
    """A full node that has applied a block committing epoch 1's report hash, and that
    unsigned report."""
    box = trading_sandbox(EPOCH_LENGTH)
    while box.state.height < EPOCH_LENGTH:
        box.apply([])
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    unsigned = build_cached(inputs)
    full, ctx = make_node(box, tmp_path / "full", None)
    assert full.fetcher.get_missing() == []  # nothing committed, nothing to fetch
    box.state.report_hashes[1] = unsigned.get_hash()
    return box, unsigned, full, ctx


async def test_a_node_fetches_the_committed_report_and_penalises_wrong_answers(
    tmp_path: Path,
) -> None:
    box, unsigned, full, ctx = committed_epoch_one(tmp_path)
    committed = unsigned.get_hash()
    assert full.fetcher.get_missing() == [(1, committed)]
    good = sign_complete(box, unsigned, range(4))
    answers = {
        "a-none": None,
        "b-other-hash": sign_complete(box, replace(unsigned, state_root=bytes(32)), range(4)),
        "c-no-quorum": sign_complete(box, unsigned, range(2)),
        "d-corrupt": b"not a report",
        "f-good": good,
        "g-good-too": good,
    }
    for name, answer in answers.items():
        served = answer.encode() if isinstance(answer, Report) else answer
        ctx.p2p.peers[name] = serving_peer(tmp_path, name, served)[0]
    garbled = FakeP2P("e-garbled")

    async def answer_garbage(peer: str, data: bytes) -> bytes:
        return b"\x92\x07"  # [7, ...]: not the wire format

    garbled.set_request_handler(PROTOCOL, answer_garbage, 32)
    ctx.p2p.peers["e-garbled"] = garbled

    assert await full.fetcher.fetch(1, committed)
    assert ctx.p2p.asked == ["a-none", "b-other-hash", "c-no-quorum", "d-corrupt", "e-garbled",
                             "f-good"]  # fmt: skip
    assert ctx.p2p.penalized == [
        ("b-other-hash", Offence.BAD_RESPONSE),
        ("c-no-quorum", Offence.BAD_RESPONSE),
        ("d-corrupt", Offence.BAD_RESPONSE),
        ("e-garbled", Offence.UNDECODABLE),
    ]
    assert full.store.get_report(1) == good.encode()
    assert full.fetcher.get_missing() == []
    api = ReportsApi(ctx, full.store, None)
    status, view = await call(api.get_report, {"epoch": "1"})
    assert (status, view["reportHash"]) == (200, "0x" + committed.hex())

    # peers that gossiped validators' shares are asked first
    full.fetcher.add_validator_peer("g-good-too")
    assert full.fetcher.get_peers()[:2] == ["g-good-too", "a-none"]


async def test_the_fetcher_backs_off_until_a_peer_has_the_report_then_rests(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    box, unsigned, full, ctx = committed_epoch_one(tmp_path)
    peer, peer_store = serving_peer(tmp_path, "peer", None)
    ctx.p2p.peers["peer"] = peer
    saved = trio.Event()
    save_report = full.store.save_report

    def save_and_tell(epoch: int, encoded: bytes) -> None:
        save_report(epoch, encoded)
        saved.set()

    full.store.save_report = save_and_tell  # type: ignore[method-assign]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(full.fetcher.run)
        await trio.sleep(10)
        assert ctx.p2p.asked == ["peer"] * 4  # at 0, 1, 3 and 7 s: doubling backoff
        good = sign_complete(box, unsigned, range(3))
        peer_store.save_report(1, good.encode())
        await saved.wait()  # asked at 15 s; read and checked in threads (in real time)
        assert full.store.get_report(1) == good.encode()
        asked = len(ctx.p2p.asked)
        full.fetcher.on_commit()  # a later block: nothing is missing, nobody is asked
        await trio.sleep(600)
        assert len(ctx.p2p.asked) == asked
        nursery.cancel_scope.cancel()
    assert ctx.p2p.penalized == []


async def test_an_unknown_or_oversized_epoch_answers_not_found(tmp_path: Path) -> None:
    peer, _ = serving_peer(tmp_path, "peer", b"x" * 100)
    handler = peer.handlers[PROTOCOL][0]
    assert decode_report_response(await handler("asker", encode_report_request(1, 100))) == (
        b"x" * 100
    )
    assert decode_report_response(await handler("asker", encode_report_request(1, 99))) is None
    assert decode_report_response(await handler("asker", encode_report_request(2, 100))) is None
    for bad in (b"", b"\x93\x02\x01\x01", b"\x93\x01\xc2\x01", b"\x92\x01\x01"):
        with pytest.raises(ReportSyncError):
            decode_report_request(bad)  # the host scores such a request down
    for bad in (b"\x92\x01\x01", b"\x93\x01\x01\x05", b"\x93\x01\x00\xc4\x00",
                b"\x92\xc3\xc2", b"\x81\x01\x00"):  # fmt: skip
        with pytest.raises(ReportSyncError):
            decode_report_response(bad)
    # a report far above a gossip message's cap travels whole
    big = bytes(3 * MAX_ANNOUNCEMENT_BYTES)
    assert decode_report_response(encode_report_response(big)) == big

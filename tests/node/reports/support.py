"""A small trading world for report tests: funded members with offsetting positions."""

from __future__ import annotations

import contextlib
import io
from typing import Any

from clearing.eip712 import sign_typed
from clearing.transition.member_requests import compute_openings_signable
from clearing.transition.root import compute_state_root
from clearing.transition.trade import Trade, TradeBatch, sign_trade_batch
from clearing.tx_kind import TxRecord
from clearnode.client.sandbox_keys import MemberKey, derive_ed25519_key, derive_member_key
from consensus.types import Block, BlockHeader, CommitCertificate
from devnet.sandbox import Sandbox
from lightclient.anchor import StateAnchor
from node.commands import main as clearnode_main
from node.reports.inputs import ReportInputs, extract_report_inputs
from node.storage import NodeStore
from tests.clearing.support import USDC, genesis_doc

VENUE = "alpha"
VENUE_KEY = derive_ed25519_key("venue-alpha")
MARK = 60_000_000  # BTC-PERP at genesis
MEMBERS = [derive_member_key(f"reporter-{n}") for n in range(3)]
SEED = bytes(range(32))


def small_epoch_genesis(epoch_length: int) -> dict[str, Any]:
    doc = genesis_doc()
    doc["epoch_length_blocks"] = epoch_length
    return doc


def funding_txs(box: Sandbox, members: list[MemberKey] = MEMBERS) -> list[TxRecord]:
    """Credits and venue authorisations (one block, before any trade)."""
    txs: list[TxRecord] = [box.credit(m.address, USDC, 10**9) for m in members]
    return txs + [box.authorise(m, VENUE) for m in members]


def trade_batch(box: Sandbox, members: list[MemberKey] = MEMBERS, batch_id: int = 1) -> TradeBatch:
    """Member 0 buys 2 lots of BTC-PERP from member 1, member 2 buys 1 from member 1."""
    a, b, c = members
    trades = (
        Trade(1, "BTC-PERP", a.address, 0, b.address, 0, MARK, 2),
        Trade(2, "BTC-PERP", c.address, 0, b.address, 0, MARK, 1),
    )
    return sign_trade_batch(VENUE_KEY, box.chain_id, VENUE, batch_id, trades, *box.get_times())


def trading_sandbox(epoch_length: int = 5) -> Sandbox:
    box = Sandbox.from_genesis_doc(small_epoch_genesis(epoch_length))
    for txs in (funding_txs(box), [trade_batch(box)]):
        results = box.apply(txs).tx_results
        assert all(r.is_ok() for r in results), results
    return box


def epoch_report_inputs(epoch_length: int = 5) -> tuple[Sandbox, ReportInputs]:
    """The trading world at the end of its first epoch and its report's inputs."""
    box = trading_sandbox(epoch_length)
    while box.state.height % epoch_length:
        assert all(r.is_ok() for r in box.apply([]).tx_results)
    inputs = extract_report_inputs(box.state, compute_state_root(box.state))
    assert inputs is not None
    return box, inputs


def openings_request(
    chain_id: int, member: bytes, epoch: int, signer: MemberKey, issued_ms: int
) -> dict[str, Any]:
    """The body of POST /v1/reports/{epoch}/openings for `member`, signed by `signer`."""
    signable = compute_openings_signable(chain_id, member, epoch, issued_ms)
    return {
        "chainId": chain_id,
        "message": {"member": "0x" + member.hex(), "epoch": epoch, "issuedAtMs": issued_ms},
        "signature": "0x" + sign_typed(signer.private_key, signable).hex(),
    }


def run_verify(argv: list[str]) -> tuple[int, str]:
    """`clearnode verify ARGV`: exit code and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = clearnode_main(["verify", *argv])
    return code, out.getvalue()


def store_chain_to_anchor(blocks: NodeStore, anchor: StateAnchor) -> None:
    """Blocks up to the anchor's header in `blocks`: placeholders before it (never read
    here), then block H+1 (empty) with its certificate, as consensus would store them."""
    for height in range(blocks.latest_height() + 1, anchor.header.height):
        blocks.save_block(height, b"", b"", bytes(32))
    assert isinstance(anchor.header, BlockHeader) and isinstance(anchor.commit, CommitCertificate)
    block = Block(anchor.header, (), None)
    blocks.save_block(anchor.header.height, block.encode(), anchor.commit.encode(), bytes(32))

"""The overview's pieces on real clearing states: health, chains, defaults, and the page."""

from __future__ import annotations

from dataclasses import replace

from bridge.rotation import get_consensus_set
from bridge.validators import EvmValidatorSet
from clearing.context import Equivocation
from clearing.default.events import EventKind
from clearing.events import make_event
from clearing.transition.block import BlockResult, TxResult
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.validator_set import install_validators
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from consensus.types import Block, BlockHeader, CommitCertificate, CommitSig
from node.committed import from_block, from_comet_record
from node.status.journal import RECENT_BLOCKS, Journal
from node.status.overview import build_overview, get_chains, get_health, get_health_status
from node.status.page import render_status_page
from node.status.vaults import VaultView
from node.storage.comet_block import CometBlockRecord
from tests.clearing.support import USDC, new_sandbox

ALICE, BOB = derive_member_key("status-alice"), derive_member_key("status-bob")


def traded_sandbox():  # type: ignore[no-untyped-def]
    box = new_sandbox()
    box.apply([box.credit(m.address, USDC, 10**9) for m in (ALICE, BOB)])
    box.apply([box.authorise(m, "alpha") for m in (ALICE, BOB)])
    trade = Trade(1, "BTC-PERP", ALICE.address, 0, BOB.address, 0, 60_000_000, 1)
    venue = derive_ed25519_key("venue-alpha")
    result = box.apply(
        [sign_trade_batch(venue, box.chain_id, "alpha", 1, (trade,), *box.get_times())]
    )
    assert result.tx_results[0].is_ok(), result.tx_results[0].detail
    return box


def test_health_lists_margined_members_without_positions() -> None:
    box = traded_sandbox()
    rows = get_health(box.state)
    assert {r["member"] for r in rows} == {"0x" + m.address.hex() for m in (ALICE, BOB)}
    for row in rows:
        assert row["maintenance_margin"] > 0 and row["status"] == "ok"
        assert row["health_pct"] == row["equity"] * 100 // row["maintenance_margin"]
        assert "positions" not in row and "quantity" not in row
    assert [r["health_pct"] for r in rows] == sorted(r["health_pct"] for r in rows)


def test_health_status_thresholds() -> None:
    assert get_health_status(5, 0, 0) == "no risk"
    assert get_health_status(99, 100, 200) == "below MM"
    assert get_health_status(150, 100, 200) == "below IM"
    assert get_health_status(200, 100, 200) == "ok"


def test_chains_put_vault_beside_ledger() -> None:
    box = traded_sandbox()
    views = {USDC[0]: VaultView("one", USDC[0], "0xvault", {"USDC": 123}, "", 1)}
    chains = {c["chain_id"]: c for c in get_chains(box.state, views)}
    usdc = next(t for t in chains[USDC[0]]["tokens"] if t["token"] == "0x" + USDC[1].hex())
    quantum = box.state.collateral_tokens[USDC].quantum
    # fees were paid from the USDC at once: those tokens now back cash
    reserve = box.state.settlement_reserves[USDC[0]]
    assert reserve > 0 and usdc["for_cash"] == reserve * quantum
    assert usdc["ledger"] + usdc["for_cash"] == 2 * 10**9 * quantum and usdc["vault"] == 123
    others = [c for c in chains.values() if c["chain_id"] != USDC[0]]
    assert all(c["error"] == "not watched by this node" for c in others)


def test_vault_sets_are_shown_against_the_consensus_set() -> None:
    box = traded_sandbox()
    consensus = get_consensus_set(box.state)
    short = EvmValidatorSet.from_members(3, consensus[:-1])
    views = {USDC[0]: VaultView("one", USDC[0], "0xvault", {}, "", 1, short)}
    (chain,) = [c for c in get_chains(box.state, views) if c["chain_id"] == USDC[0]]
    assert chain["validator_set"] == {"epoch": 3, "validators": len(consensus) - 1,
                                      "consensus_validators": len(consensus),
                                      "status": "rotating"}  # fmt: skip
    views[USDC[0]].validators = EvmValidatorSet.from_members(4, consensus)
    overview = build_overview("n", box.state, Journal(), views, None, detailed=False)
    page = render_status_page(overview, box.state.time_ms)
    assert "<table id='vault-sets'>" in page and "<td>in sync</td>" in page
    unread = [c["validator_set"] for c in get_chains(box.state, {})]
    assert unread and all(v is None for v in unread)


def commit(journal: Journal, height: int, result: BlockResult | None) -> None:
    header = BlockHeader("test", height, 1_000 * height, bytes(32), bytes(32), bytes(32), b"")
    block = Block(header, (), None)
    signer = derive_ed25519_key("validator-0").public_key().public_bytes_raw()
    cert = CommitCertificate(height, 0, block.hash, (CommitSig(signer, bytes(64)),))
    journal.record(from_block(block, cert), bytes(32), result, 1_000 * height + 40)


def test_journal_keeps_recent_blocks_and_waterfall_events_only() -> None:
    journal = Journal()
    seized = make_event(EventKind.COLLATERAL_SEIZED.value, member=ALICE.address, amount=7)
    trade = make_event("trade", member=ALICE.address)
    result = BlockResult(3, (TxResult("ok", "", (trade,)),), (seized,), bytes(32))
    for height in range(1, RECENT_BLOCKS + 5):
        commit(journal, height, result if height == 3 else None)
    assert len(journal.blocks) == RECENT_BLOCKS and journal.blocks[0].commit_ms == 40
    assert [(d.height, d.kind, d.count, d.amount) for d in journal.defaults] == [
        (3, "collateral_seized", 1, 7)
    ]


def test_a_cometbft_block_s_latency_starts_at_this_node_s_acceptance_of_its_proposal() -> None:
    """Its time is the height before's commit, which would count the proposer's wait for
    a transaction too; one it did not see proposed starts at its time, as on ours."""
    journal = Journal()
    record = CometBlockRecord(2, 1_000, bytes(32), bytes(20), (), (), ())
    journal.record(from_comet_record(record, 1_900), bytes(32), None, 1_960)
    journal.record(from_comet_record(record), bytes(32), None, 1_960)
    assert [b.commit_ms for b in journal.blocks] == [960, 60]


def test_page_shows_the_overview_escaped() -> None:
    box = traded_sandbox()
    journal = Journal()
    evil = make_event(EventKind.UNCOVERED.value, member=BOB.address, amount=5, note="<script>")
    commit(journal, 1, BlockResult(1, (), (evil,), bytes(32)))
    overview = build_overview(
        "<node>", box.state, journal, {}, lambda: {"verdict": "VALID"}, detailed=True
    )
    page = render_status_page(overview, box.state.time_ms)
    assert "&lt;node&gt;" in page
    assert "script" not in page  # an event's fields are not shown, only its kind and amount
    assert "uncovered" in page and "VALID" in page and "validator-0" in page
    assert overview["validators"][0]["signed_last_block"] is True


def test_the_validators_shown_are_the_set_in_force_jailed_ones_marked() -> None:
    box = traded_sandbox()
    jailed = box.genesis.validators[1].pubkey
    box.apply([], (Equivocation(jailed, box.state.height),))
    records = dict(box.state.validators)
    del records[box.genesis.validators[3].pubkey]
    added = replace(box.genesis.validators[0], name="validator-4", pubkey=b"\x04" * 32)
    install_validators(box.state, {**records, added.pubkey: added}, box.state.jailed)
    overview = build_overview("node", box.state, Journal(), {}, None, detailed=False)
    shown = [(v["name"], v["power"], v["jailed"]) for v in overview["validators"]]
    assert shown == [("validator-0", 10, False), ("validator-1", 0, True),
                     ("validator-2", 10, False), ("validator-4", 10, False)]  # fmt: skip
    assert "validator-4" in render_status_page(overview, box.state.time_ms)

"""Builders for the governance tests: a sandbox with short governance periods, proposals
and ballots signed by its validators."""

from __future__ import annotations

from typing import Any

from clearing.governance.configuration import get_configuration_fields
from clearing.governance.submit import GovProposal, sign_proposal
from clearing.governance.vote import GovVote, sign_vote
from clearing.governance_changes import Change, ListInstrument, make_listing
from clearing.governance_proposal import GovernanceProposal, VoteChoice
from clearing.transition.block import BlockResult
from devnet.sandbox import Sandbox
from tests.clearing.support import genesis_doc, only_result, snapshot

MIN_DELAY = 5
MAX_VOTING = 50
NEXT_FUTURE = "BTC-26MAR27"
NEXT_FUTURE_MARK = 60_600_000


def gov_sandbox(doc: dict[str, Any] | None = None) -> Sandbox:
    doc = genesis_doc() if doc is None else doc
    doc["governance"] = {"min_delay_blocks": MIN_DELAY, "max_voting_blocks": MAX_VOTING}
    return Sandbox.from_genesis_doc(doc)


def future_doc(instrument_id: str = NEXT_FUTURE, expiry_ms: int = 1805961600000) -> dict[str, Any]:
    """The next quarterly BTC future, as a genesis entry."""
    return {
        "id": instrument_id, "kind": "future", "underlying": "BTC", "index_feed": "BTC/0.001",
        "contract_size": "0.001", "tick_size": 100, "price_band_bps": 500, "fee_bps": 5,
        "settlement": "cash", "expiry_ms": expiry_ms,
    }  # fmt: skip


def next_future_listing(instrument_id: str = NEXT_FUTURE) -> ListInstrument:
    return make_listing(future_doc(instrument_id), NEXT_FUTURE_MARK)


def propose(
    box: Sandbox,
    changes: tuple[Change, ...],
    voting_blocks: int = 2,
    delay: int = MIN_DELAY,
    proposer: int = 0,
) -> GovProposal:
    """Changes whose vote closes ``voting_blocks`` after the next block and, unless they
    are emergency ones, execute ``delay`` blocks after that."""
    deadline = box.state.height + 1 + voting_blocks
    execute = 0 if all(c.EMERGENCY for c in changes) else deadline + delay
    return sign_proposal(box.validator_keys[proposer], box.chain_id, changes, deadline, execute)


def submit(box: Sandbox, tx: GovProposal) -> GovernanceProposal:
    block = box.apply([tx])
    assert block.tx_results[0].is_ok(), block.tx_results[0].detail
    proposal: GovernanceProposal = box.state.proposals[box.state.next_proposal_id - 1]
    return proposal


def ballots(
    box: Sandbox,
    proposal: GovernanceProposal,
    voters: range | list[int],
    choice: VoteChoice = VoteChoice.YES,
    sequence: int = 0,
) -> list[GovVote]:
    return [
        sign_vote(box.validator_keys[v], box.chain_id, proposal, choice, sequence) for v in voters
    ]


def run_until(box: Sandbox, height: int) -> list[BlockResult]:
    """Empty blocks up to and including ``height``."""
    return [box.apply([]) for _ in range(height - box.state.height)]


def event_kinds(block: BlockResult) -> list[str]:
    return [e.kind for e in block.get_events() if e.kind.startswith("gov_")]


def governed(box: Sandbox) -> tuple[object, ...]:
    """Everything a change may touch (not the proposals' own records), as comparable
    values."""
    config = get_configuration_fields(box.state)[:7]  # instruments ... fee split, statuses
    return (*snapshot(box.state), config, box.state.genesis, dict(box.state.open_interest))


def assert_refused(box: Sandbox, tx: GovProposal, code: str) -> str:
    """``tx`` is refused with ``code`` and changes neither the configuration nor the
    proposals; returns the refusal's detail."""
    before, proposals = governed(box), dict(box.state.proposals)
    got, detail = only_result(box.apply([tx]))
    assert got == code, detail
    assert governed(box) == before and box.state.proposals == proposals
    return detail

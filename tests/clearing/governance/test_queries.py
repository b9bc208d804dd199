"""Proposals listed with their tally (clearing/governance/queries.py)."""

from __future__ import annotations

import json

from clearing.genesis import Venue
from clearing.governance.queries import get_proposal, list_proposals
from clearing.governance_changes import AddVenue
from clearing.governance_proposal import VoteChoice
from tests.clearing.governance.support import (
    ballots,
    gov_sandbox,
    next_future_listing,
    propose,
    run_until,
    submit,
)


def test_proposals_are_listed_newest_first_with_their_tally() -> None:
    box = gov_sandbox()
    listing = submit(box, propose(box, (next_future_listing(),), voting_blocks=3))
    venue = submit(box, propose(box, (AddVenue(Venue("beta", b"\x01" * 32)),), voting_blocks=9))
    box.apply(
        ballots(box, listing, [0, 1])
        + ballots(box, listing, [2], VoteChoice.NO)
        + ballots(box, venue, [3], VoteChoice.ABSTAIN)
    )
    run_until(box, listing.deadline_height)
    views = list_proposals(box.state)
    assert [v.proposal.id for v in views] == [venue.id, listing.id]
    assert [v.proposal.id for v in list_proposals(box.state, open_only=True)] == [venue.id]
    shown = json.loads(json.dumps(views[1].to_json()))
    assert shown["status"] == "rejected" and shown["emergency"] is False
    assert shown["tally"] == {
        "yes": 20,
        "no": 10,
        "abstain": 0,
        "total_power": 40,
        "passing": False,
    }
    beta = json.loads(json.dumps(views[0].to_json()))["changes"][0]
    assert beta == {"kind": "add_venue", "venue": "beta", "pubkey": "0x" + "01" * 32}
    assert get_proposal(box.state, 99) is None

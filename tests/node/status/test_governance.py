"""Governance on the status page (node/status/governance.py): open votes, the timelock
and recent outcomes, from a real clearing state."""

from __future__ import annotations

from clearing.genesis import Venue
from clearing.governance_changes import AddVenue, SetInstrumentStatus
from clearing.instruments import InstrumentStatus
from node.api.txs import get_event_view
from node.status.governance import get_failures, get_governance
from node.status.journal import Journal
from node.status.overview import build_overview
from node.status.page import render_status_page
from tests.clearing.governance.support import ballots, gov_sandbox, propose, run_until, submit


def test_votes_the_timelock_and_outcomes_are_shown() -> None:
    box = gov_sandbox()
    venue = submit(box, propose(box, (AddVenue(Venue("beta<", b"\x01" * 32)),)))
    halt = SetInstrumentStatus("BTC-PERP", InstrumentStatus.HALTED)
    emergency = submit(box, propose(box, (halt,), voting_blocks=1))
    view = get_governance(box.state, {})
    assert [r["id"] for r in view["voting"]] == [venue.id, emergency.id]
    assert view["voting"][1]["executes"] == "when it passes"
    box.apply(ballots(box, venue, range(4)))
    assert box.state.height == venue.deadline_height
    view = get_governance(box.state, {})
    (scheduled,) = view["scheduled"]
    assert scheduled["id"] == venue.id and scheduled["executes"] == venue.execute_height
    assert scheduled["blocks_left"] == venue.execute_height - box.state.height
    assert scheduled["changes"] == "add_venue venue=beta< pubkey=0x" + "01" * 32
    assert [(r["id"], r["status"]) for r in view["recent"]] == [(emergency.id, "rejected")]
    overview = build_overview("n", box.state, Journal(), {}, None, detailed=False, failures={})
    page = render_status_page(overview, box.state.time_ms)
    assert "id='gov-scheduled'" in page and "beta&lt;" in page and "beta<" not in page
    assert "rejected" in page
    run_until(box, venue.execute_height)
    view = get_governance(box.state, {})
    assert view["scheduled"] == [] and view["recent"][0]["status"] == "executed"


def test_a_failed_proposal_shows_its_refusal() -> None:
    box = gov_sandbox()
    twins = [
        submit(box, propose(box, (AddVenue(Venue("beta", bytes([n]) * 32)),), voting_blocks=3 - n))
        for n in range(2)
    ]  # both executing at the same height: the second finds beta listed
    box.apply([*ballots(box, twins[0], range(4)), *ballots(box, twins[1], range(4))])
    results = run_until(box, twins[0].execute_height)
    events = [get_event_view(e) for r in results for e in r.get_events()]
    failures = get_failures(events)
    assert failures == {twins[1].id: "VenueListed"}
    recent = {r["id"]: r for r in get_governance(box.state, failures)["recent"]}
    assert (recent[1]["status"], recent[1]["reason"]) == ("executed", "")
    assert (recent[2]["status"], recent[2]["reason"]) == ("failed", "VenueListed")

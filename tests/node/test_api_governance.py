"""Governance on the API (node/api/governance.py) over real sockets, a real mempool and
a real ledger state: validators submit, anyone reads, refusals are typed."""

from __future__ import annotations

from dataclasses import replace

import httpx

from clearing.genesis import Venue
from clearing.governance.submit import sign_proposal
from clearing.governance.vote import sign_vote
from clearing.governance_changes import AddVenue, SetInstrumentStatus
from clearing.governance_proposal import VoteChoice
from clearing.instruments import InstrumentStatus
from clearing.transition.tx import decode_tx, encode_tx
from node.api.tiers import PUBLIC
from tests.node.test_api import Harness, api, error_type

__all__ = ["api"]
BETA = Venue("beta", bytes(range(32)))


async def submit(client: httpx.AsyncClient, path: str, raw: bytes) -> httpx.Response:
    return await client.post(path, json={"tx": "0x" + raw.hex()})


def commit(api: Harness) -> None:
    """The next block with what the mempool holds, recorded as the node's commit does."""
    txs = api.pool.reap(1 << 20)
    result = api.box.apply(txs)
    assert all(r.is_ok() for r in result.tx_results), [r.detail for r in result.tx_results]
    api.pool.update(txs)
    api.app.record_block(result)


def propose_venue(api: Harness, proposer: int = 0) -> bytes:
    box = api.box
    deadline = box.state.height + 3
    execute = deadline + box.genesis.governance.min_delay_blocks
    tx = sign_proposal(box.validator_keys[proposer], box.chain_id, (AddVenue(BETA),), deadline,
                       execute)  # fmt: skip
    return encode_tx(tx)


async def test_a_proposal_and_its_ballots_are_served_with_their_tally(api: Harness) -> None:
    stream = api.app.broker.subscribe()
    response = await submit(api.client, "/v1/governance/proposals", propose_venue(api))
    assert response.status_code == 202, response.text
    commit(api)
    sent = stream.receive_nowait().decode()  # the public stream tells anyone at once
    assert "event: governance\n" in sent and '"kind":"gov_proposal_submitted"' in sent
    proposal = api.box.state.proposals[1]
    for voter, choice in ((1, VoteChoice.YES), (2, VoteChoice.NO)):
        vote = sign_vote(api.box.validator_keys[voter], api.box.chain_id, proposal, choice)
        response = await submit(api.client, "/v1/governance/votes", encode_tx(vote))
        assert response.status_code == 202, response.text
    commit(api)
    listed = (await api.client.get("/v1/governance/proposals")).json()
    assert [p["id"] for p in listed["proposals"]] == [1]
    shown = (await api.client.get("/v1/governance/proposals/1")).json()
    assert shown["changes"] == [
        {"kind": "add_venue", "venue": "beta", "pubkey": "0x" + BETA.pubkey.hex()}
    ]
    assert shown["status"] == "voting" and shown["emergency"] is False
    assert sorted((b["choice"], b["height"]) for b in shown["ballots"]) == [("no", 2), ("yes", 2)]
    power = {v.pubkey: v.power for v in api.box.state.validators.values()}
    keys = api.box.validator_keys
    assert shown["tally"]["yes"] == power[keys[1].public_key().public_bytes_raw()]
    assert shown["tally"]["no"] == power[keys[2].public_key().public_bytes_raw()]
    assert shown["tally"]["passing"] is False
    assert shown["execute_height"] == shown["deadline_height"] + 14_400


async def test_refusals_are_typed_with_their_numbers(api: Harness) -> None:
    box = api.box
    stranger = replace(decode_tx(propose_venue(api)), proposer=bytes(32))
    response = await submit(api.client, "/v1/governance/proposals", encode_tx(stranger))
    assert (response.status_code, error_type(response)) == (422, "NotAValidator")
    too_soon = sign_proposal(box.validator_keys[0], box.chain_id, (AddVenue(BETA),), 5, 6)
    response = await submit(api.client, "/v1/governance/proposals", encode_tx(too_soon))
    assert (response.status_code, error_type(response)) == (422, "DelayTooShort")
    assert response.json()["error"]["details"] == {"execute_height": 6, "earliest": 5 + 14_400}
    halt = sign_proposal(
        box.validator_keys[0], box.chain_id,
        (SetInstrumentStatus("NOPE", InstrumentStatus.HALTED),), 3,
    )  # fmt: skip
    response = await submit(api.client, "/v1/governance/proposals", encode_tx(halt))
    assert (response.status_code, error_type(response)) == (422, "UnknownInstrument")
    response = await submit(api.client, "/v1/governance/votes", propose_venue(api))
    assert (response.status_code, error_type(response)) == (400, "WrongTxKind")
    response = await api.client.post("/v1/governance/votes", json={"tx": "0x00"})
    assert (response.status_code, error_type(response)) == (400, "DecodeError")
    assert len(api.pool) == 0


async def test_unknown_and_malformed_proposal_ids(api: Harness) -> None:
    response = await api.client.get("/v1/governance/proposals/7")
    assert (response.status_code, error_type(response)) == (404, "UnknownProposal")
    assert response.json()["error"]["details"]["next_proposal_id"] == 1
    for bad in ("-1", "x", "1" * 19, "\u0661"):
        response = await api.client.get(f"/v1/governance/proposals/{bad}")
        assert (response.status_code, error_type(response)) == (400, "InvalidField")


async def test_the_configuration_in_force_names_no_member(api: Harness) -> None:
    config = (await api.client.get("/v1/governance/configuration")).json()
    ids = [i["entry"]["id"] for i in config["instruments"]]
    assert ids == [i.id for i in api.box.genesis.instruments]
    assert {i["status"] for i in config["instruments"]} == {"active"}
    assert config["venues"] == [
        {"id": "alpha", "pubkey": "0x" + v.pubkey.hex()} for v in api.box.genesis.venues
    ]
    assert config["risk"] == api.box.genesis.risk
    assert config["governance"] == {"min_delay_blocks": 14_400, "max_voting_blocks": 100_800}
    text = str(config).lower()
    for member in api.box.state.members:
        assert member.hex() not in text


async def test_governance_routes_are_public_or_validator_signed(api: Harness) -> None:
    tiers = {r.doc.path: r.doc.tier for r in api.app.routes if "governance" in r.doc.path}
    assert set(tiers.values()) == {"public", "validator"} and all(
        PUBLIC.serves(t) for t in tiers.values()
    )


async def test_recent_governance_events_are_served_with_their_heights(api: Harness) -> None:
    await submit(api.client, "/v1/governance/proposals", propose_venue(api))
    commit(api)
    proposal = api.box.state.proposals[1]
    vote = sign_vote(api.box.validator_keys[3], api.box.chain_id, proposal, VoteChoice.NO)
    await submit(api.client, "/v1/governance/votes", encode_tx(vote))
    commit(api)
    while api.box.state.height < proposal.deadline_height:
        commit(api)
    served = (await api.client.get("/v1/governance/events")).json()
    kinds = [(e["height"], e["kind"]) for e in served["events"]]
    assert kinds == [(1, "gov_proposal_submitted"), (2, "gov_vote"), (3, "gov_proposal_rejected")]
    assert served["events"][1]["fields"]["choice"] == "no"
    rejected = served["events"][2]["fields"]
    assert (rejected["proposal"], rejected["yes"], rejected["no"]) == (1, 0, 10)

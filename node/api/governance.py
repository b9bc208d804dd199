"""Governance on the API: validators submit signed proposals and ballots; anyone reads
the proposals with their tally, the configuration in force (clearing/governance/
queries.py) and the governance events of recent blocks: submissions, ballots,
decisions, executions and failures with their reason (kept in memory from the commit
listener, like node/api/txs.py). Nothing here is a member's: no position, balance or
trade."""

from __future__ import annotations

from collections import deque

from clearing.governance.queries import get_configuration_view, get_proposal, list_proposals
from clearing.governance.submit import GovProposal
from clearing.governance.vote import GovVote
from clearing.transition.block import BlockResult
from node.api.errors import ApiError
from node.api.events import EventBroker
from node.api.http import Request, Response, json_response
from node.api.node_interface import NodeInterface
from node.api.openapi import RouteDoc
from node.api.routes import RouteHandler
from node.api.submit import submit_encoded
from node.api.txs import get_event_view
from node.limits import MAX_API_BODY_BYTES

MAX_ID_DIGITS = 18  # SQLite and msgpack integers: below 2^63
RECENT_EVENTS = 1_000
GOVERNANCE_PREFIX = "gov_"
STEP_KINDS = frozenset(
    {"instrument_listed", "listing_roll_failed", "instrument_pruned", "validator_jailed",
     "validator_not_jailed"}
)  # fmt: skip
"""Events of the end-of-block steps that change the configuration or the validator set
without a proposal of their own (a listing template's roll, the prune of settled
instruments, jailing)."""


class GovernanceRoutes:
    def __init__(self, node: NodeInterface, broker: EventBroker) -> None:
        self.node = node
        self.broker = broker
        self.events: deque[dict[str, object]] = deque(maxlen=RECENT_EVENTS)
        """The last governance events this node committed, oldest first (lost on restart)."""

    def record_block(self, result: BlockResult) -> None:
        """Keep the block's governance events and send each on the public event stream."""
        for event in result.get_events():
            if event.kind.startswith(GOVERNANCE_PREFIX) or event.kind in STEP_KINDS:
                view = get_event_view(event)
                self.events.append({"height": result.height, **view})
                self.broker.publish("governance", {"height": result.height, "event": view})

    def table(self) -> list[tuple[RouteDoc, RouteHandler]]:
        return [
            (RouteDoc("POST", "/v1/governance/proposals", "submitGovProposal",
                      "Submit a proposal a validator signed with its consensus key (GovProposal); "
                      "refused as the next block would refuse it",
                      "EncodedTx", "Submitted", 202, errors=(401, 409, 413, 415, 422, 503),
                      max_body_bytes=MAX_API_BODY_BYTES, tier="validator"), self.post_proposal),
            (RouteDoc("POST", "/v1/governance/votes", "submitGovVote",
                      "Submit a validator's signed ballot on a proposal (GovVote)",
                      "EncodedTx", "Submitted", 202, errors=(401, 409, 413, 415, 422, 503),
                      max_body_bytes=MAX_API_BODY_BYTES, tier="validator"), self.post_vote),
            (RouteDoc("GET", "/v1/governance/proposals", "listGovProposals",
                      "Proposals still in the state, newest first: status, tally so far, "
                      "deadline and execution heights, changes in plain fields",
                      response="GovProposals", tier="public"), self.get_proposals),
            (RouteDoc("GET", "/v1/governance/proposals/{id}", "getGovProposal",
                      "One proposal with its ballots, tally and outcome",
                      response="GovProposal", errors=(400, 404), tier="public"),
             self.get_proposal),
            (RouteDoc("GET", "/v1/governance/events", "getGovEvents",
                      f"The last {RECENT_EVENTS} governance events this node committed since "
                      "it started, oldest first: proposals submitted, ballots, passed, "
                      "rejected (with the tally), executed, failed (with the refusal)",
                      response="GovEvents", tier="public"), self.get_events),
            (RouteDoc("GET", "/v1/governance/configuration", "getGovConfiguration",
                      "The configuration in force: instruments and statuses, risk parameters, "
                      "venues, external bridges, governance periods",
                      response="GovConfiguration", tier="public"), self.get_configuration),
        ]  # fmt: skip

    async def post_proposal(self, request: Request, _: dict[str, str]) -> Response:
        return await submit_encoded(self.node, request, (GovProposal,))

    async def post_vote(self, request: Request, _: dict[str, str]) -> Response:
        return await submit_encoded(self.node, request, (GovVote,))

    async def get_proposals(self, _: Request, __: dict[str, str]) -> Response:
        state = self.node.get_state()
        views = [view.to_json() for view in list_proposals(state)]
        return json_response(200, {"height": state.height, "proposals": views})

    async def get_proposal(self, _: Request, params: dict[str, str]) -> Response:
        text = params["id"]
        if not (text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS):
            raise ApiError(400, "InvalidField", "id: expected a proposal number", field="id")
        state = self.node.get_state()
        view = get_proposal(state, int(text))
        if view is None:
            raise ApiError(
                404,
                "UnknownProposal",
                f"no proposal {int(text)} in the state at height {state.height} (never "
                "submitted, or finished and pruned)",
                proposal_id=int(text),
                height=state.height,
                next_proposal_id=state.next_proposal_id,
            )
        return json_response(200, {"height": state.height, **view.to_json()})

    async def get_events(self, _: Request, __: dict[str, str]) -> Response:
        height = self.node.get_state().height
        return json_response(200, {"height": height, "events": list(self.events)})

    async def get_configuration(self, _: Request, __: dict[str, str]) -> Response:
        return json_response(200, get_configuration_view(self.node.get_state()))

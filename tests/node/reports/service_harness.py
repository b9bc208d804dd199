"""The reports service's harness for tests without processes or sockets: the worker's
tasks run in the test's process, gossip is recorded and request streams go straight to
the peers' handlers, and a node is built over a sandbox's committed state."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import trio
import trio.testing

from clearing.transition.reported_accounts import AccountKey
from clearing.transition.root import compute_state_root
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from node.api.errors import ApiError
from node.api.http import Request
from node.api.signed_queries import SignedQueries
from node.config import ReportsConfig
from node.p2p import Offence, RequestFailed
from node.reports.gossip import (
    ProofShare,
    ReportAnnouncement,
    SignatureShare,
    decode_reports_message,
)
from node.reports.inputs import ReportInputs
from node.reports.service import ReportsNode
from node.reports.sharing import ProofShareRefused
from node.reports.store import ReportStore
from node.reports.worker import (
    BuiltReport,
    ProvenShare,
    Prover,
    build_unsigned_report,
    complete_unsigned_report,
    prove_share,
)
from node.storage import NodeStore
from proofs import drafting
from proofs.drafting import ProofJob, ProofResult
from proofs.report import Report
from tests.node.reports.support import MEMBERS, SEED, openings_request

EPOCH_LENGTH = 5
QUERY_MAX_AGE_MS = 60_000


_BUILT: dict[bytes, Report] = {}


def build_cached(inputs: ReportInputs) -> Report:
    """One proving per distinct state in the test process (several tests reach the same
    one)."""
    if inputs.state_root not in _BUILT:
        _BUILT[inputs.state_root] = build_unsigned_report(inputs, SEED)
    return _BUILT[inputs.state_root]


class InProcessWorkers:
    """The worker processes' tasks run in this process (the processes are tested in
    test_building), counting the proofs each stage makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.proofs_made = 0
        self.shares: list[tuple[AccountKey, ...]] = []  # the keys each share was asked for
        self.completed: list[int] = []  # proofs each report completion made itself
        prove_job = drafting.run_proof_job

        def counting(job: ProofJob) -> ProofResult:
            self.proofs_made += 1
            return prove_job(job)

        monkeypatch.setattr(drafting, "run_proof_job", counting)

    async def prove_share(
        self, inputs: ReportInputs, seed: bytes, keys: tuple[AccountKey, ...]
    ) -> ProvenShare:
        await trio.sleep(0)  # every validator starts gathering before the first share is out
        self.shares.append(keys)
        return prove_share(inputs, seed, keys)

    async def complete(
        self, inputs: ReportInputs, seed: bytes, proofs: Mapping[AccountKey, bytes]
    ) -> BuiltReport:
        before = self.proofs_made
        built = complete_unsigned_report(inputs, seed, proofs)
        self.completed.append(self.proofs_made - before)
        return built


class FakeP2P:
    """Gossip recorded; request streams delivered directly to the peers' handlers."""

    def __init__(self, peer_id: str = "self") -> None:
        self.peer_id = peer_id
        self.published: list[bytes] = []
        self.subscribers: list[Any] = []  # called with each message published
        self.handlers: dict[str, Any] = {}
        self.peers: dict[str, FakeP2P] = {}
        self.asked: list[str] = []
        self.penalized: list[tuple[str, Offence]] = []

    async def publish(self, topic: str, data: bytes) -> None:
        assert topic == "reports"
        self.published.append(data)
        for deliver_to in self.subscribers:
            deliver_to(data)

    def set_request_handler(self, protocol: str, handler: Any, max_request_bytes: int) -> None:
        self.handlers[protocol] = (handler, max_request_bytes)

    def connected_peers(self) -> list[str]:
        return sorted(self.peers)

    async def request(
        self, peer: str, protocol: str, data: bytes, max_request: int, max_response: int
    ) -> bytes:
        self.asked.append(peer)
        handler, peer_max_request = self.peers[peer].handlers[protocol]
        assert len(data) <= min(max_request, peer_max_request)
        response: bytes = await handler(self.peer_id, data)
        if len(response) > max_response:
            raise RequestFailed(peer, protocol, "oversized")
        return response

    def penalize(self, peer: str, offence: Offence) -> None:
        self.penalized.append((peer, offence))


class NoProver:
    """For the nodes of a test that builds no report."""

    async def prove_share(self, *_: object) -> ProvenShare:
        raise AssertionError("this test builds no report: pass make_node a prover")

    async def complete(self, *_: object) -> BuiltReport:
        raise AssertionError("this test builds no report: pass make_node a prover")


def make_node(
    box: Sandbox,
    home: Path,
    index: int | None,
    share_wait_s: int = 60,
    prover: Prover | None = None,
) -> tuple[ReportsNode, Any]:
    """A validator (`index`) or a full node (None) over the sandbox's committed state."""
    sources: list[Any] = []
    app = SimpleNamespace(state=box.state, last_result=None, add_proposal_source=sources.append)
    node: Any = SimpleNamespace(chain_id=box.genesis.chain_id)
    api = SimpleNamespace(
        queries=SignedQueries(node, lambda: int(time.time() * 1000), QUERY_MAX_AGE_MS)
    )
    key = None if index is None else derive_ed25519_key(f"validator-{index}")
    config = SimpleNamespace(reports=ReportsConfig(share_wait_s=share_wait_s))
    ctx = SimpleNamespace(genesis=box.genesis, app=app, api=api, p2p=FakeP2P(), config=config,
                          validator_key=key, state=box.state,
                          store=NodeStore(home / "blocks.sqlite3"))  # fmt: skip
    seed = None if index is None else SEED
    store = ReportStore(home / "reports", keep=3)
    service = ReportsNode(ctx, store, seed, prover or NoProver())  # type: ignore[arg-type]
    return service, ctx


async def call(handler: Any, params: dict[str, str], body: object = None) -> tuple[int, Any]:
    request = Request("POST" if body else "GET", "/", {}, {"content-type": "application/json"},
                      json.dumps(body).encode() if body else b"")  # fmt: skip
    try:
        response = await handler(request, params)
    except ApiError as exc:
        return exc.status, exc.type
    return response.status, json.loads(response.body)


def keys_in_force(box: Sandbox) -> set[bytes]:
    """The keys the topic takes shares of: those with power in the set in force."""
    return {key for key, v in box.state.validators.items() if v.power > 0}


def gossip_proofs(validators: list[tuple[ReportsNode, Any]], box: Sandbox) -> list[str]:
    """Each validator's proof shares reach the others as they are published; the
    refusals, as the gossip loop logs them."""
    refused: list[str] = []

    def deliver_from(sender: ReportsNode) -> Any:
        def deliver_proofs(data: bytes) -> None:
            message = decode_reports_message(data, box.chain_id, keys_in_force(box))
            for node, _ in validators:
                if isinstance(message, ProofShare) and node is not sender:
                    try:
                        node.add_proof_share(message)
                    except ProofShareRefused as exc:
                        refused.append(exc.reason)

        return deliver_proofs

    for node, ctx in validators:
        ctx.p2p.subscribers.append(deliver_from(node))
    return refused


def end_first_epoch(nodes: list[tuple[ReportsNode, Any]], box: Sandbox) -> list[ReportsNode]:
    """The validators, their proof shares gossiped to each other, once each has committed
    the first epoch's block (queued for its builder)."""
    gossip_proofs(nodes, box)
    validators = [node for node, _ in nodes]
    for node in validators:
        node.on_commit(SimpleNamespace(height=EPOCH_LENGTH), compute_state_root(box.state))  # type: ignore[arg-type]
    return validators


def get_signature_shares(p2p: FakeP2P, box: Sandbox) -> list[bytes]:
    keys = keys_in_force(box)
    messages = [(d, decode_reports_message(d, box.chain_id, keys)) for d in p2p.published]
    return [data for data, message in messages if not isinstance(message, ProofShare)]


def deliver(data: bytes, nodes: list[ReportsNode], box: Sandbox) -> None:
    """What the topic's first-hop check and the gossip loop do."""
    message = decode_reports_message(data, box.chain_id, keys_in_force(box))
    for node in nodes:
        if isinstance(message, ReportAnnouncement):
            node.add_announcement(message)
        elif isinstance(message, SignatureShare):
            node.add_share(message)


def openings_body(box: Sandbox, epoch: int, signer: Any, issued_ms: int) -> dict[str, Any]:
    return openings_request(box.chain_id, MEMBERS[0].address, epoch, signer, issued_ms)

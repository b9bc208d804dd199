"""Repair fetches: what a peer's message showed this node lacks, asked of that peer.

Our engine asks (`consensus.repair`) when gossip lost something on its way here: a link
that lost one direction keeps a validator's messages from one peer, and the clique does
not relay them (node/p2p/router.py). Two questions, each of the peer whose message just
came over its link to us:

- `/clearnode/proposal/1`, of a voter: the proposal of a height and round its vote
  names. It answers from its engine (the proposals of its current and previous height)
  as the consensus topic sends them, compact or whole.
- `/clearnode/commit/1`, of a peer whose message is of the next height: the commit
  certificate of ours. It answers its latest (or the one before, its store's).

What a peer does not hold it answers as nil, which is no offence (it may have moved
on). An answer that is not what was asked (another height or round, not a proposal) is
a bad response, scored down; one that is goes to the driver, whose engine checks it as
gossip (each signature).

Outcomes are counted in `clearnode_p2p_events_total{scope="proposal_fetch"}` and
`{scope="commit_fetch"}`: a validator asking often has a link that loses messages.

Wire (msgpack lists, first element the format version):
  proposal request   [1, height, round]
  proposal response  [1, proposal or nil]        the consensus message's bytes
  commit request     [1, height]
  commit response    [1, certificate or nil]     the certificate's fields
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from consensus.compact import CompactProposal
from consensus.messages import decode_message
from consensus.types import CommitCertificate, Proposal
from node.limits import MAX_CONSENSUS_GOSSIP_BYTES
from node.p2p import P2PNode, RequestFailed
from records.codec import WIRE_VERSION, DecodeError, expect_int, expect_versioned, pack, unpack

log = logging.getLogger(__name__)

PROPOSAL_PROTOCOL = "/clearnode/proposal/1"
COMMIT_PROTOCOL = "/clearnode/commit/1"
PROPOSAL_SCOPE = "proposal_fetch"
COMMIT_SCOPE = "commit_fetch"
MAX_REQUEST_BYTES = 32
"""msgpack: the list header, the version, two integers of at most 9 bytes each."""
MAX_RESPONSE_BYTES = MAX_CONSENSUS_GOSSIP_BYTES + 16
"""One consensus message, as the topic carries it, with its framing (a certificate is
far smaller)."""

GetProposal = Callable[[int, int], bytes | None]
GetCommit = Callable[[int], CommitCertificate | None]
T = TypeVar("T")


def encode_request(*numbers: int) -> bytes:
    return pack([WIRE_VERSION, *numbers])


def decode_request(data: bytes, what: str, count: int) -> list[int]:
    """The `count` integers of a request."""
    fields = expect_versioned(unpack(data, what, MAX_REQUEST_BYTES), what, count + 1)
    return [expect_int(n, f"{what}[{i}]") for i, n in enumerate(fields[1:], 1)]


def encode_response(answer: object) -> bytes:
    return pack([WIRE_VERSION, answer])


def decode_answer(data: bytes, what: str) -> Any:
    """The answer of a response: None, or what its decoder must check."""
    return expect_versioned(unpack(data, what, MAX_RESPONSE_BYTES), what, 2)[1]


def decode_proposal_response(
    data: bytes, height: int, round_: int
) -> Proposal | CompactProposal | None:
    """The proposal answered, None if the peer holds none; DecodeError unless it is a
    proposal of (`height`, `round_`)."""
    what = "proposal fetch response"
    answer = decode_answer(data, what)
    if answer is None:
        return None
    if not isinstance(answer, bytes):
        raise DecodeError(what, f"the answer is {type(answer).__name__}, not bytes")
    message = decode_message(answer)
    if not isinstance(message, Proposal | CompactProposal):
        raise DecodeError(what, f"a {type(message).__name__}, not a proposal")
    if (message.height, message.round) != (height, round_):
        raise DecodeError(
            what,
            f"the proposal of height {message.height} round {message.round}, "
            f"not of height {height} round {round_}",
        )
    return message


def decode_commit_response(data: bytes, height: int) -> CommitCertificate | None:
    """The certificate answered, None if the peer holds none; DecodeError unless it is
    one of `height` (whether its signatures hold, the engine judges)."""
    what = "commit fetch response"
    answer = decode_answer(data, what)
    if answer is None:
        return None
    certificate = CommitCertificate.from_fields(answer)
    if certificate.height != height:
        raise DecodeError(what, f"the commit of height {certificate.height}, not {height}")
    return certificate


def serve_repairs(node: P2PNode, get_proposal: GetProposal, get_commit: GetCommit) -> None:
    """Answers proposal and commit fetches from the engine's `get_proposal_message` and
    `get_commit`."""

    async def proposal(peer: str, data: bytes) -> bytes:
        height, round_ = decode_request(data, "proposal fetch request", 2)
        return encode_response(get_proposal(height, round_))

    async def commit(peer: str, data: bytes) -> bytes:
        [height] = decode_request(data, "commit fetch request", 1)
        certificate = get_commit(height)
        return encode_response(None if certificate is None else certificate.to_fields())

    node.set_request_handler(PROPOSAL_PROTOCOL, proposal, MAX_REQUEST_BYTES)
    node.set_request_handler(COMMIT_PROTOCOL, commit, MAX_REQUEST_BYTES)


async def fetch_proposal(
    node: P2PNode, peer: str, height: int, round_: int
) -> Proposal | CompactProposal | None:
    """Asks `peer` for the proposal of (`height`, `round_`); None if it has none or the
    request failed (the round's timeouts and re-gossip still run)."""
    request = encode_request(height, round_)
    return await _fetch(
        node, peer, PROPOSAL_PROTOCOL, request, PROPOSAL_SCOPE,
        lambda data: decode_proposal_response(data, height, round_),
    )  # fmt: skip


async def fetch_commit(node: P2PNode, peer: str, height: int) -> CommitCertificate | None:
    """Asks `peer` for the commit certificate of `height`; None if it has none or the
    request failed (block sync still catches the node up)."""
    request = encode_request(height)
    return await _fetch(
        node, peer, COMMIT_PROTOCOL, request, COMMIT_SCOPE,
        lambda data: decode_commit_response(data, height),
    )  # fmt: skip


async def _fetch(
    node: P2PNode,
    peer: str,
    protocol: str,
    request: bytes,
    scope: str,
    decode: Callable[[bytes], T | None],
) -> T | None:
    try:
        answer = await node.ask(peer, protocol, request, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES,
                                decode)  # fmt: skip
    except DecodeError as exc:
        log.info("%s from %s refused: %s", scope.replace("_", " "), peer, exc)
        node.counters[scope, "bad_response"] += 1
        return None
    except RequestFailed as exc:
        log.info("%s from %s failed: %s", scope.replace("_", " "), peer, exc)
        node.counters[scope, "failed"] += 1
        return None
    node.counters[scope, "not_held" if answer is None else "received"] += 1
    return answer

"""Transaction fetch: what a compact proposal names and this node lacks, asked of peers.

A compact proposal (`consensus.compact`) names the transactions its proposer took from
its mempool by id; a validator rebuilds the block from its own mempool and asks for the
rest here, first of the peer that published the proposal, then of every other connected
peer, each for what is still missing (BIP 152's getblocktxn / blocktxn, by id rather than
by index: any peer that holds the proposal or the transactions can answer). A caller may
hedge (`hedge_s`): the next peer asked too once the last has been silent that long (a
CometBFT validator's, whose ProcessProposal waits on the fetch; our engine's driver
asks the proposal's voters meanwhile itself). A server answers from the consensus
engine (this and the previous height's proposals; on CometBFT, those of the last few
committed blocks too: node/cometbft/bodies.py) and its mempool; what it does not hold it
answers as nil, which is no offence (it may not have it yet). An answer that is not the
transaction asked for (whose id is not the one requested) is a bad response, scored down.

Transactions are what the `tx` topic already gossips to every allowed peer; only the
peers this host lets in can ask, as for gossip.

Wire (msgpack lists, first element the format version):
  request  [1, [tx_id, ...]]                at most MAX_TXS_PER_REQUEST ids
  response [1, [tx or nil, ...]]            one per id asked, in order
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from clearing.limits import MAX_BLOCK_TXS
from consensus.compact import compute_tx_hash
from lightclient.crypto import HASH_BYTES
from node.limits import MAX_PROPOSAL_BYTES
from node.p2p import P2PNode, RequestFailed
from node.p2p.hedged import ask_in_turn
from records.codec import WIRE_VERSION, DecodeError, expect_list, expect_versioned, pack, unpack

log = logging.getLogger(__name__)

PROTOCOL = "/clearnode/txs/1"
MAX_TXS_PER_REQUEST = MAX_BLOCK_TXS
MAX_REQUEST_BYTES = 16 + MAX_TXS_PER_REQUEST * (HASH_BYTES + 2)
"""msgpack: the version and list headers, then 2 bytes of bin header per id."""
MAX_RESPONSE_BYTES = MAX_PROPOSAL_BYTES
"""The transactions of one block at most, with their framing."""

GetTx = Callable[[bytes], bytes | None]


def encode_request(tx_ids: Sequence[bytes]) -> bytes:
    return pack([WIRE_VERSION, list(tx_ids)])


def decode_request(data: bytes) -> list[bytes]:
    tx_ids = _unpack_items(data, "tx fetch request")
    if len(tx_ids) > MAX_TXS_PER_REQUEST:
        raise DecodeError("tx fetch request", f"{len(tx_ids)} ids, at most {MAX_TXS_PER_REQUEST}")
    if not all(isinstance(i, bytes) and len(i) == HASH_BYTES for i in tx_ids):
        raise DecodeError("tx fetch request", f"an id is not {HASH_BYTES} bytes")
    return tx_ids


def encode_response(txs: Sequence[bytes | None]) -> bytes:
    return pack([WIRE_VERSION, list(txs)])


def decode_response(data: bytes, tx_ids: Sequence[bytes]) -> list[bytes]:
    """The transactions found, each checked to be the one asked for at its place."""
    answers = _unpack_items(data, "tx fetch response")
    if len(answers) != len(tx_ids):
        raise DecodeError("tx fetch response", f"{len(answers)} answers to {len(tx_ids)} ids")
    found = []
    for index, (tx_id, tx) in enumerate(zip(tx_ids, answers, strict=True)):
        if tx is None:
            continue
        if not isinstance(tx, bytes) or compute_tx_hash(tx) != tx_id:
            raise DecodeError("tx fetch response", f"answer {index} is not the transaction asked")
        found.append(tx)
    return found


def _unpack_items(data: bytes, what: str) -> list[Any]:
    """The items of `[version, items]`."""
    _, items = expect_versioned(unpack(data, what, MAX_RESPONSE_BYTES), what, 2)
    return expect_list(items, f"{what}.items")


def serve_txs(node: P2PNode, get_tx: GetTx) -> None:
    """Answers transaction fetches from `get_tx` (the engine's and the mempool's)."""

    async def handle(peer: str, data: bytes) -> bytes:
        return encode_response([get_tx(tx_id) for tx_id in decode_request(data)])

    node.set_request_handler(PROTOCOL, handle, MAX_REQUEST_BYTES)


HEDGE_S = 0.25
"""A hedge for a fetch a validator's vote waits on: a body that did not come with the
gossip is most often behind a link stalled on a lost segment, which holds an ask over
that link as long (a second and more across regions), while an answering peer takes a
round trip."""


async def fetch_txs(
    node: P2PNode, peers: Sequence[str], tx_ids: Sequence[bytes], hedge_s: float = math.inf
) -> list[bytes]:
    """Asks `peers` in turn for what is still missing of `tx_ids`, the next one once each
    asked so far has answered or `hedge_s` passed; returns what was found (possibly not
    all: the caller's proposal then waits, or its round times out) as soon as all was, the
    asks still out cancelled."""
    wanted = list(dict.fromkeys(tx_ids))
    found: dict[bytes, bytes] = {}

    async def ask(peer: str) -> bool:
        got = await ask_peer(node, peer, [i for i in wanted if i not in found])
        found.update((compute_tx_hash(tx), tx) for tx in got)
        return len(found) == len(wanted)

    if wanted:
        await ask_in_turn(list(dict.fromkeys(peers)), hedge_s, ask)
    return list(found.values())


async def ask_peer(node: P2PNode, peer: str, tx_ids: Sequence[bytes]) -> list[bytes]:
    """What `peer` answers of `tx_ids` (nothing if it failed, or answered wrong: scored
    down by the request layer)."""
    try:
        return await node.ask(
            peer, PROTOCOL, encode_request(tx_ids), MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES,
            partial(decode_response, tx_ids=tx_ids),
        )  # fmt: skip
    except DecodeError as exc:
        log.info("transaction fetch from %s refused: %s", peer, exc)
    except RequestFailed as exc:
        log.info("transaction fetch from %s failed: %s", peer, exc)
    return []

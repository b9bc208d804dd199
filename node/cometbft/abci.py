"""The clearing app behind ABCI 2.0: each request CometBFT sends, answered by the same
`ClearingApp` our own engine drives, so the same blocks give the same state roots.

Request by request:
- Info: the height and state root the app holds, so CometBFT replays the blocks it
  lacks (all of them to an app that starts from genesis).
- InitChain: refuses a CometBFT genesis that is not this network's (chain id, initial
  height, validators, and our genesis's hash as the app state); answers the genesis
  state root, which block 1's header then carries.
- Query: CometBFT's peer filter (`filter_peers`): a peer's node id passes if it is the
  node of an allowed peer (node/p2p/allowed_peers.py, followed as the validator set
  changes), its address always; every other query is refused.
- CheckTx: none comes, CometBFT runs without a mempool (its `nop` one; one that came
  would be refused): the node's own admits, records and gossips each transaction as on
  our engine (node/startup/tx_gossip.py).
- PrepareProposal: once a transaction waits in the node's mempool, or its empty-block
  wait has passed (`gather`, as our engine's proposer waits; at once after a block that
  moved the state root, whose proof the next header carries, as CometBFT would), the
  mempool's candidates through `ClearingApp`'s, within CometBFT's byte budget, each one
  the mempool holds (so gossiped) as a reference to it (node/storage/comet_compact.py).
- ProcessProposal: the references resolved (node/cometbft/bodies.py: the mempool, then
  the peers, for at most 2 s: `gather` runs before the answer), the block
  checked as `ClearingApp` checks one, its bodies kept in the store before it is accepted.
- FinalizeBlock: the references resolved (from the peers until found), the block
  applied; each transaction's result is code 0 or 1 with the outcome's type as `data`
  (deterministic: CometBFT hashes it into the next header's results hash), no events
  (CometBFT's RPC would publish them); the validator set's change as CometBFT's updates;
  the app hash is the state root.
- Commit: hands the committed block to the node (store, services, API).
- Snapshots: the store's, offered to CometBFT's state sync, and an empty node restored
  from a peer's (node/cometbft/snapshots.py).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import trio
from google.protobuf.timestamp_pb2 import Timestamp
from tendermint.abci import types_pb2 as abci
from tendermint.crypto import keys_pb2

from clearing.context import BlockContext, Equivocation
from clearing.genesis import Validator
from clearing.limits import MAX_BLOCK_BYTES
from clearing.transition.block import BlockResult
from clearing.upgrade import ReleaseMismatch
from clearing.validator_set import get_active_set_at, has_power
from consensus.compact import MissingTxs
from lightclient.anchor import get_consensus_chain_id
from lightclient.cometbft import get_address
from node.clearing_app import ClearingApp, compute_proposal_error
from node.clock import wall_clock_ms
from node.cometbft.bodies import BlockBodies, FetchBodies, gather_bodies
from node.cometbft.home import get_app_state
from node.cometbft.process import StoppedMidBlock
from node.cometbft.snapshots import AppSnapshots
from node.keys import PeerIdError, get_peer_node_id
from node.mempool import Mempool
from node.storage import NodeStore
from node.storage.comet_block import CometBlockRecord
from node.storage.comet_compact import compact_txs, get_ref_indices, get_referenced, resolve_items
from node.worktime import PROPOSAL_CHECK

log = logging.getLogger(__name__)

APP_VERSION = 1
CODESPACE = "clearnode"
CODE_OK = 0
CODE_REFUSED = 1
"""A transaction clearing refused (it stays in its block, with its outcome type as the
result's data), or a query this app does not answer."""
CODE_NOT_ALLOWED = 3
"""Query only: a peer that is not the node of a validator in force or an observer
(CometBFT's filter_peers then closes its connection before anything is gossiped)."""
FILTER_ID_PATH = "/p2p/filter/id/"
FILTER_ADDR_PATH = "/p2p/filter/addr/"
TX_FIELD_OVERHEAD = 1 + 5
"""What one transaction adds to PrepareProposal's byte count beyond its bytes: the
protobuf field tag and its length varint (at most 5 bytes for a block-sized length)."""


class InitChainError(ValueError):
    """CometBFT's genesis is not this network's: the node must not start on it."""

    def __init__(self, what: str, expected: object, found: object) -> None:
        super().__init__(f"CometBFT genesis {what} is {found!r}, this network's is {expected!r}")
        self.what = what
        self.expected = expected
        self.found = found


@dataclass(frozen=True)
class DecidedBlock:
    """A block CometBFT finalized: as the node stores it, and what applying it gave."""

    record: CometBlockRecord
    result: BlockResult
    referenced: dict[bytes, bytes] = field(default_factory=dict)
    """The bodies the block named by reference, by hash: kept for the peers at Commit."""
    proposal_accepted_ms: int | None = None
    """This node's clock when it accepted the block's proposal (ProcessProposal); None
    for a block it did not see proposed (replayed, or decided while it caught up)."""


def get_time_ms(timestamp: Timestamp) -> int:
    """A block time in Unix milliseconds (CometBFT's BFT time: the same on every node)."""
    return timestamp.seconds * 1000 + timestamp.nanos // 1_000_000


def get_validator_updates(
    before: Iterable[Validator], after: Iterable[Validator]
) -> list[abci.ValidatorUpdate]:
    """The set change `before` -> `after` as CometBFT's updates (power 0 removes a key), in
    key order so every node sends the same list."""
    old = {v.pubkey: v.power for v in before if has_power(v)}
    new = {v.pubkey: v.power for v in after if has_power(v)}
    changed = {key: power for key, power in new.items() if old.get(key) != power}
    changed |= {key: 0 for key in old if key not in new}
    return [
        abci.ValidatorUpdate(pub_key=keys_pb2.PublicKey(ed25519=key), power=power)
        for key, power in sorted(changed.items())
    ]


def fit_proposal(txs: Sequence[bytes], max_tx_bytes: int) -> list[bytes]:
    """The longest prefix of `txs` within CometBFT's budget for a proposal's transactions."""
    chosen, size = [], 0
    for raw in txs:
        size += len(raw) + TX_FIELD_OVERHEAD
        if size > max_tx_bytes:
            break
        chosen.append(raw)
    return chosen


@functools.lru_cache(maxsize=1)
def get_node_ids(peers: frozenset[str]) -> frozenset[str]:
    """The CometBFT node ids of the allowed libp2p `peers`, computed once per change of the
    set (the filter asks at every connection). A peer id holding no Ed25519 key is a node
    no CometBFT can run: left out, said once per change."""
    found = set()
    for peer in peers:
        try:
            found.add(get_peer_node_id(peer))
        except PeerIdError as exc:
            log.warning("allowed peer %s cannot connect to CometBFT: %s", peer, exc.problem)
    return frozenset(found)


async def find_no_bodies(
    height: int, tx_hashes: Sequence[bytes], committed: bool, proposer: str | None = None
) -> dict[int, list[bytes]]:
    """The peers of an app that has none (tests, the replay of a store)."""
    return {}


class ClearingAbci:
    """ABCI 2.0 over a `ClearingApp`: `handle` answers one request.

    `mempool` is the node's (the runtime drops what a block included and rechecks the
    rest at each commit: `TxPool.update`), whose admissions `notice_txs` hears; a
    proposer finding it empty waits up to `empty_block_wait_ms` for one; `on_commit`
    receives each block once it is committed (after FinalizeBlock, at Commit), in height
    order; `allowed_peers` gives the libp2p peer ids allowed to connect now (None:
    everyone), the set the node's own p2p host keeps on the validators in force
    (node/p2p/allowed_peers.py `AllowedPeers`);
    `retain_height` the first height the node's store holds, below which CometBFT may
    prune its own (node/retention.py); `snapshots` the store's snapshots for CometBFT's
    state sync, served and restored from (None: an app without a store offers none and
    refuses every offer); `store` where the bodies of accepted proposals are kept, and
    `fetch_bodies` how the peers are asked for the ones a block names and this node lacks
    (node/cometbft/bodies.py).
    """

    def __init__(
        self,
        app: ClearingApp,
        genesis_hash: bytes,
        mempool: Mempool,
        on_commit: Callable[[DecidedBlock], None],
        *,
        empty_block_wait_ms: int = 0,
        allowed_peers: Callable[[], frozenset[str] | None],
        retain_height: Callable[[], int] = lambda: 1,
        snapshots: AppSnapshots | None = None,
        store: NodeStore | None = None,
        fetch_bodies: FetchBodies = find_no_bodies,
        clock: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.app = app
        self.snapshots = snapshots
        self.retain_height = retain_height
        self.genesis_hash = genesis_hash
        self.mempool = mempool
        self.empty_block_wait_ms = empty_block_wait_ms
        self.on_commit = on_commit
        self.allowed_peers = allowed_peers
        self.finalized: DecidedBlock | None = None
        self.bodies = BlockBodies(mempool.get_tx, store)
        self.fetch_bodies = fetch_bodies
        self.clock = clock
        self.proposals_accepted: dict[bytes, int] = {}
        """When each proposal of the height being decided was accepted, by block hash."""
        self._txs_noticed = trio.Event()
        self._committed_at: float | None = None
        """When the last Commit came (trio's clock), since this app started."""
        self.halted: ReleaseMismatch | None = None
        """Why this release stopped CometBFT after a commit: the next block is another
        release's (an upgrade in place); the node stops with it, not as a crash."""

    def handle(self, request: abci.Request) -> abci.Response:
        """The answer to `request`: the response of the same kind (ABCI names each
        response's field as its request's)."""
        kind = request.WhichOneof("value")
        answer = getattr(self, f"answer_{kind}", None)
        if answer is None:
            raise ValueError(f"ABCI request {kind!r} is not one this app answers")
        return abci.Response(**{kind: answer(getattr(request, kind))})

    def answer_echo(self, request: abci.RequestEcho) -> abci.ResponseEcho:
        return abci.ResponseEcho(message=request.message)

    def answer_flush(self, request: abci.RequestFlush) -> abci.ResponseFlush:
        return abci.ResponseFlush()

    def answer_query(self, request: abci.RequestQuery) -> abci.ResponseQuery:
        """CometBFT's peer filter, asked at every connection: a peer is known by its node
        id, which its handshake proved, so every address passes (a NAT's, a new host's)
        and the id decides. Nothing else: the node's HTTP API serves the state, by tier;
        CometBFT's query path, reachable by whoever reaches its RPC, serves none of it."""
        if request.path.startswith(FILTER_ADDR_PATH):
            return abci.ResponseQuery(code=CODE_OK)
        if request.path.startswith(FILTER_ID_PATH):
            node_id = request.path.removeprefix(FILTER_ID_PATH)
            peers = self.allowed_peers()
            if peers is None or node_id in get_node_ids(peers):
                return abci.ResponseQuery(code=CODE_OK)
            return abci.ResponseQuery(
                code=CODE_NOT_ALLOWED,
                codespace=CODESPACE,
                log=f"node {node_id} is not the node of a validator or observer: refused",
            )
        return abci.ResponseQuery(code=CODE_REFUSED, codespace=CODESPACE, log="no queries")

    def answer_extend_vote(self, request: abci.RequestExtendVote) -> abci.ResponseExtendVote:
        """No vote extensions: oracle observations and bridge attestations travel on the
        node's own topics and enter blocks as attested transactions (docs/architecture.md)."""
        return abci.ResponseExtendVote()

    def answer_verify_vote_extension(
        self, request: abci.RequestVerifyVoteExtension
    ) -> abci.ResponseVerifyVoteExtension:
        accept = abci.ResponseVerifyVoteExtension.ACCEPT
        return abci.ResponseVerifyVoteExtension(status=accept)

    def answer_list_snapshots(
        self, request: abci.RequestListSnapshots
    ) -> abci.ResponseListSnapshots:
        snapshots = [] if self.snapshots is None else self.snapshots.list_snapshots()
        return abci.ResponseListSnapshots(snapshots=snapshots)

    def answer_offer_snapshot(
        self, request: abci.RequestOfferSnapshot
    ) -> abci.ResponseOfferSnapshot:
        if self.snapshots is None:
            return abci.ResponseOfferSnapshot(result=abci.ResponseOfferSnapshot.ABORT)
        return self.snapshots.offer(request)

    def answer_load_snapshot_chunk(
        self, request: abci.RequestLoadSnapshotChunk
    ) -> abci.ResponseLoadSnapshotChunk:
        if self.snapshots is None:
            return abci.ResponseLoadSnapshotChunk()
        chunk = self.snapshots.load_chunk(request.height, request.format, request.chunk)
        return abci.ResponseLoadSnapshotChunk(chunk=chunk)

    def answer_apply_snapshot_chunk(
        self, request: abci.RequestApplySnapshotChunk
    ) -> abci.ResponseApplySnapshotChunk:
        if self.snapshots is None:
            return abci.ResponseApplySnapshotChunk(result=abci.ResponseApplySnapshotChunk.ABORT)
        return self.snapshots.apply_chunk(request)

    def answer_info(self, request: abci.RequestInfo) -> abci.ResponseInfo:
        height = self.app.height
        return abci.ResponseInfo(
            data="clearnode",
            app_version=APP_VERSION,
            last_block_height=height,
            last_block_app_hash=self.app.last_root if height > 0 else b"",
        )

    def answer_init_chain(self, request: abci.RequestInitChain) -> abci.ResponseInitChain:
        genesis = self.app.genesis
        expected_chain = get_consensus_chain_id(genesis.chain_id, self.genesis_hash)
        if request.chain_id != expected_chain:
            raise InitChainError("chain id", expected_chain, request.chain_id)
        if request.initial_height not in (0, 1):
            raise InitChainError("initial height", 1, request.initial_height)
        expected_state = get_app_state(self.genesis_hash)
        try:
            found_state = json.loads(request.app_state_bytes)
        except ValueError:
            found_state = request.app_state_bytes
        if found_state != expected_state:
            raise InitChainError("app state", expected_state, found_state)
        ours = sorted((v.pubkey, v.power) for v in genesis.validators if has_power(v))
        theirs = sorted((v.pub_key.ed25519, v.power) for v in request.validators)
        if ours != theirs:
            raise InitChainError("validators", ours, theirs)
        return abci.ResponseInitChain(app_hash=self.app.last_root)

    def answer_check_tx(self, request: abci.RequestCheckTx) -> abci.ResponseCheckTx:
        """Never asked of a CometBFT without a mempool (node/cometbft/home.py): a
        transaction reaches the node's own mempool by the API or the `tx` topic."""
        return abci.ResponseCheckTx(
            code=CODE_REFUSED, codespace=CODESPACE, log="send transactions to the node's API"
        )

    def notice_txs(self) -> None:
        """The mempool admitted a transaction: a proposer waiting for one proposes."""
        self._txs_noticed.set()

    async def wait_for_txs(self) -> None:
        """Before a proposal is prepared: until the mempool holds a transaction, at most
        until the empty-block wait has passed since the last commit, so an idle network
        makes an empty block that often, as on our engine (consensus/proposal_wait.py).
        Also after a block that moved the state root: CometBFT's own wait would propose
        the block whose header proves the new root at once (its `needProofBlock`), and a
        transaction arriving just after would wait a height more (across regions at
        1,000 trades/s, a commit p50 of 414-429 ms against 365-378 without it), with
        twice the blocks. The new root is proved as on our engine, by the next block,
        whenever it comes. A later round's proposer comes after the propose timeout,
        above the wait (node/config.py), so it proposes at once, as on our engine."""
        if len(self.mempool) or self._committed_at is None:
            return
        self._txs_noticed = trio.Event()
        with trio.move_on_at(self._committed_at + self.empty_block_wait_ms / 1000):
            await self._txs_noticed.wait()

    async def gather(self, request: abci.Request) -> None:
        """Before a request is answered, what it needs while the other connections'
        requests are answered: a PrepareProposal a transaction (`wait_for_txs`); a
        ProcessProposal or a FinalizeBlock the bodies its block's references name that
        this node lacks (node/cometbft/bodies.py), a proposal's for a while, a committed
        block's until found. A Commit's time is noted: the next wait runs from it."""
        kind = request.WhichOneof("value")
        if kind == "commit":
            self._committed_at = trio.current_time()
            return
        if kind == "prepare_proposal":
            await self.wait_for_txs()
            return
        if kind not in ("process_proposal", "finalize_block"):
            return
        asked = getattr(request, kind)
        try:
            resolve_items(asked.txs, self.bodies.get)
        except MissingTxs as missing:
            committed = kind == "finalize_block"
            proposer = self.get_peer_of(asked.proposer_address)
            await gather_bodies(
                self.bodies, asked.height, missing.tx_ids, self.fetch_bodies, committed, proposer
            )

    def get_peer_of(self, address: bytes) -> str | None:
        """The libp2p peer id the genesis or governance gave the validator of CometBFT
        `address` (None: no such validator, or it named none)."""
        key = self.get_keys_by_address().get(address)
        return None if key is None else self.app.state.validators[key].peer_id or None

    def get_keys_by_address(self) -> dict[bytes, bytes]:
        """The known validators' keys by their CometBFT address."""
        return {get_address(key): key for key in self.app.state.validators}

    def answer_prepare_proposal(
        self, request: abci.RequestPrepareProposal
    ) -> abci.ResponsePrepareProposal:
        candidates = self.mempool.reap(MAX_BLOCK_BYTES)
        txs = self.app.prepare_proposal(request.height, get_time_ms(request.time), candidates)
        items = compact_txs(txs, self.mempool.__contains__)
        return abci.ResponsePrepareProposal(txs=fit_proposal(items, request.max_tx_bytes))

    def answer_process_proposal(
        self, request: abci.RequestProcessProposal
    ) -> abci.ResponseProcessProposal:
        """Accepted if its references resolve (`gather` sought them) and the block is one
        clearing can apply; its referenced bodies kept before the answer (a prevote)."""
        with self.app.work.measure(PROPOSAL_CHECK):
            try:
                txs = resolve_items(request.txs, self.bodies.get)
                error = compute_proposal_error(txs)
            except MissingTxs as exc:
                error = str(exc)
        if error is not None:
            log.warning("proposal %s at height %d refused: %s",
                        request.hash.hex()[:12], request.height, error)  # fmt: skip
            return abci.ResponseProcessProposal(status=abci.ResponseProcessProposal.REJECT)
        self.bodies.accept(request.height, get_referenced(request.txs, txs))
        self.proposals_accepted.setdefault(request.hash, self.clock())
        return abci.ResponseProcessProposal(status=abci.ResponseProcessProposal.ACCEPT)

    def get_equivocations(
        self, misbehavior: Iterable[abci.Misbehavior]
    ) -> tuple[Equivocation, ...]:
        """CometBFT's committed evidence as clearing's input (jailing), in block order;
        evidence against an address no known key has is skipped (CometBFT verified it
        against the set of its height, which the state holds)."""
        keys = self.get_keys_by_address()
        found = []
        for item in misbehavior:
            key = keys.get(item.validator.address)
            if key is None:
                log.error("evidence against unknown address %s skipped",
                          item.validator.address.hex())  # fmt: skip
                continue
            found.append(Equivocation(key, item.height))
        return tuple(found)

    def answer_finalize_block(
        self, request: abci.RequestFinalizeBlock
    ) -> abci.ResponseFinalizeBlock:
        state = self.app.state
        ctx = BlockContext(
            request.height,
            get_time_ms(request.time),
            state.chain_id,
            self.get_equivocations(request.misbehavior),
        )
        txs = resolve_items(request.txs, self.bodies.get)  # gathered: MissingTxs halts
        before = get_active_set_at(state, request.height)
        result = self.app.apply_block(ctx, txs)
        ref_indices = get_ref_indices(request.txs)
        after = self.app.state.validator_sets.get(request.height)
        record = CometBlockRecord(
            request.height, ctx.time_ms, request.hash, request.proposer_address,
            tuple(txs), ctx.evidence, ref_indices,
        )  # fmt: skip
        accepted_ms = self.proposals_accepted.get(request.hash)
        self.proposals_accepted.clear()  # the height is decided: its other rounds' are moot
        self.finalized = DecidedBlock(record, result, get_referenced(request.txs, txs), accepted_ms)
        return abci.ResponseFinalizeBlock(
            tx_results=[
                abci.ExecTxResult(
                    code=CODE_OK if r.is_ok() else CODE_REFUSED,
                    data=r.code.encode(),
                    codespace="" if r.is_ok() else CODESPACE,
                )
                for r in result.tx_results
            ],
            validator_updates=[] if after is None else get_validator_updates(before, after),
            app_hash=result.state_root,
        )

    def take_up_new_engine(self) -> None:
        """Before a CometBFT starts beside this app in place of one that stopped
        (node/cometbft/catchup.py): StoppedMidBlock if the one that stopped left a block
        finalized, not committed."""
        if self.finalized is not None:
            raise StoppedMidBlock(self.finalized.record.height)

    def answer_commit(self, request: abci.RequestCommit) -> abci.ResponseCommit:
        if self.finalized is None:
            raise ValueError("Commit without a finalized block")
        block, self.finalized = self.finalized, None
        self.on_commit(block)
        record = block.record
        self.bodies.commit(record.height, block.referenced)
        try:  # the exception response stops CometBFT before it enters the next height
            self.app.check_height(block.record.height + 1)
        except ReleaseMismatch as exc:
            self.halted = exc
            raise
        retain = self.retain_height()
        return abci.ResponseCommit(retain_height=retain if retain > 1 else 0)

"""Report sync: a node missing a committed epoch's complete report fetches it from a peer.

Gossip carries a complete report only up to its message cap, and only to the nodes
online when it is sent; this request/response protocol covers the rest (a full node
that was offline, a validator that was down or skipped its build, a report too big to
gossip). A node that sees a committed report hash (`state.report_hashes`, from blocks
it applied, synced ones included) with no stored report asks its connected peers,
validators first, one at a time, and keeps the first answer whose hash is the
committed one and whose signatures reach quorum of the set that checked its commitment
(`get_report_failures`, `get_report_signers`); a peer that
answers with anything else is scored down. Rounds that find nothing back off.

Wire (msgpack lists, first element the format version), protocol `PROTOCOL`:
  request  [1, epoch, max_bytes]
  response [1, 0]               no report of that epoch stored, or one above `max_bytes`
                                or the server's own cap
           [1, 1, report_bytes] the stored complete report (proofs/FORMAT.md, signed)
Each side caps the report at its `[reports] sync_max_bytes`; the asker sends its cap so
that a server with a larger one answers "not found" instead of an oversized frame.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import trio

from clearing.state import ClearingState
from clearing.validator_set import get_active_set_at
from node.p2p import Offence, P2PNode, RequestFailed
from node.p2p.scoring import compute_backoff_s
from node.reports.store import CommitRecord, ReportStore
from proofs.checks import check_signatures, get_powers
from proofs.errors import ReportDecodeError
from proofs.report import Report, VotingPower, decode_report
from records.codec import DecodeError, expect_int, expect_list, pack, unpack

log = logging.getLogger(__name__)

PROTOCOL = "/clearnode/reports/1"
SYNC_VERSION = 1
NOT_FOUND = 0
FOUND = 1
MAX_REQUEST_BYTES = 32
RESPONSE_OVERHEAD_BYTES = 64  # the response's envelope around the report
GOSSIP_GRACE_S = 2.0  # after a commit, gossip (the fast path) has this long to deliver
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
PREFERRED_PEERS = 64  # validators' peer ids remembered (senders of signature shares)


class ReportSyncError(ValueError):
    """A report-sync message that does not follow the wire format."""


def encode_report_request(epoch: int, max_bytes: int) -> bytes:
    return pack([SYNC_VERSION, epoch, max_bytes])


def decode_report_request(data: bytes) -> tuple[int, int]:
    """The epoch asked for and the asker's size cap; raises ReportSyncError."""
    try:
        fields = expect_list(unpack(data, "report request"), "report request", 3)
        if expect_int(fields[0], "report request version") != SYNC_VERSION:
            raise DecodeError("report request", f"unsupported version {fields[0]!r}")
        return expect_int(fields[1], "epoch"), expect_int(fields[2], "max_bytes")
    except DecodeError as exc:
        raise ReportSyncError(str(exc)) from None


def encode_report_response(encoded_report: bytes | None) -> bytes:
    if encoded_report is None:
        return pack([SYNC_VERSION, NOT_FOUND])
    return pack([SYNC_VERSION, FOUND, encoded_report])


def decode_report_response(data: bytes) -> bytes | None:
    """The report's bytes, None for "not found"; raises ReportSyncError.

    A report may be far bigger than the message cap: the frame's cap (the asker's
    `sync_max_bytes`) bounds the response, so it is decoded with no cap of its own."""
    try:
        fields = unpack(data, "report response", max_bytes=None, max_items=3)
        fields = expect_list(fields, "report response")
        if len(fields) < 2 or expect_int(fields[0], "report response version") != SYNC_VERSION:
            raise DecodeError("report response", f"expected [{SYNC_VERSION}, status, ...]")
        status = expect_int(fields[1], "report response status")
        if status == NOT_FOUND and len(fields) == 2:
            return None
        if status != FOUND or len(fields) != 3 or type(fields[2]) is not bytes:
            raise DecodeError("report response", "expected [1, 0] or [1, 1, report bytes]")
        report: bytes = fields[2]
        return report
    except DecodeError as exc:
        raise ReportSyncError(str(exc)) from None


def get_report_failures(
    report: Report, committed_hash: bytes, validators: Sequence[VotingPower]
) -> list[str]:
    """Why `report` is not the complete report committed as `committed_hash` (none: it is)."""
    if report.get_hash() != committed_hash:
        return ["not the committed hash"]
    return check_signatures(report, get_powers(validators))


def get_report_signers(state: ClearingState, commit: CommitRecord | None) -> list[VotingPower]:
    """Whose signatures a committed report carries: the active set that checked its
    ReportCommitment, in force while block `commit.height` was applied; the set in force
    now when this node has no record of the commit."""
    height = state.height + 1 if commit is None else commit.height
    return [VotingPower(v.pubkey, v.power) for v in get_active_set_at(state, height)]


def serve_report_sync(p2p: P2PNode, store: ReportStore, max_bytes: int) -> None:
    """Answers report requests from the store: a stat for an unknown epoch, the file read
    off the trio loop otherwise."""

    async def handle(peer: str, data: bytes) -> bytes:
        epoch, asker_max = decode_report_request(data)
        size = store.get_report_size(epoch)
        if size is None:
            return encode_report_response(None)
        if size > min(max_bytes, asker_max):
            log.warning("report of epoch %d (%d bytes) not served to %s: above the cap, ours "
                        "%d, its %d", epoch, size, peer, max_bytes, asker_max)  # fmt: skip
            return encode_report_response(None)
        return encode_report_response(await trio.to_thread.run_sync(store.get_report, epoch))

    p2p.set_request_handler(PROTOCOL, handle, MAX_REQUEST_BYTES)


class ReportFetcher:
    """Fetches the committed reports this node lacks, newest first, one at a time.

    Bounded: only the newest `store.keep` committed epochs, and only those the store
    would keep once saved, so a fetched report is never pruned at once and asked again.
    """

    def __init__(
        self,
        p2p: P2PNode,
        store: ReportStore,
        get_committed: Callable[[], Mapping[int, bytes]],
        get_signers: Callable[[int], Sequence[VotingPower]],
        max_bytes: int,
    ) -> None:
        self.p2p = p2p
        self.store = store
        self.get_committed = get_committed
        self.get_signers = get_signers  # epoch -> the set its report is signed by
        self.max_bytes = max_bytes
        self.preferred: OrderedDict[str, None] = OrderedDict()
        self.committed = trio.Event()

    def add_validator_peer(self, peer: str) -> None:
        """`peer` sent a validator's signature share: ask it before the others."""
        self.preferred[peer] = None
        self.preferred.move_to_end(peer)
        if len(self.preferred) > PREFERRED_PEERS:
            self.preferred.popitem(last=False)

    def on_commit(self) -> None:
        self.committed.set()

    def get_missing(self) -> list[tuple[int, bytes]]:
        """(epoch, committed hash) of each report to fetch, newest first."""
        committed = self.get_committed()
        newest = sorted(committed, reverse=True)[: self.store.keep]
        return [(e, committed[e]) for e in newest
                if self.store.get_report_size(e) is None and self.store.is_kept(e)]  # fmt: skip

    def get_peers(self) -> list[str]:
        """Connected peers, those known to be validators first."""
        peers = self.p2p.connected_peers()
        return sorted(peers, key=lambda p: p not in self.preferred)

    async def run(self) -> None:
        attempt = 0
        while True:
            missing = self.get_missing()
            if not missing:
                attempt = 0
                await self.committed.wait()
                self.committed = trio.Event()
                await trio.sleep(GOSSIP_GRACE_S)
                continue
            found = [await self.fetch(epoch, committed) for epoch, committed in missing]
            if all(found):
                attempt = 0
                continue
            await trio.sleep(compute_backoff_s(attempt, BACKOFF_BASE_S, BACKOFF_CAP_S))
            attempt += 1

    async def fetch(self, epoch: int, committed_hash: bytes) -> bool:
        """Asks each connected peer in turn; True once a checked report is stored."""
        for peer in self.get_peers():
            encoded = await self.ask(peer, epoch)
            if encoded is None:
                continue
            failures = await self._check(encoded, committed_hash, self.get_signers(epoch))
            if failures:
                log.warning("report of epoch %d from %s refused: %s", epoch, peer,
                            "; ".join(failures))  # fmt: skip
                self.p2p.penalize(peer, Offence.BAD_RESPONSE)
                continue
            if self.store.get_report_size(epoch) is None:  # gossip may have won meanwhile
                self.store.save_report(epoch, encoded)
                log.info("report of epoch %d fetched from %s: %d bytes", epoch, peer,
                         len(encoded))  # fmt: skip
            return True
        return False

    async def ask(self, peer: str, epoch: int) -> bytes | None:
        """The peer's report of `epoch`, None if it has none or the exchange failed."""
        try:
            data = await self.p2p.request(
                peer, PROTOCOL, encode_report_request(epoch, self.max_bytes), MAX_REQUEST_BYTES,
                self.max_bytes + RESPONSE_OVERHEAD_BYTES,
            )  # fmt: skip
            return decode_report_response(data)
        except RequestFailed as exc:
            log.info("report of epoch %d not fetched from %s: %s", epoch, peer, exc.reason)
        except ReportSyncError as exc:
            log.info("report response from %s refused: %s", peer, exc)
            self.p2p.penalize(peer, Offence.UNDECODABLE)
        return None

    async def _check(
        self, encoded: bytes, committed_hash: bytes, validators: Sequence[VotingPower]
    ) -> list[str]:
        """Decode and check off the trio loop (a big report takes a while)."""

        def check() -> list[str]:
            try:
                report = decode_report(encoded)
            except ReportDecodeError as exc:
                return [f"undecodable: {exc}"]
            return get_report_failures(report, committed_hash, validators)

        return await trio.to_thread.run_sync(check)

"""A stored report as this node serves it: with the anchor of its state root.

The anchor (block H+1's header and commit certificate, H the report's market height,
and every change of the validator set since genesis up to the set that signed the
report) is read from this node's block store and committed state each time, not stored
with the report: it is not part of the report's hash, each node holds its own
certificates, and a report stored before block H+1 was committed gains its anchor once
the block is stored.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from clearing.state import ClearingState
from consensus.types import Block, CommitCertificate
from lightclient.anchor import (
    COMETBFT,
    ENGINE_RECORDS,
    AnchorCommit,
    AnchorHeader,
    SetChange,
    StateAnchor,
)
from node.reports.store import ReportStore
from node.storage import NodeStore
from node.storage.comet_block import SignedHeader
from proofs.errors import ReportDecodeError
from proofs.report import Report, decode_report

log = logging.getLogger(__name__)


def get_state_anchor(
    blocks: NodeStore, state: ClearingState, height: int, signed_at: int | None
) -> StateAnchor | None:
    """The anchor of the state root after block `height`, with the set changes up to the
    set that signs block `signed_at + 1` (what checked a report committed in block
    `signed_at`; the latest committed when None); None until `height + 1` is stored with
    its certificate (on CometBFT, its signed header: node/cometbft/signed_headers.py)."""
    engine = state.genesis.engine
    signed = read_signed_block(blocks, engine, height + 1)
    if signed is None:
        return None
    changes = get_set_changes(blocks, state, state.height if signed_at is None else signed_at)
    return StateAnchor(*signed, changes, engine)


def read_signed_block(
    blocks: NodeStore, engine: str, height: int
) -> tuple[AnchorHeader, AnchorCommit] | None:
    """Block `height`'s header and commit as the engine's chain has them; None while the
    block, or on CometBFT its signed header, is not stored yet."""
    stored = blocks.load_block(height)
    if stored is None or not stored.cert:
        return None
    if engine == COMETBFT:
        signed = SignedHeader.decode(stored.cert)
        return signed.header, signed.commit
    return Block.decode(stored.block).header, CommitCertificate.decode(stored.cert)


def get_set_changes(blocks: NodeStore, state: ClearingState, up_to: int) -> tuple[SetChange, ...]:
    """Each block up to `up_to` whose header names a next validator set other than its
    own, with its certificate and that set. The active set recorded after block h signs
    from h + 2 (consensus's rule), so block h + 1's header names it next."""
    changes = []
    engine = state.genesis.engine
    for changed in sorted(state.validator_sets):
        if changed + 1 > up_to:
            break
        signed = read_signed_block(blocks, engine, changed + 1)
        if signed is None:  # not stored yet: the walk ends here, as the chain does
            break
        header, commit = signed
        pairs = ((v.pubkey, v.power) for v in state.validator_sets[changed])
        validators = ENGINE_RECORDS[engine].powers(pairs)
        if header.next_validators_hash == header.validators_hash:
            continue  # names, addresses or order changed; who signs, with what power, did not
        if header.next_validators_hash != validators.hash:
            log.error("block %d names the next validator set 0x%s, not the one recorded "
                      "after block %d (0x%s): set changes not served past it", changed + 1,
                      header.next_validators_hash.hex(), changed,
                      validators.hash.hex())  # fmt: skip
            break
        changes.append(SetChange(header, commit, validators))
    return tuple(changes)


def get_served_report(
    reports: ReportStore, blocks: NodeStore, state: ClearingState, epoch: int
) -> bytes | None:
    """The report of `epoch` with this node's anchor, encoded; None if none is stored. A
    stored report that does not decode is served as stored, for verifiers to say so."""
    encoded = reports.get_report(epoch)
    if encoded is None:
        return None
    try:
        report = decode_report(encoded)
    except ReportDecodeError:
        return encoded
    return attach_anchor(report, reports, blocks, state).encode()


def attach_anchor(
    report: Report, reports: ReportStore, blocks: NodeStore, state: ClearingState
) -> Report:
    """`report` with this node's anchor of its state root (None until it is stored),
    leading to the set that checked its commitment."""
    commit = reports.get_commit(report.epoch)
    signed_at = None if commit is None else commit.height
    return replace(report, anchor=get_state_anchor(blocks, state, report.height, signed_at))

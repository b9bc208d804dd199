"""A stored report as this node serves it: with the anchor of its state root.

The anchor (block H+1's header and commit certificate, H the report's market height)
is read from this node's block store each time, not stored with the report: it is
not part of the report's hash, each node holds its own certificate, and a report
stored before block H+1 was committed gains its anchor once the block is stored.
"""

from __future__ import annotations

from dataclasses import replace

from consensus.types import Block, CommitCertificate
from lightclient.anchor import StateAnchor
from node.reports.store import ReportStore
from node.storage import NodeStore
from proofs.errors import DecodeError
from proofs.report import Report, decode_report


def get_state_anchor(blocks: NodeStore, height: int) -> StateAnchor | None:
    """The anchor of the state root after block `height`; None until `height + 1` is stored."""
    stored = blocks.load_block(height + 1)
    if stored is None:
        return None
    return StateAnchor(Block.decode(stored.block).header, CommitCertificate.decode(stored.cert))


def get_served_report(reports: ReportStore, blocks: NodeStore, epoch: int) -> bytes | None:
    """The report of `epoch` with this node's anchor, encoded; None if none is stored. A
    stored report that does not decode is served as stored, for verifiers to say so."""
    encoded = reports.get_report(epoch)
    if encoded is None:
        return None
    try:
        report = decode_report(encoded)
    except DecodeError:
        return encoded
    return attach_anchor(report, blocks).encode()


def attach_anchor(report: Report, blocks: NodeStore) -> Report:
    """`report` with this node's anchor of its state root (None until it is stored)."""
    return replace(report, anchor=get_state_anchor(blocks, report.market.height))

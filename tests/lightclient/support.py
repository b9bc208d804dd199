"""Anchors signed by test validators' keys, as a chain's next block would give them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightclient.anchor import StateAnchor, ValidatorPowers, get_consensus_chain_id
from lightclient.commit import CommitCertificate, CommitSig, VoteType, compute_vote_sign_bytes
from lightclient.header import BlockHeader
from proofs.report import Report

POWER = 10
"""Every test validator's power (the example genesis's too)."""


def make_anchor(
    chain_id: int,
    height: int,
    state_root: bytes,
    keys: Sequence[Ed25519PrivateKey],
    round_: int = 0,
    set_keys: Sequence[Ed25519PrivateKey] | None = None,
    power: int = POWER,
) -> StateAnchor:
    """Block `height + 1`'s header over `state_root`, precommitted by every key in `keys`,
    committing to the set of `set_keys` (default `keys`), each of `power`."""
    chain = get_consensus_chain_id(chain_id)
    members = keys if set_keys is None else set_keys
    validators = ValidatorPowers.of((k.public_key().public_bytes_raw(), power) for k in members)
    header = BlockHeader(
        chain,
        height + 1,
        1_700_000_000_000 + height,
        hashlib.sha256(b"parent %d" % height).digest(),
        state_root,
        hashlib.sha256(b"").digest(),  # an empty block's txs_hash
        keys[0].public_key().public_bytes_raw(),
        validators_hash=validators.hash,
    )
    message = compute_vote_sign_bytes(chain, VoteType.PRECOMMIT, height + 1, round_, header.hash)
    sigs = sorted(
        (CommitSig(k.public_key().public_bytes_raw(), k.sign(message)) for k in keys),
        key=lambda s: s.validator,
    )
    return StateAnchor(header, CommitCertificate(height + 1, round_, header.hash, tuple(sigs)))


def anchor_report(
    report: Report,
    keys: Sequence[Ed25519PrivateKey],
    set_keys: Sequence[Ed25519PrivateKey] | None = None,
    power: int = POWER,
) -> Report:
    """`report` with the anchor its chain's validators `keys` (of the set `set_keys`,
    default `keys`, each of `power`) would commit."""
    anchor = make_anchor(
        report.chain_id, report.market.height, report.state_root, keys, set_keys=set_keys,
        power=power,
    )  # fmt: skip
    return replace(report, anchor=anchor)

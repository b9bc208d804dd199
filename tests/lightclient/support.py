"""Anchors signed by test validators' keys, as a chain's next block would give them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lightclient.anchor import SetChange, StateAnchor, get_consensus_chain_id
from lightclient.commit import CommitCertificate, CommitSig, VoteType, compute_vote_sign_bytes
from lightclient.header import BlockHeader
from lightclient.validators import ValidatorPowers
from proofs.report import Report

POWER = 10
"""Every test validator's power (the example genesis's too)."""
GENESIS_HASH = hashlib.sha256(b"the test chain's genesis").digest()
"""The genesis hash the test chains' names carry unless a test names its genesis's."""


def get_powers(keys: Sequence[Ed25519PrivateKey], power: int = POWER) -> ValidatorPowers:
    return ValidatorPowers.of((k.public_key().public_bytes_raw(), power) for k in keys)


def make_commit(
    chain_id: int,
    header: BlockHeader,
    keys: Sequence[Ed25519PrivateKey],
    round_: int = 0,
    genesis_hash: bytes = GENESIS_HASH,
) -> CommitCertificate:
    """`header`'s certificate: every key in `keys` precommitted it."""
    chain = get_consensus_chain_id(chain_id, genesis_hash)
    message = compute_vote_sign_bytes(chain, VoteType.PRECOMMIT, header.height, round_, header.hash)
    sigs = sorted(
        (CommitSig(k.public_key().public_bytes_raw(), k.sign(message)) for k in keys),
        key=lambda s: s.validator,
    )
    return CommitCertificate(header.height, round_, header.hash, tuple(sigs))


def make_header(
    chain_id: int,
    height: int,
    state_root: bytes,
    validators: ValidatorPowers,
    next_validators: ValidatorPowers | None = None,
    genesis_hash: bytes = GENESIS_HASH,
) -> BlockHeader:
    """An empty block's header at `height`, signed by `validators` (and by
    `next_validators`, default the same, from the next height)."""
    return BlockHeader(
        get_consensus_chain_id(chain_id, genesis_hash),
        height,
        1_700_000_000_000 + height,
        hashlib.sha256(b"parent %d" % height).digest(),
        state_root,
        hashlib.sha256(b"").digest(),  # an empty block's txs_hash
        validators.powers[0][0],
        validators_hash=validators.hash,
        next_validators_hash=(next_validators or validators).hash,
    )


def make_set_change(
    chain_id: int,
    height: int,
    keys: Sequence[Ed25519PrivateKey],
    next_keys: Sequence[Ed25519PrivateKey],
    set_keys: Sequence[Ed25519PrivateKey] | None = None,
    power: int = POWER,
    genesis_hash: bytes = GENESIS_HASH,
) -> SetChange:
    """Block `height`'s header naming the set of `next_keys` next, precommitted by `keys`
    of the set `set_keys` (default `keys`), each of `power`."""
    held = get_powers(keys if set_keys is None else set_keys, power)
    following = get_powers(next_keys, power)
    root = hashlib.sha256(b"root %d" % height).digest()
    header = make_header(chain_id, height, root, held, following, genesis_hash)
    return SetChange(header, make_commit(chain_id, header, keys, 0, genesis_hash), following)


def make_anchor(
    chain_id: int,
    height: int,
    state_root: bytes,
    keys: Sequence[Ed25519PrivateKey],
    round_: int = 0,
    set_keys: Sequence[Ed25519PrivateKey] | None = None,
    power: int = POWER,
    set_changes: Sequence[SetChange] = (),
    genesis_hash: bytes = GENESIS_HASH,
) -> StateAnchor:
    """Block `height + 1`'s header over `state_root`, precommitted by every key in `keys`,
    committing to the set of `set_keys` (default `keys`), each of `power`, after
    `set_changes`, on the chain of `genesis_hash`."""
    validators = get_powers(keys if set_keys is None else set_keys, power)
    header = make_header(chain_id, height + 1, state_root, validators, None, genesis_hash)
    commit = make_commit(chain_id, header, keys, round_, genesis_hash)
    return StateAnchor(header, commit, tuple(set_changes))


def anchor_report(
    report: Report,
    keys: Sequence[Ed25519PrivateKey],
    set_keys: Sequence[Ed25519PrivateKey] | None = None,
    power: int = POWER,
    set_changes: Sequence[SetChange] = (),
    genesis_hash: bytes = GENESIS_HASH,
) -> Report:
    """`report` with the anchor its chain's validators `keys` (of the set `set_keys`,
    default `keys`, each of `power`, after `set_changes`) would commit on the chain of
    `genesis_hash`."""
    anchor = make_anchor(
        report.chain_id, report.height, report.state_root, keys, set_keys=set_keys,
        power=power, set_changes=set_changes, genesis_hash=genesis_hash,
    )  # fmt: skip
    return replace(report, anchor=anchor)

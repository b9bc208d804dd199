"""Proof shares: their wire form checked at the first hop, and an epoch's proofs
gathered from the validators assigned to prove them."""

from __future__ import annotations

from dataclasses import replace

import msgpack
import pytest
import trio

from clearing.transition.reported_accounts import AccountKey
from clearnode.client.sandbox_keys import derive_ed25519_key
from node.reports.gossip import (
    MAX_PROOF_BYTES,
    MAX_SHARE_PROOFS,
    ProofShare,
    ReportsMessageError,
    ShareSignerWithoutPower,
    decode_reports_message,
    sign_proof_shares,
)
from node.reports.sharing import EpochProofs, ProofShareRefused

CHAIN = 4242
EPOCH = 3
DIGEST = b"\x05" * 32
KEYS = [derive_ed25519_key(f"validator-{i}") for i in range(2)]
SIGNERS = [k.public_key().public_bytes_raw() for k in KEYS]
ACCOUNTS: list[AccountKey] = [(bytes([i]) * 20, i % 2) for i in range(6)]


def proofs_of(accounts: list[AccountKey]) -> dict[AccountKey, bytes]:
    return {key: bytes([key[0][0]]) * 1408 for key in accounts}


def test_a_share_travels_signed_in_bounded_messages() -> None:
    many = [(i.to_bytes(20, "big"), 0) for i in range(MAX_SHARE_PROOFS + 1)]
    shares = sign_proof_shares(KEYS[0], CHAIN, EPOCH, DIGEST, proofs_of(many))
    assert [len(s.proofs) for s in shares] == [MAX_SHARE_PROOFS, 1]
    for share in shares:
        assert decode_reports_message(share.encode(), CHAIN, set(SIGNERS)) == share
    assert len(shares[0].encode()) < 800_000  # 512 proofs of m = 32


def test_a_share_of_another_chain_or_malformed_is_refused_one_by_a_non_validator_ignored() -> None:
    share = sign_proof_shares(KEYS[0], CHAIN, EPOCH, DIGEST, proofs_of(ACCOUNTS))[0]
    with pytest.raises(ReportsMessageError, match=f"not chain {CHAIN + 1}"):
        decode_reports_message(share.encode(), CHAIN + 1, set(SIGNERS))
    with pytest.raises(ShareSignerWithoutPower):
        decode_reports_message(share.encode(), CHAIN, {SIGNERS[1]})
    first = share.proofs[0]
    for other in (
        replace(share, epoch=EPOCH + 1),
        replace(share, statement_digest=bytes(32)),
        replace(share, proofs=share.proofs[1:]),
        replace(share, proofs=((first[0], first[1][:-1] + b"\x01"), *share.proofs[1:])),
    ):
        with pytest.raises(ReportsMessageError, match="does not verify"):
            decode_reports_message(other.encode(), CHAIN, set(SIGNERS))
    fields = msgpack.unpackb(share.encode())

    def with_proofs(items: object) -> bytes:
        return bytes(msgpack.packb([*fields[:6], items, fields[7]]))

    bad_proofs = [
        [],  # an empty share
        [[ACCOUNTS[0][0], 0, b"p"]] * (MAX_SHARE_PROOFS + 1),
        [[ACCOUNTS[0][0], 0, bytes(MAX_PROOF_BYTES + 1)]],
        [[ACCOUNTS[0][0], 0, b""]],
        [[ACCOUNTS[1][0], 0, b"p"], [ACCOUNTS[0][0], 0, b"p"]],  # unsorted
        [[ACCOUNTS[0][0], 0, b"p"], [ACCOUNTS[0][0], 0, b"p"]],  # twice
        [[b"short", 0, b"p"]],
        [[ACCOUNTS[0][0], -1, b"p"]],
        [[ACCOUNTS[0][0], 0]],
    ]
    for items in bad_proofs:
        with pytest.raises(ReportsMessageError):
            decode_reports_message(with_proofs(items), CHAIN, set(SIGNERS))


async def test_an_epochs_proofs_are_kept_from_their_assigned_prover_until_complete() -> None:
    assignment = {key: SIGNERS[i % 2] for i, key in enumerate(ACCOUNTS)}
    gathering = EpochProofs(EPOCH, DIGEST, assignment)
    theirs = [k for k in ACCOUNTS if assignment[k] == SIGNERS[1]]
    mine = [k for k in ACCOUNTS if assignment[k] == SIGNERS[0]]
    share = sign_proof_shares(KEYS[1], CHAIN, EPOCH, DIGEST, proofs_of(theirs))[0]

    def refused(bad: ProofShare, reason: str) -> None:
        with pytest.raises(ProofShareRefused, match=reason):
            gathering.add(bad)
        assert gathering.proofs == {}

    refused(replace(share, epoch=EPOCH + 1), f"this node is building epoch {EPOCH}")
    refused(replace(share, statement_digest=bytes(32)), "another statement")
    refused(sign_proof_shares(KEYS[0], CHAIN, EPOCH, DIGEST, proofs_of(theirs))[0],
            "3 of its accounts are not its to prove")  # fmt: skip

    assert gathering.add(share) == 3 and gathering.add(share) == 0  # a copy adds nothing
    assert gathering.provers == dict.fromkeys(theirs, SIGNERS[1])
    assert not gathering.complete.is_set()  # the proven accounts are not known yet
    gathering.expect([k for k in ACCOUNTS if k != mine[-1]])  # in default: no proof
    assert gathering.count_missing() == {SIGNERS[0]: 2}
    mine_share = sign_proof_shares(KEYS[0], CHAIN, EPOCH, DIGEST, proofs_of(mine[:2]))[0]
    gathering.add(mine_share)
    assert gathering.count_missing() == {}
    with trio.fail_after(1):
        await gathering.complete.wait()

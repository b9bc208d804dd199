"""Five node processes on loopback: governance adds a fifth validator (its node running
from the start with a key not in genesis) and removes one; from the execution height + 2
the new set signs every block, and all five nodes agree on every root."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from clearing.genesis import Validator
from clearing.governance.proposal import Proposal, VoteChoice
from clearing.governance.submit import sign_proposal
from clearing.governance.validator_change import AddValidator, RemoveValidator
from clearing.governance.vote import sign_vote
from clearing.sandbox import derive_ed25519_key
from clearing.tx import encode_tx
from node.p2p import P2PConfig, open_p2p
from node.p2p.topics import TX, get_topic
from tests.node.netproc import NodeHome, ProcessNetwork, running
from tests.node.test_network_processes import (
    CLIENT_SEED,
    OBSERVERS,
    SNAPSHOTS,
    assert_roots_agree,
    read_blocks,
    submit,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

NEW = "v4"
VOTING_BLOCKS = 8  # time for the proposal and the ballots to be gossiped and committed
DELAY = 2


def public(name: str) -> bytes:
    return derive_ed25519_key(name).public_key().public_bytes_raw()


def precommitters(home: NodeHome, height: int) -> set[bytes]:
    """Who signed the certificate of `height` (carried by block `height + 1`)."""
    commit = read_blocks(home)[height].last_commit
    assert commit is not None and commit.height == height
    return {s.validator for s in commit.signatures}


async def test_governance_adds_a_fifth_validator_and_removes_one(tmp_path: Path) -> None:
    new_home = NodeHome(tmp_path / "net" / NEW, NEW, 4)
    net = ProcessNetwork(
        tmp_path / "net", extra_config=SNAPSHOTS, observers=(*OBSERVERS, new_home.peer_id)
    )
    new_home.extra_config += SNAPSHOTS
    net.genesis["governance"] = {"min_delay_blocks": DELAY, "max_voting_blocks": 50}
    addrs = [h.addr for h in net.homes]
    for home in net.homes:
        (home.path / "genesis.json").write_text(json.dumps(net.genesis))
    new_home.observers = net.observers or ()
    new_home.write(net.genesis, addrs)
    net.homes.append(new_home)
    chain_id = net.genesis["chain_id"]
    keys = [derive_ed25519_key(f"validator-{i}") for i in range(4)]
    fifth = Validator(
        "validator-4", public("validator-4"), 10, hashlib.sha256(b"v4").digest()[:20],
        new_home.peer_id,
    )  # fmt: skip
    changes = (AddValidator(fifth), RemoveValidator(public("validator-3")))
    with running(net):
        client_config = P2PConfig(CLIENT_SEED, persistent_peers=tuple(addrs))
        async with open_p2p(client_config, [get_topic(TX)]) as client:
            validators = net.homes[:4]
            await wait_until("every node to commit", lambda: assert_roots_agree(net.homes) >= 2)
            await client.wait_for_mesh(TX, 2)
            height = len(validators[0].get_roots())
            deadline = height + VOTING_BLOCKS
            tx = sign_proposal(keys[0], chain_id, changes, deadline, deadline + DELAY)
            await submit(client, [encode_tx(tx)])
            digest = hashlib.sha256(tx.signing_bytes(chain_id)).digest()
            proposed = Proposal(1, tx.proposer, changes, digest, 0, deadline, deadline + DELAY)
            await wait_until(
                "the proposal to commit",
                lambda: any(encode_tx(tx) in b.txs for b in read_blocks(validators[0])),
            )
            ballots = [sign_vote(k, chain_id, proposed, VoteChoice.YES) for k in keys[:3]]
            await submit(client, [encode_tx(b) for b in ballots])
            executed = deadline + DELAY
            governs = executed + 2
            await wait_until(
                "the new set to sign",
                lambda: min(len(h.get_roots()) for h in net.homes) > governs + 3,
                timeout_s=120,
            )
            # a restart rebuilds every height's set from a snapshot and the blocks after it
            restarted = validators[1]
            net.kill(restarted)
            net.start(restarted)
            tip = len(validators[0].get_roots())
            await wait_until("v1 to rejoin", lambda: len(restarted.get_roots()) > tip + 2)
    tip = assert_roots_agree(net.homes)
    assert tip > governs + 3
    old, new = public("validator-3"), public("validator-4")
    observer = net.homes[0]
    assert all(new not in precommitters(observer, h) for h in range(1, governs))
    assert all(old not in precommitters(observer, h) for h in range(governs, tip))
    assert any(new in precommitters(observer, h) for h in range(governs, tip))
    log = (new_home.path / "node.log").read_text()
    assert "is not in the validator set at height 0" in log
    restart_log = (net.homes[1].path / "node.log").read_text()
    assert "snapshot of height" in restart_log.split("node v1 up")[-2]

"""Five node processes on loopback: governance adds a fifth validator (its node running
from the start with a key not in genesis, its peer id in nobody's `observers`) and
removes one; from the execution height + 2 the new set signs every block, and all nodes
agree on every root.

The services follow the set too: the fifth node is let in once the block adding it
commits (and syncs then), its price observations count in the others' pools; the
removed validator's node is cut off. (That the new set proves and signs the reports is
tests/node/reports/test_service.py's: report workers in five processes on a loaded
two-core machine stall the chain for minutes.)"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from clearing.genesis import Validator
from clearing.governance.submit import sign_proposal
from clearing.governance.vote import sign_vote
from clearing.governance_changes import AddValidator, RemoveValidator
from clearing.governance_proposal import GovernanceProposal, VoteChoice
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from node.p2p import HostConfig, open_p2p
from node.p2p.topics import TX, get_topic
from tests.node.netproc import SHORT_TIMEOUTS, NodeHome, ProcessNetwork, read_blocks, running
from tests.node.test_network_processes import (
    CLIENT_SEED,
    OBSERVERS,
    SNAPSHOTS,
    assert_roots_agree,
    submit,
    wait_until,
)
from tests.node.test_oracle_network import oracle_config

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow, pytest.mark.beside_networks]

NEW = "v4"
NEW_KEY = "validator-4"
# the removed validator's node is cut off two blocks after its removal (it has no bridge
# key to sign vault rotations with in its grace: tests/node/bridge/test_validator_set_vaults.py)
GRACE = "[bridge]\nrotation_grace_blocks = 2\n"
VOTING_BLOCKS = 8  # time for the proposal and the ballots to be gossiped and committed
DELAY = 2


def public(name: str) -> bytes:
    return derive_ed25519_key(name).public_key().public_bytes_raw()


def get_json(home: NodeHome, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{home.api_port}{path}", timeout=10) as r:
        return json.loads(r.read())


def get_oracle_powers(home: NodeHome) -> dict[str | None, int]:
    return {o["validator"]: o["power"] for o in get_json(home, "/v1/oracle")["observers"]}


def has_signed_since(home: NodeHome, key: bytes, first: int) -> bool:
    """Whether `key` is among the signers of a stored certificate of a height from `first`
    on (block h + 1 carries height h's)."""
    commits = [b.last_commit for b in read_blocks(home)[first:]]
    return any(key in {s.validator for s in c.signatures} for c in commits if c is not None)


def precommitters(home: NodeHome, height: int) -> set[bytes]:
    """Who signed the certificate of `height` (carried by block `height + 1`)."""
    commit = read_blocks(home)[height].last_commit
    assert commit is not None and commit.height == height
    return {s.validator for s in commit.signatures}


async def test_governance_adds_a_fifth_validator_and_removes_one(tmp_path: Path) -> None:
    started = time.monotonic()
    new_home = NodeHome(tmp_path / "net" / NEW, NEW, 4, observers=OBSERVERS)
    net = ProcessNetwork(tmp_path / "net", observers=OBSERVERS)
    net.genesis["governance"] = {"min_delay_blocks": DELAY, "max_voting_blocks": 50}
    observing = oracle_config({h.name for h in [*net.homes, new_home]})
    addrs = [h.addr for h in net.homes]
    net.homes.append(new_home)
    for home in net.homes:
        # short timeouts: the blocks it counts come sooner (idle ones twice as often, a round
        # on the turn of a validator restarting or catching up failing in 1.8 s, was 5 s)
        home.extra_config = observing(home) + SNAPSHOTS + GRACE + SHORT_TIMEOUTS
        shutil.rmtree(home.path / "keys", ignore_errors=True)  # the same keys (by name) again
        home.write(net.genesis, [a for a in addrs if a != home.addr])
    chain_id = net.genesis["chain_id"]
    keys = [derive_ed25519_key(f"validator-{i}") for i in range(4)]
    fifth = Validator(
        NEW_KEY, public(NEW_KEY), 10, hashlib.sha256(b"v4").digest()[:20],
        new_home.peer_id,
    )  # fmt: skip
    changes = (AddValidator(fifth), RemoveValidator(public("validator-3")))
    staying = [h for h in net.homes if h.name != "v3"]
    with running(net):
        client_config = HostConfig(
            CLIENT_SEED, persistent_peers=tuple(addrs), genesis_hash=net.homes[0].genesis_hash
        )
        async with open_p2p(client_config, [get_topic(TX)]) as client:
            validators = net.homes[:4]
            await wait_until(  # five processes starting on a loaded machine take a while
                "every validator to commit",
                lambda: assert_roots_agree(validators) >= 2,
                timeout_s=120,
            )
            await client.wait_for_mesh(TX, 2)
            height = len(validators[0].get_roots())
            deadline = height + VOTING_BLOCKS
            tx = sign_proposal(keys[0], chain_id, changes, deadline, deadline + DELAY)
            await submit(client, [encode_tx(tx)])
            digest = hashlib.sha256(tx.signing_bytes(chain_id)).digest()
            proposed = GovernanceProposal(
                1, tx.proposer, changes, digest, 0, deadline, deadline + DELAY
            )
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
                lambda: min(len(h.get_roots()) for h in staying) > governs + 3,
                timeout_s=120,
            )
            # a certificate holds the precommits in when two thirds had come: on a loaded
            # machine the newest validator's can come last for several heights running
            await wait_until(
                "the fifth validator's precommit in a certificate",
                lambda: has_signed_since(validators[0], public(NEW_KEY), governs),
            )
            await wait_until(
                "the fifth validator's observations to count",
                lambda: get_oracle_powers(net.homes[0]).get("validator-4") == 10,
            )
            # a restart rebuilds every height's set from a snapshot and the blocks after it
            restarted = validators[1]
            net.kill(restarted)
            net.start(restarted)
            tip = len(validators[0].get_roots())
            await wait_until("v1 to rejoin", lambda: len(restarted.get_roots()) > tip + 2)
    print(f"validator set processes: {time.monotonic() - started:.0f} s")
    assert_roots_agree(net.homes)
    tip = assert_roots_agree(staying)
    assert tip > governs + 3
    old, new = public("validator-3"), public(NEW_KEY)
    observer = net.homes[0]
    assert all(new not in precommitters(observer, h) for h in range(1, governs))
    assert all(old not in precommitters(observer, h) for h in range(governs, tip))
    assert any(new in precommitters(observer, h) for h in range(governs, tip))
    log = (new_home.path / "node.log").read_text()
    assert "is not in the validator set at height 0" in log
    # refused until the block adding it, it synced once let in
    assert (
        f"refusing connections from {new_home.peer_id}"
        in (net.homes[0].path / "node.log").read_text()
    )
    assert new_home.get_roots()[executed] == observer.get_roots()[executed]
    # the removed validator's node is cut off: it is no validator's nor an observer
    removed = net.homes[3]
    assert len(removed.get_roots()) < tip
    assert (
        f"closing the connections of {removed.peer_id}: no longer a validator"
        in (net.homes[0].path / "node.log").read_text()
    )
    restart_log = (net.homes[1].path / "node.log").read_text()
    assert "snapshot of height" in restart_log.split("node v1 up")[-2]

"""Governance changes the validator set of a CometBFT network (`clearnode start`
processes on loopback): a fifth validator, running from the start with a key no genesis
lists, is added and one removed; CometBFT takes the app's validator updates, so from the
execution height + 2 the new set signs every block (CometBFT's commits say who signed).
A validator down for a while catches up by CometBFT's block sync and the app's replay,
and every node keeps one root per height; the blocks replayed through our engine's
application path give CometBFT's app hash at every height."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from clearing.genesis import Validator
from clearing.governance.submit import sign_proposal
from clearing.governance.vote import sign_vote
from clearing.governance_changes import AddValidator, RemoveValidator
from clearing.governance_proposal import GovernanceProposal, VoteChoice
from clearing.transition.tx import encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key
from lightclient.anchor import (
    COMETBFT,
    SetChange,
    StateAnchor,
    check_anchor,
    follow_set_changes,
    get_consensus_chain_id,
)
from lightclient.cometbft import CometValidatorPowers, get_address
from node.cometbft.home import RPC_SOCKET
from node.cometbft.rpc import RPC_URL
from node.storage.comet_block import SignedHeader
from tests.node.cometbft.replay import replay_cometbft_blocks
from tests.node.netproc import (
    SHORT_TIMEOUTS,
    NodeHome,
    ProcessNetwork,
    running,
)
from tests.node.test_network_processes import (
    assert_roots_agree,
    get_lowest_tip,
    post_tx_until_accepted,
    wait_until,
)

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow, pytest.mark.beside_networks]

VOTING_BLOCKS = 12
DELAY = 2


def public(name: str) -> bytes:
    return derive_ed25519_key(name).public_key().public_bytes_raw()


def get_rpc(home: NodeHome, path: str) -> Any:
    """An answer of the node's CometBFT RPC (its socket in the CometBFT home)."""
    transport = httpx.HTTPTransport(uds=str(home.path / "cometbft" / RPC_SOCKET))
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.get(f"{RPC_URL}/{path}").json()["result"]


def get_signers(home: NodeHome, height: int) -> set[bytes]:
    """The addresses whose precommits CometBFT's commit of `height` holds."""
    commit = get_rpc(home, f"commit?height={height}")["signed_header"]["commit"]
    return {bytes.fromhex(s["validator_address"]) for s in commit["signatures"] if s["signature"]}


def read_signed(home: NodeHome, height: int) -> SignedHeader | None:
    """Block `height`'s CometBFT signed header as the node stored it (None: not yet)."""
    db = sqlite3.connect(f"file:{home.db}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT cert FROM blocks WHERE height = ?", (height,)).fetchone()
    finally:
        db.close()
    return None if row is None or not row[0] else SignedHeader.decode(row[0])


def make_network(base: Path) -> ProcessNetwork:
    """Four genesis validators (validator-0 to 3) and a fifth node running validator-4's
    key, which no genesis lists; governance executes DELAY blocks after a vote's deadline."""
    # short timeouts: each height v2, down, was to propose fails in 1.5 s (was 2.7 s)
    net = ProcessNetwork(base, engine="cometbft", extra_config=SHORT_TIMEOUTS)
    net.genesis["governance"] = {"min_delay_blocks": DELAY, "max_voting_blocks": 50}
    net.add_node_before_start(base, "v4", 4)
    return net


def sign_set_change(chain_id: int, deadline: int) -> tuple[bytes, list[bytes]]:
    """The proposal adding validator-4 and removing validator-3, voted until `deadline`
    and executed DELAY blocks later, and the yes votes of validator-0 to 2 (posted once
    the proposal is committed)."""
    keys = [derive_ed25519_key(f"validator-{i}") for i in range(3)]
    fifth = Validator("validator-4", public("validator-4"), 10, bytes(20))
    changes = (AddValidator(fifth), RemoveValidator(public("validator-3")))
    tx = sign_proposal(keys[0], chain_id, changes, deadline, deadline + DELAY)
    digest = hashlib.sha256(tx.signing_bytes(chain_id)).digest()
    proposed = GovernanceProposal(1, tx.proposer, changes, digest, 0, deadline, deadline + DELAY)
    votes = [encode_tx(sign_vote(key, chain_id, proposed, VoteChoice.YES)) for key in keys]
    return encode_tx(tx), votes


async def test_governance_changes_the_set_cometbft_signs_with(tmp_path: Path) -> None:
    net = make_network(tmp_path / "net")
    chain_id = net.genesis["chain_id"]
    with running(net):
        validators = net.homes[:4]
        await wait_until("every validator to commit", lambda: get_lowest_tip(validators) >= 2)
        deadline = get_lowest_tip(validators) + VOTING_BLOCKS
        proposal, votes = sign_set_change(chain_id, deadline)
        await post_tx_until_accepted(validators[0], "/v1/governance/proposals", proposal)
        # the state of the node the votes go to holds the proposal (a height is no proxy: a
        # fresh clone's run saw the tip two blocks on and v1 answer UnknownProposal)
        await wait_until(
            "the proposal to commit",
            lambda: validators[1].get_json("/v1/governance/proposals/1")[0] == 200,
        )
        for vote in votes:
            await post_tx_until_accepted(validators[1], "/v1/governance/votes", vote)
        governs = deadline + DELAY + 2
        # v2 goes down across the change and comes back once the new set signs
        down = validators[2]
        net.kill(down)
        staying = [h for h in net.homes if h not in (down, net.homes[3])]
        await wait_until("the new set to sign", lambda: get_lowest_tip(staying) > governs + 3, 120)
        net.start(down)
        tip = get_lowest_tip(staying)
        await wait_until("v2 to catch up", lambda: get_lowest_tip([down]) >= tip, 60)
        assert_roots_agree(net.homes)
        observer = net.homes[0]
        old, new = get_address(public("validator-3")), get_address(public("validator-4"))
        assert all(new not in get_signers(observer, h) for h in range(2, governs))
        assert all(old not in get_signers(observer, h) for h in range(governs, tip))
        assert any(new in get_signers(observer, h) for h in range(governs, tip))
        in_force = get_rpc(observer, f"validators?height={tip}")["validators"]
        addresses = {bytes.fromhex(v["address"]) for v in in_force}
        assert new in addresses and old not in addresses
        # a verifier holding the genesis set follows the change to a root after it
        executed = deadline + DELAY
        await wait_until("signed headers kept", lambda: read_signed(observer, tip - 1) is not None)
        change, later = read_signed(observer, executed + 1), read_signed(observer, tip - 1)
        assert change is not None and later is not None
        powers = [(public(f"validator-{i}"), 10) for i in (0, 1, 2, 4)]
        steps = (SetChange(change.header, change.commit, CometValidatorPowers.of(powers)),)
        genesis_set = CometValidatorPowers.of((public(f"validator-{i}"), 10) for i in range(4))
        chain = get_consensus_chain_id(chain_id, observer.genesis_hash)
        history = follow_set_changes(steps, chain, genesis_set)
        assert history.changed_at == (executed + 1,)  # its header names the new set next
        anchor = StateAnchor(later.header, later.commit, steps, COMETBFT)
        root = observer.get_roots()[tip - 2]
        check_anchor(anchor, chain, tip - 2, root, history.get_set_at(tip - 1))
        # the blocks that changed the set, replayed through our engine's application path
        replayed = replay_cometbft_blocks(observer.path)
        assert (replayed.kinds["GovProposal"], replayed.kinds["GovVote"]) == (1, 3), replayed

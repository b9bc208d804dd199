"""Four validator processes, as a ceremony's operators start them, the fourth on a genesis
one byte apart (the last digit of its time): every peer refuses it at the handshake, on
either engine, says so once at warning and counts it; it commits nothing, and the three
others commit every height in round 0 but the fourth's proposer heights, which cost the
one round an absent validator costs, and no more."""

from __future__ import annotations

import json
import re
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from consensus.types import Block, ValidatorSet, Voter
from lightclient.anchor import COMETBFT, OUR_ENGINE, get_consensus_chain_id
from lightclient.cometbft import get_address
from lightclient.commit import CommitCertificate
from node.keys import get_node_id
from node.storage.comet_block import SignedHeader
from tests.node.netproc import QUICK_BLOCKS, NodeHome, ProcessNetwork, running
from tests.node.test_network_processes import wait_until

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow, pytest.mark.beside_networks]

HEIGHTS = 9
"""Blocks the others commit: two of the fourth validator's proposer heights among them."""


def change_last_digit_of_time(home: NodeHome) -> None:
    """One byte of the home's genesis file changed: its time's last digit."""
    path = home.path / "genesis.json"
    text = path.read_text()
    found = re.search(r'"genesis_time_ms": (\d+)', text)
    assert found is not None
    digit = found.end(1) - 1
    path.write_text(text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1 :])


def read_rounds(home: NodeHome, engine: str) -> dict[int, tuple[int, bytes]]:
    """Each committed height's round and proposer (CometBFT: its address), as the node
    stored them (on CometBFT, once it fetched the block's signed header)."""
    if not home.db.exists():
        return {}
    db = sqlite3.connect(f"file:{home.db}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT height, block, cert FROM blocks WHERE cert != x''").fetchall()
    except sqlite3.OperationalError:  # its tables not made yet
        return {}
    finally:
        db.close()
    if engine == COMETBFT:
        signed = {h: SignedHeader.decode(cert) for h, _, cert in rows}
        return {h: (s.commit.round, as_key(s.header.proposer_address)) for h, s in signed.items()}
    return {
        h: (CommitCertificate.decode(cert).round, Block.decode(block).header.proposer)
        for h, block, cert in rows
    }


def as_key(address: bytes) -> bytes:
    """A CometBFT address where consensus's sets hold a key: CometBFT breaks a tie of
    priorities by the smaller address, ours by the smaller key, and padding keeps the order."""
    return address.ljust(32, b"\0")


def get_proposers(genesis: dict[str, Any], engine: str, heights: int) -> list[ValidatorSet]:
    """The validator set of each height 1..`heights`, whose proposer is its round 0's."""
    voters = []
    for v in genesis["validators"]:
        key = bytes.fromhex(v["pubkey"][2:])
        voters.append(Voter(v["name"], as_key(get_address(key)) if engine == COMETBFT else key, 10))
    sets = [ValidatorSet.from_validators(voters)]
    while len(sets) < heights:
        sets.append(sets[-1].compute_incremented(1))
    return sets


INBOUND = "(an inbound peer: CometBFT names none)"
"""Who a node's refusal names when CometBFT refused a dial it received (its line names
no peer: node/cometbft/runtime.py)."""


def read_warnings(home: NodeHome, peer: str) -> list[str]:
    """The node's warnings that it refused `peer` for another genesis."""
    lines = (home.path / "node.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [
        r["message"]
        for r in records
        if r["level"] == "warning" and r["message"].startswith(f"refusing peer {peer} ")
    ]


def get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("engine", [OUR_ENGINE, COMETBFT])
async def test_a_validator_on_a_genesis_one_byte_apart_is_refused_by_every_peer(
    tmp_path: Path, engine: str
) -> None:
    # each engine's own propose timeout (2 to 3 s), which the refused validator's heights
    # wait out: with a third of it (SHORT_TIMEOUTS), a machine busy beside the test let a
    # round 0 of another proposer's height time out (its proposal over a second late)
    network = ProcessNetwork(
        tmp_path / "net", extra_config=QUICK_BLOCKS, observers=(), engine=engine
    )
    others, odd = network.homes[:3], network.homes[3]
    change_last_digit_of_time(odd)
    ours, theirs = others[0].genesis_hash, odd.genesis_hash
    chain_id = network.genesis["chain_id"]
    # what each refusal names: the peer, the layer, what it runs and what this node runs
    libp2p = f"(libp2p): it runs genesis 0x{theirs.hex()}, this node genesis 0x{ours.hex()}"
    comet = (
        f"(cometbft): it runs chain {get_consensus_chain_id(chain_id, theirs)}, this node "
        f"chain {get_consensus_chain_id(chain_id, ours)}"
    )
    odd_node = f"node {get_node_id(odd.node_key.ed25519())}"  # CometBFT names its node id

    def read_comet_warnings(home: NodeHome) -> list[str]:
        """CometBFT's refusal of the odd node: named on its own dial of it; when both sides
        close the handshake at once, its dial may read only EOF, and CometBFT's refusal of
        the odd node's dial (which names no peer) is what it says."""
        return read_warnings(home, odd_node) or read_warnings(home, INBOUND)

    def is_refused_everywhere() -> bool:
        return all(
            read_warnings(h, odd.peer_id)
            and read_warnings(odd, h.peer_id)
            and (engine == OUR_ENGINE or read_comet_warnings(h))
            for h in others
        )

    with running(network):
        await wait_until(
            f"the others to commit {HEIGHTS} blocks",
            lambda: min(len(read_rounds(h, engine)) for h in others) >= HEIGHTS,
        )
        # CometBFT names a peer on its own dials of it, which it retries every 5 s
        await wait_until("every refusal to be logged", is_refused_everywhere)
        metrics = [h.get_metrics() for h in others]
        status = [get_json(f"http://127.0.0.1:{h.api_port}/v1/status") for h in others]
        odd_status = get_json(f"http://127.0.0.1:{odd.api_port}/v1/status")
    assert odd.get_roots() == {}
    layers = ["libp2p"] if engine == OUR_ENGINE else ["libp2p", COMETBFT]
    for home, exposition, answer in zip(others, metrics, status, strict=True):
        for layer in layers:
            found = re.search(rf'clearnode_peers_other_genesis_total{{layer="{layer}"}} (\S+)',
                              exposition)  # fmt: skip
            assert found is not None and float(found[1]) >= 1, (home.name, layer)
            assert answer["p2p"]["refused_other_genesis"][layer] >= 1
        # the sections an operator reads, on either engine: the genesis this node trusts,
        # its health, and each persistent peer's link, the odd one's refused
        assert answer["trust"]["genesis_hash"] == "0x" + ours.hex()
        assert answer["health"]["last_commit_height"] >= HEIGHTS
        links = {(x["layer"], x["peer"]): x for x in answer["p2p"]["persistent_peers"]}
        expected = {("libp2p", h.peer_id) for h in network.homes if h is not home}
        if engine == COMETBFT:  # CometBFT's own, by node id, from CometBFT's facts
            expected |= {(COMETBFT, get_node_id(h.node_key.ed25519()))
                         for h in network.homes if h is not home}  # fmt: skip
        assert set(links) == expected
        assert "another genesis" in links.pop(("libp2p", odd.peer_id))["last_error"]
        if engine == COMETBFT:
            odd_link = links.pop((COMETBFT, odd_node.removeprefix("node ")))
            assert odd_link["connected"] is False, odd_link
        assert all(link["connected"] for link in links.values()), links
        # once per peer, however often refused, with its address
        (warning,) = read_warnings(home, odd.peer_id)
        assert libp2p in warning and " at /ip4/127.0.0.1/tcp/" in warning, warning
        if engine == COMETBFT:
            (warning,) = read_comet_warnings(home)
            assert comet in warning, warning
            assert odd_node not in warning or " at 127.0.0.1:" in warning, warning
        (warning,) = read_warnings(odd, home.peer_id)
        assert f"genesis 0x{ours.hex()}, this node genesis 0x{theirs.hex()}" in warning
    assert odd_status["trust"]["genesis_hash"] == "0x" + theirs.hex()
    odd_links = odd_status["p2p"]["persistent_peers"]
    assert len(odd_links) == (3 if engine == OUR_ENGINE else 6)
    assert not any(link["connected"] for link in odd_links), odd_links
    # the others decided each height in round 0, but where the refused validator was to
    # propose: one round more, its successor's (from height 2: the first height's round 0
    # may time out on a loaded machine while the last of the three still starts)
    rounds = [read_rounds(h, engine) for h in others]
    sets = get_proposers(network.genesis, engine, HEIGHTS)
    odd_key = sets[0].validators[3].public_key
    for height, held in enumerate(sets[1:], start=2):
        expected = (0, held.proposer.public_key)
        if held.proposer.public_key == odd_key:
            expected = (1, held.get_proposer(1).public_key)
        assert all(r[height] == expected for r in rounds), (height, [r[height] for r in rounds])
    assert any(s.proposer.public_key == odd_key for s in sets[1:])

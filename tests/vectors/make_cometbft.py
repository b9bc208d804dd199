"""Capture the CometBFT vectors: `python -m tests.vectors.make_cometbft` (some 15 s).

Starts four `clearnode start` validators on CometBFT (node/cometbft/pin.py's release) and
a fifth node running a key no genesis lists (tests/node/cometbft/
test_validator_set_processes.py's network), and saves what CometBFT's RPC answers
(`/commit`: the signed header; `/validators`: the set that signs that height) into
`tests/vectors/cometbft/commits.json`, with the genesis's validators and hash (the chain
id CometBFT signs under carries it: lightclient.anchor.get_consensus_chain_id):

- `heights`: two heights signed by the genesis's set;
- `set_change`: governance adds the fifth validator and removes one, and CometBFT takes
  the app's validator updates: the block whose header names the new set next, with the
  set that signs it;
- `after_change`: the next block, the first the new set signs, with that set.

Block times and signatures differ on every run, so the file is captured once and
committed; tests read it (tests/lightclient/test_cometbft.py, and through the browser
verifier's cometbft.ts tests/web/verifier/test_cometbft_vectors.py) and never run this.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.node.cometbft.test_validator_set_processes import (
    DELAY,
    VOTING_BLOCKS,
    get_rpc,
    get_tip,
    make_network,
    sign_set_change,
)
from tests.node.netproc import NodeHome, running

OUT = Path(__file__).parent / "cometbft" / "commits.json"
HEIGHTS = (3, 4)


def wait_for(what: str, condition: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.5)


def get_signed(home: NodeHome, height: int) -> dict[str, Any]:
    """Block `height`'s signed header and the set that signs it, as the RPC serves them."""
    return {
        "signed_header": get_rpc(home, f"commit?height={height}")["signed_header"],
        "validators": get_rpc(home, f"validators?height={height}")["validators"],
    }


def capture() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as base, running(make_network(Path(base) / "net")) as net:
        validators, observer = net.homes[:4], net.homes[0]
        chain_id = net.genesis["chain_id"]
        wait_for("blocks", lambda: get_tip(validators) > max(HEIGHTS) + 1)
        deadline = get_tip(validators) + VOTING_BLOCKS
        proposal, votes = sign_set_change(chain_id, deadline)
        assert observer.post_tx("/v1/governance/proposals", proposal) == 202
        wait_for("the proposal to commit", lambda: get_tip(validators) > deadline - 6)
        assert all(observer.post_tx("/v1/governance/votes", vote) == 202 for vote in votes)
        changed = deadline + DELAY + 1  # its header names the new set, which signs from +1
        wait_for("the new set to sign", lambda: get_tip(validators[:3]) > changed + 2)
        status = get_rpc(observer, "status")["node_info"]
        return {
            "cometbft": status["version"],
            "chain_id": status["network"],
            "genesis_hash": "0x" + validators[0].genesis_hash.hex(),
            "genesis_validators": [
                {"pubkey": v["pubkey"], "power": v["power"]} for v in net.genesis["validators"]
            ],
            "heights": {str(h): get_signed(observer, h) for h in HEIGHTS},
            "set_change": get_signed(observer, changed),
            "after_change": get_signed(observer, changed + 1),
        }


if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(capture(), indent=1) + "\n")
    print(f"wrote {OUT}")

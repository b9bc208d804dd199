"""Capture the CometBFT vectors: `python -m tests.vectors.make_cometbft`.

Starts four `clearnode start` validators on CometBFT v0.38 (tests/node/netproc.py), lets
them commit a few blocks, and saves what CometBFT's RPC answers for two heights
(`/commit`: the signed header; `/validators`: the set that signed it) into
`tests/vectors/cometbft/commits.json`, with the app hash and the genesis's validators.
Block times and signatures differ on every run, so the file is captured once and
committed; tests read it (tests/lightclient/test_cometbft.py, the browser verifier's
tests) and never run this.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.node.netproc import NodeHome, ProcessNetwork, running

OUT = Path(__file__).parent / "cometbft" / "commits.json"
HEIGHTS = (3, 4)


def get_rpc(home: NodeHome, path: str) -> Any:
    assert home.rpc_port is not None
    with urllib.request.urlopen(f"http://127.0.0.1:{home.rpc_port}/{path}", timeout=10) as r:
        return json.loads(r.read())["result"]


def capture() -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as base,
        running(ProcessNetwork(Path(base) / "net", engine="cometbft")) as net,
    ):
        home = net.homes[0]
        deadline = time.monotonic() + 60
        while True:
            try:
                if int(get_rpc(home, "status")["sync_info"]["latest_block_height"]) > 5:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no CometBFT blocks within 60 s"
            time.sleep(0.5)
        genesis = net.genesis
        return {
            "cometbft": get_rpc(home, "status")["node_info"]["version"],
            "chain_id": get_rpc(home, "status")["node_info"]["network"],
            "genesis_validators": [
                {"pubkey": v["pubkey"], "power": v["power"]} for v in genesis["validators"]
            ],
            "heights": {
                str(h): {
                    "signed_header": get_rpc(home, f"commit?height={h}")["signed_header"],
                    "validators": get_rpc(home, f"validators?height={h}")["validators"],
                }
                for h in HEIGHTS
            },
        }


if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(capture(), indent=1) + "\n")
    print(f"wrote {OUT}")

"""A host in its own OS process, for tests that must freeze a peer (SIGSTOP) mid-stream.

    python -m tests.node.p2p.peerproc NAME PERSISTENT_PEER_ADDR [PORT]

Prints "ready <peer id>" once listening, then one line per "tx" note it receives.
"""

from __future__ import annotations

import sys

import trio

from node.p2p import open_p2p
from tests.node.p2p.support import TOPICS, config


async def serve(name: str, peer: str, port: int = 0) -> None:
    cfg = config(
        name, listen_port=port, persistent_peers=(peer,), backoff_base_s=0.05, backoff_cap_s=0.2
    )
    async with open_p2p(cfg, TOPICS) as node:
        print("ready", node.peer_id, flush=True)
        async for delivery in node.messages("tx"):
            print(delivery.value, flush=True)


if __name__ == "__main__":
    trio.run(serve, sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)

"""A peer process killed and restarted at once with the same key and port, while we still
hold its old connection: both sides must meet again within seconds, every time."""

from __future__ import annotations

import itertools
import signal
import socket
import subprocess
import sys

import pytest
import trio

from node.p2p import P2PNode, open_p2p
from tests.node.p2p.support import ROOT, TOPICS, Lines, config, note, peer_id_of

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def heard_by(proc_lines: Lines, b: P2PNode, tag: str) -> None:
    for i in itertools.count():
        await b.publish("tx", note(f"{tag} {i}"))
        with trio.move_on_after(0.3):
            while not (await proc_lines.next()).startswith(f"{tag} "):
                pass
            return


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
async def test_a_peer_restarted_with_its_key_and_port_is_reconnected_every_time(
    sig: signal.Signals,
) -> None:
    port = free_port()
    a_addr = f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id_of('a')}"
    async with open_p2p(config("b", persistent_peers=(a_addr,)), TOPICS) as b:
        for round in range(3):
            proc = await trio.lowlevel.open_process(
                [sys.executable, "-m", "tests.node.p2p.peerproc", "a", b.listen_addrs()[0],
                 str(port)],
                stdout=subprocess.PIPE, cwd=ROOT,
            )  # fmt: skip
            try:
                assert proc.stdout is not None
                lines = Lines(proc.stdout)
                with trio.fail_after(20):
                    assert (await lines.next()).startswith("ready ")
                # Up and listening: from here both sides meet within seconds.
                with trio.fail_after(5):
                    await heard_by(lines, b, f"round {round}")
                    await b.wait_for_mesh("tx", 1)
                proc.send_signal(sig)
                await proc.wait()
            finally:
                proc.kill()
                await proc.wait()

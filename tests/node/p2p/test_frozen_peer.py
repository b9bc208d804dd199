"""A peer process frozen mid-stream (SIGSTOP, as a process starved of CPU is).

Our writes to it block once the kernel buffers are full, its queue stays full, and a
publish of ours waits `publish_wait_s` for it, then no more while it lags. Its
connection is closed after `link_stall_s`; it redials and hears us again once it runs.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys

import pytest
import trio

from node.p2p import open_p2p
from tests.node.p2p.support import ROOT, TOPICS, Lines, config, note

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


async def test_a_frozen_peer_stops_holding_up_our_gossip_and_hears_us_after_it_resumes() -> None:
    cfg = config("writer", publish_wait_s=0.01, link_stall_s=2.0)
    async with open_p2p(cfg, TOPICS) as a:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "tests.node.p2p.peerproc", "frozen", a.listen_addrs()[0]],
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        try:
            assert proc.stdout is not None
            lines = Lines(proc.stdout)
            with trio.fail_after(30):
                assert (await lines.next()).startswith("ready ")
                await a.wait_for_mesh("tx", 1)
                await a.publish("tx", note("hello"))
                assert await lines.next() == "hello"
            os.kill(proc.pid, signal.SIGSTOP)
            # Until the kernel buffers are full our writes to it do not block, and they
            # may hold megabytes (loopback's autotuning: ~150 KB in most runs, all of 800
            # notes beside busy in-process networks): gossip flows on until they are.
            with trio.fail_after(30):
                for i in itertools.count():
                    if a.counters["links", "closed_dead"]:
                        break
                    for j in range(100):
                        await a.publish("tx", note(f"{i:04d} {j:03d} " + "x" * 400))
                    await trio.sleep(0.1)
            assert a.counters["tx", "publish_wait_expired"] > 0
            waited = a.counters["tx", "publish_wait_expired"]
            for i in range(50):
                await a.publish("tx", note(f"unhindered {i}"))
            assert a.counters["tx", "publish_wait_expired"] == waited
            os.kill(proc.pid, signal.SIGCONT)
            with trio.fail_after(30):
                for i in itertools.count():
                    await a.publish("tx", note(f"again {i}"))
                    with trio.move_on_after(0.3):
                        while not (await lines.next()).startswith("again "):
                            pass
                        break
        finally:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            await proc.wait()

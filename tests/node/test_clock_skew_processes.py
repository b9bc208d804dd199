"""Four validator processes, one with its clock 30 s ahead and one 30 s behind (Debian's
libfaketime shifts the wall clock alone: trio's monotonic clock runs true). The chain
goes on; no block is dated beyond the honest clocks' precision; the one ahead dates its
proposals by the others' clock once it has committed a block of theirs
(consensus/chain_clock.py), and they commit (a round lost at most once, where before
each of its turns cost one); the one behind proposes its parent's time + 1 ms; the
skewed nodes' metrics show the others' proposals 30 s off, the one ahead's counts the
proposals it dated by the others' clock, and nobody is punished."""

from __future__ import annotations

from pathlib import Path

import pytest

from consensus.state_machine import PROPOSAL_TIME_PRECISION_MS
from node.clock import wall_clock_ms
from tests.node.clocks import FAKETIME, NO_FAKETIME, clock_off_by, read_samples
from tests.node.netproc import SHORT_TIMEOUTS, ProcessNetwork, read_blocks, read_roots, running
from tests.node.test_network_processes import wait_until

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

HEIGHTS = 12
"""Three turns of each validator as proposer."""


@pytest.mark.skipif(not FAKETIME.exists(), reason=NO_FAKETIME)
async def test_validators_30_s_ahead_and_behind_neither_move_the_chain_s_time_nor_stop_it(
    tmp_path: Path,
) -> None:
    network = ProcessNetwork(tmp_path / "net", extra_config=SHORT_TIMEOUTS)
    ahead, behind, *honest = network.homes
    ahead.env, behind.env = clock_off_by(30), clock_off_by(-30)
    names = [v["name"] for v in network.genesis["validators"]]
    keys = [bytes.fromhex(v["pubkey"][2:]) for v in network.genesis["validators"]]
    with running(network):
        await wait_until(
            f"the honest validators to commit {HEIGHTS} blocks",
            lambda: min(len(read_roots(h.db)) for h in honest) >= HEIGHTS,
            timeout_s=120,
        )
        latest_ms = wall_clock_ms() + PROPOSAL_TIME_PRECISION_MS
        blocks = read_blocks(honest[0])
        seen_by_honest = read_samples(honest[0], "clearnode_consensus_proposal_ahead_ms")
        untimely = read_samples(honest[0], "clearnode_consensus_untimely_proposals_total")
        seen_by_behind = read_samples(behind, "clearnode_consensus_proposal_ahead_ms")
        seen_by_ahead = read_samples(ahead, "clearnode_consensus_proposal_ahead_ms")
        dated = read_samples(ahead, "clearnode_consensus_proposals_dated_by_others_total")
        dated_by_honest = read_samples(
            honest[0], "clearnode_consensus_proposals_dated_by_others_total"
        )
        jailed = read_samples(honest[0], "clearnode_validators_jailed_total")
    times = [b.header.time_ms for b in blocks]
    assert times == sorted(set(times)) and times[-1] <= latest_ms
    proposers = [b.header.proposer for b in blocks]
    assert keys[0] in proposers
    by_behind = [i for i, b in enumerate(blocks) if b.header.proposer == keys[1] and i > 0]
    assert by_behind and all(times[i] == times[i - 1] + 1 for i in by_behind)
    assert untimely.get(names[0], 0) <= 1  # its first turn, if it came before any other's
    assert abs(seen_by_honest[names[0]]) < PROPOSAL_TIME_PRECISION_MS
    assert all(abs(seen_by_honest[names[i]]) < 5_000 for i in (2, 3) if names[i] in seen_by_honest)
    assert all(seen_by_behind[names[i]] > 25_000 for i in (2, 3))
    assert all(seen_by_ahead[names[i]] < -25_000 for i in (2, 3))
    assert dated[""] >= 1 and dated_by_honest == {"": 0.0}  # the operator's sign of it
    assert jailed == {"": 0.0}

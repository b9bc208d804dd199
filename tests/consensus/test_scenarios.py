"""Simulated networks named by fault shape; invariants checked by `check_invariants`."""

from __future__ import annotations

import pytest

from consensus.sim.scenarios import check_invariants, run_scenario
from consensus.sim.simulator import CrashPlan, NodeSpec, Scenario, Simulator
from consensus.state_machine import PROPOSAL_TIME_PRECISION_MS


def _nodes(n: int, **byzantine: str) -> tuple[NodeSpec, ...]:
    return tuple(NodeSpec(i, byzantine.get(f"v{i}", "")) for i in range(n))


def test_n4f1_partition() -> None:
    sc = Scenario(1, (1, 1, 1, 1), _nodes(4), partition=(frozenset({3}),), heal_ms=2_000)
    result = run_scenario(sc)
    assert result.ok, result.violations
    assert min(result.heights.values()) >= 2


def test_n4_split_brain_partition_halts_then_heals() -> None:
    sc = Scenario(
        2, (1, 1, 1, 1), _nodes(4), partition=(frozenset({0, 1}),), heal_ms=2_000, height_cap=99
    )
    sim = Simulator(sc)
    sim.run()
    assert max(sim.heights_at_heal.values()) == 0  # no quorum on either side
    assert check_invariants(sim).ok


def test_n7_unequal_power_equivocators_below_third() -> None:
    sc = Scenario(
        3,
        (10, 10, 10, 10, 10, 2, 3),
        _nodes(7, v5="equivocate", v6="equivocate"),
        drop_percent=10,
        max_delay_ms=50,
        heal_ms=1_000,
    )
    sim = Simulator(sc)
    sim.run()
    result = check_invariants(sim)
    assert result.ok, result.violations
    assert len(result.evidence_validators) == 2
    included = {e.validator for b, _, _ in sim.nodes[0].store.blocks for e in b.evidence}
    assert included <= result.evidence_validators and included


def test_twins_same_key_on_two_nodes() -> None:
    sc = Scenario(4, (1, 1, 1, 1), (*_nodes(4), NodeSpec(0)), max_delay_ms=30, heal_ms=1_000)
    assert run_scenario(sc).ok


def test_equivocating_proposer() -> None:
    sc = Scenario(
        5,
        (1, 1, 1, 1),
        _nodes(4, v0="equivocate_proposer", v1="equivocate_proposer")[:1] + _nodes(4)[1:],
        max_delay_ms=30,
    )
    assert run_scenario(sc).ok


def test_byzantine_third_or_more_is_detected() -> None:
    """Safety cannot be promised at >= 1/3 byzantine power, but equivocation is proven."""
    sc = Scenario(
        6, (1, 1, 1, 1), _nodes(4, v0="equivocate", v1="equivocate"), max_delay_ms=30, max_ms=5_000
    )
    sim = Simulator(sc)
    sim.run()
    result = check_invariants(sim)
    assert {sim.genesis.validators[i].public_key for i in (0, 1)} <= result.evidence_validators


@pytest.mark.slow
def test_crash_restart_from_wal_at_every_write_index() -> None:
    """Crash node 0 at each WAL write (with and without a torn tail); it must never double-sign."""
    base = Scenario(7, (1, 1, 1, 1), _nodes(4), max_delay_ms=10, height_cap=5)
    probe = Simulator(base)
    probe.run()
    writes = probe.nodes[0].wal_storage.writes
    assert writes > 10
    for at in range(writes):
        sc = Scenario(
            7,
            (1, 1, 1, 1),
            _nodes(4),
            max_delay_ms=10,
            height_cap=5,
            heal_ms=300,
            crashes=(CrashPlan(0, at, 100, torn_bytes=at % 7),),
        )
        sim = Simulator(sc)
        sim.run()
        result = check_invariants(sim)
        assert result.ok, (at, result.violations)
        assert sim.nodes[0].crashes == 1 and sim.nodes[0].store.get_height() >= 5, at


@pytest.mark.parametrize("skew_ms", [30_000, -30_000])
def test_a_validator_whose_clock_is_30_s_off_neither_moves_the_chain_s_time_nor_stops_it(
    skew_ms: int,
) -> None:
    """One 30 s ahead has its proposals prevoted nil until it has committed a block of
    the others; from then on it dates its proposals by their clock (consensus.chain_clock)
    and they commit: a round lost once, not at each of its turns (before, 3 of 12
    heights here). One 30 s behind proposes its parent's time + 1 ms and prevotes nil on
    the others' (timely to the three that commit them). Every block's time stays within
    the precision of the honest clocks, and the chain goes on."""
    nodes = (NodeSpec(0, clock_skew_ms=skew_ms), *_nodes(4)[1:])
    sim = Simulator(Scenario(9, (1, 1, 1, 1), nodes, grow_by=12, height_cap=12, max_ms=60_000))
    sim.run()
    result = check_invariants(sim)
    assert result.ok, result.violations
    assert min(result.heights.values()) >= 12
    latest_ms = sim.genesis.time_ms + sim.now + PROPOSAL_TIME_PRECISION_MS
    times = [b.header.time_ms for b, _, _ in sim.nodes[1].store.blocks]
    assert times == sorted(set(times)) and times[-1] <= latest_ms
    skewed = sim.nodes[0].engine
    honest = sim.nodes[1].engine
    assert skewed is not None and honest is not None
    if skew_ms > 0:
        assert skewed.stats.untimely_proposals == 0 and skewed.stats.proposals_dated_by_others
        blocks = sim.nodes[1].store.blocks
        assert sum(certificate.round > 0 for _, certificate, _ in blocks) <= 1
        assert skewed.signer is not None
        assert any(b.header.proposer == skewed.signer.key.public_key for b, _, _ in blocks)
    else:
        assert skewed.stats.untimely_proposals > 0 and honest.stats.untimely_proposals == 0


def test_a_loaded_network_recovers_from_lossy_seconds() -> None:
    """Every gossip message costs its receiver 10 ms, as py-libp2p's CPU on a loaded
    machine: two seconds of heavy loss fail rounds, and the re-gossip of the stuck rounds
    queues at every node. Re-sending only the live rounds (consensus.regossip), every
    network recovers; re-sending the whole height, 2 of these 12 never did."""
    for seed in range(12):
        sc = Scenario(
            seed, (1, 1, 1, 1), _nodes(4), drop_percent=40, heal_ms=2_000, max_ms=22_000,
            compact_proposals=True, handling_ms=10, regossip_moving=False,
        )  # fmt: skip
        result = run_scenario(sc)
        assert result.ok, (seed, result.violations)

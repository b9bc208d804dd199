"""The validator set follows the application: the set after block h governs h + 2
(consensus/engine.py `get_validators`), in simulated networks."""

from __future__ import annotations

from consensus.sim.scenarios import check_invariants
from consensus.sim.simulator import CrashPlan, NodeSpec, Scenario, Simulator, make_key

ADD_V4_AFTER_2 = (2, (1, 1, 1, 1, 1))
REMOVE_V0_AFTER_5 = (5, (0, 1, 1, 1, 1))


def signers(sim: Simulator, node: int, height: int) -> set[bytes]:
    _, certificate, _ = sim.nodes[node].store.blocks[height - 1]
    return {s.validator for s in certificate.signatures}


def run(scenario: Scenario) -> Simulator:
    sim = Simulator(scenario)
    sim.run()
    return sim


def test_a_validator_added_then_one_removed_mid_run_with_faults_and_a_crash() -> None:
    sim = run(
        Scenario(
            11,
            (1, 1, 1, 1),
            tuple(NodeSpec(i) for i in range(5)),
            drop_percent=10,
            max_delay_ms=40,
            heal_ms=1_500,
            crashes=(CrashPlan(4, 30, 300),),
            height_cap=12,
            set_changes=(ADD_V4_AFTER_2, REMOVE_V0_AFTER_5),
        )
    )
    result = check_invariants(sim)  # agreement, certificates of each height's set, liveness
    assert result.ok, result.violations
    assert min(result.heights.values()) >= 12
    v0, v4 = make_key(0).public_key, make_key(4).public_key
    assert all(v4 not in signers(sim, 1, h) for h in range(1, 4))
    assert any(v4 in signers(sim, 1, h) for h in range(4, 13))
    assert all(v0 not in signers(sim, 1, h) for h in range(7, 13))
    engine = sim.nodes[4].engine
    assert engine is not None and sim.nodes[4].crashes == 1
    assert [len(engine.get_validators(h).validators) for h in (3, 4, 6, 7)] == [4, 5, 5, 4]


def test_a_removed_validators_votes_no_longer_count() -> None:
    """v0 is cut off for the whole run: v1..v3 commit (3 of 4) until v3's removal takes
    effect at height 4, where v1 and v2 are 2 of 3, not a quorum, though v3 still votes."""
    cut_off = {"partition": (frozenset({0}),), "heal_ms": 60_000, "max_ms": 6_000}
    nodes = tuple(NodeSpec(i) for i in range(4))
    removed = run(Scenario(12, (1, 1, 1, 1), nodes, set_changes=((2, (1, 1, 1, 0)),), **cut_off))
    assert [n.store.get_height() for n in removed.nodes[1:]] == [3, 3, 3]
    kept = run(Scenario(12, (1, 1, 1, 1), nodes, **cut_off))
    assert min(n.store.get_height() for n in kept.nodes[1:]) >= 6

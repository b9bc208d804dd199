"""The validator set follows the application: the set after block h governs h + 2
(consensus/engine.py `get_validators`), in simulated networks."""

from __future__ import annotations

from collections.abc import Mapping

from consensus.sim.scenarios import check_invariants
from consensus.sim.simulator import CrashPlan, NodeSpec, Scenario, Simulator, make_key
from consensus.types import ValidatorSet, Voter
from consensus.validator_sets import SETS_KEPT, ValidatorCheckpoint, ValidatorSets
from records.codec import MAX_EVIDENCE_AGE_BLOCKS

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
            grow_by=12,  # to the cap, whatever the height at the heal
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


class AskedChanges(dict[int, tuple[Voter, ...]]):
    """The application's set changes, noting each height a node's engine asks for."""

    def __init__(self, changes: Mapping[int, tuple[Voter, ...]]) -> None:
        super().__init__(changes)
        self.asked: list[int] = []

    def get(self, height: int, default: object = None) -> tuple[Voter, ...] | None:  # type: ignore[override]
        self.asked.append(height)
        return super().get(height)


CHECKPOINT_EVERY = 10


def test_a_restarted_validator_walks_its_sets_from_its_checkpoint_and_agrees() -> None:
    """Node 3 crashes near height 130, after a checkpoint every 10 heights, and restarts
    with its store: it asks the application for no height below its checkpoint (a walk
    from genesis would ask for height 1 again), passes the change after block 120, and
    holds every set the walk from genesis gives."""
    scenario = Scenario(
        5,
        (1, 1, 1, 1),
        tuple(NodeSpec(i) for i in range(4)),
        crashes=(CrashPlan(3, 1_400, 300),),
        grow_by=160,
        height_cap=160,
        max_ms=600_000,
        set_changes=((120, (1, 2, 1, 1)),),
        checkpoint_interval=CHECKPOINT_EVERY,
    )
    sim = Simulator(scenario)
    changes = AskedChanges(sim.set_changes)
    sim.set_changes = changes
    sim.run()
    asked = list(changes.asked)
    result = check_invariants(sim)
    assert result.ok, result.violations
    assert min(result.heights.values()) >= 160 and sim.nodes[3].crashes == 1
    # Every node asks in height order, but the restarted one goes back to its checkpoint.
    walked_back = max(max(asked[:i]) - h for i, h in enumerate(asked) if i)
    assert MAX_EVIDENCE_AGE_BLOCKS <= walked_back < SETS_KEPT + CHECKPOINT_EVERY
    engine, stored = sim.nodes[3].engine, sim.nodes[3].store.validator_checkpoint
    assert engine is not None and stored is not None
    assert ValidatorCheckpoint.decode(stored).height == 61  # kept as it went, after the restart
    from_genesis = ValidatorSets(ValidatorSet.from_validators(sim.genesis.validators), changes.get)
    window = range(engine.height - SETS_KEPT + 2, engine.height + 2)
    assert [engine.get_validators(h) for h in window] == [from_genesis.get(h) for h in window]

"""Seeded random scenarios and the invariants every run must keep."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from consensus.evidence import is_valid_duplicate_vote
from consensus.sim.simulator import CrashPlan, NodeSpec, Scenario, Simulator
from consensus.types import InvalidCommit, ValidatorSet

FAULT_SHAPES = ("none", "equivocate", "twins", "equivocate_proposer")


def compute_byzantine_budget(powers: tuple[int, ...]) -> int:
    """Largest power strictly below 1/3 of the total."""
    total = sum(powers)
    return (total - 1) // 3


def random_scenario(seed: int) -> Scenario:
    """Derive a whole scenario from `seed` (n, powers, network faults, crashes, byzantines)."""
    rng = random.Random(seed)
    n = rng.choice((4, 4, 7))
    powers = (
        tuple(1 for _ in range(n))
        if rng.random() < 0.5
        else tuple(rng.randint(1, 10) for _ in range(n))
    )
    nodes = [NodeSpec(i) for i in range(n)]
    shape = rng.choice(FAULT_SHAPES)
    # Byzantine validators are the lowest-power ones that fit under 1/3 of power.
    order = sorted(range(n), key=lambda i: (powers[i], i))
    budget = compute_byzantine_budget(powers)
    bad: list[int] = []
    for i in order:
        if shape != "none" and sum(powers[j] for j in bad) + powers[i] <= budget:
            bad.append(i)
            if shape != "equivocate" or rng.random() < 0.5:
                break
    for i in bad:
        if shape == "twins":
            nodes.append(NodeSpec(i))
        else:
            nodes[i] = NodeSpec(i, shape)
    heal_ms = rng.choice((0, 500, 1_500, 3_000))
    partition: tuple[frozenset[int], ...] = ()
    if heal_ms and rng.random() < 0.4:
        cut = frozenset(rng.sample(range(len(nodes)), rng.randint(1, len(nodes) // 2)))
        partition = (cut,)
    crashes: tuple[CrashPlan, ...] = ()
    if rng.random() < 0.4:
        victim = rng.randrange(len(nodes))
        crashes = (
            CrashPlan(
                victim, rng.randint(0, 60), rng.randint(50, 1_000), rng.choice((0, 0, 3, 11))
            ),
        )
    scenario = Scenario(
        seed=seed,
        powers=powers,
        nodes=tuple(nodes),
        drop_percent=rng.choice((0, 5, 20)) if heal_ms else 0,
        duplicate_percent=rng.choice((0, 10)),
        max_delay_ms=rng.choice((0, 20, 80)),
        partition=partition,
        heal_ms=heal_ms,
        crashes=crashes,
        compact_proposals=rng.random() < 0.5,
    )
    if heal_ms and rng.random() < 0.3:  # drawn last: the seeds before it keep their scenarios
        listener, speaker = rng.sample(range(len(nodes)), 2)
        scenario = replace(scenario, deaf=((listener, speaker),))
    return scenario


@dataclass
class SimResult:
    scenario: Scenario
    heights: dict[int, int]
    violations: list[str] = field(default_factory=list)
    evidence_validators: set[bytes] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.violations


def check_invariants(sim: Simulator) -> SimResult:
    honest = sim.honest
    result = SimResult(sim.scenario, {n.index: n.store.get_height() for n in sim.nodes})
    chains = {n.index: n.store.get_hashes() for n in honest}
    for a in chains:
        for b in chains:
            shorter = min(len(chains[a]), len(chains[b]))
            if chains[a][:shorter] != chains[b][:shorter]:
                first = next(h for h in range(shorter) if chains[a][h] != chains[b][h])
                result.violations.append(
                    f"agreement: nodes {a} and {b} committed different blocks at height {first + 1}"
                )
    for node in sim.nodes:
        if node.engine is None:
            continue
        for ev in node.engine.stats.evidence:
            validators = node.engine.get_validators(ev.height)
            if not is_valid_duplicate_vote(sim.genesis.chain_id, validators, ev):
                result.violations.append(f"node {node.index} produced invalid evidence")
            result.evidence_validators.add(ev.validator)
        if node in honest and node.engine.stats.refused_signatures:
            result.violations.append(
                f"honest node {node.index} was asked to double-sign: "
                f"{node.engine.stats.refused_signatures[0]}"
            )
    result.violations.extend(check_certificates(sim))
    if sim.heights_at_heal or all(n.store.get_height() >= sim.scenario.height_cap for n in honest):
        grown = max(sim.heights_at_heal.get(n.index, 0) for n in honest) + sim.scenario.grow_by
        target = min(grown, sim.scenario.height_cap)
        stuck = {n.index: n.store.get_height() for n in honest if n.store.get_height() < target}
        if stuck:
            result.violations.append(
                f"liveness: after healing at {sim.scenario.heal_ms} ms, nodes {stuck} "
                f"did not reach height {target} by {sim.scenario.max_ms} ms"
            )
    else:
        result.violations.append("liveness: the run ended before the network healed")
    return result


def check_certificates(sim: Simulator) -> list[str]:
    """Every stored block's certificate is signed by more than 2/3 of the set of its height,
    as the scenario's set changes make it (computed here, not read from an engine), and
    only by members of that set."""
    sets = [ValidatorSet.from_validators(sim.genesis.validators)]
    violations = []
    for node in sim.honest:
        for block, certificate, _ in node.store.blocks:
            while len(sets) < block.height:
                change = sim.set_changes.get(len(sets) - 1)
                sets.append(
                    sets[-1].next_height() if change is None else sets[-1].compute_updated(change)
                )
            try:
                certificate.verify(sim.genesis.chain_id, sets[block.height - 1])
            except InvalidCommit as exc:
                violations.append(f"node {node.index}: height {block.height}: {exc}")
    return violations


def run_scenario(scenario: Scenario) -> SimResult:
    sim = Simulator(scenario)
    sim.run()
    return check_invariants(sim)


def run_seed(seed: int) -> SimResult:
    return run_scenario(random_scenario(seed))


def replay_command(seed: int) -> str:
    return f".venv/bin/python -m consensus.sim --seed {seed}"

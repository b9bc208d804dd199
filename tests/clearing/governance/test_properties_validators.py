"""Properties of validator-set changes and jailing over random changes, votes, evidence
and snapshot heights: a set change takes effect exactly at its height, a proposal without
quorum changes nothing, replay and restore give the same roots, jailing moves no money."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.context import Equivocation
from clearing.governance.vote import sign_vote
from clearing.governance_changes import Change, RemoveValidator, SetValidatorPower
from clearing.governance_proposal import VoteChoice
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearing.tx_kind import TxRecord
from devnet.sandbox import Sandbox
from tests.clearing.governance.support import MIN_DELAY, gov_sandbox, propose
from tests.clearing.governance.test_properties import get_money
from tests.clearing.governance.validator_support import active, add, pubkey
from tests.clearing.test_trade import make_batch, make_trade, trading_box


@dataclass(frozen=True)
class Plan:
    change: tuple[str, int, int]  # kind, validator, power
    choices: tuple[VoteChoice, ...]  # one per validator
    extra_delay: int
    evidence: tuple[int, int] | None  # (validator, block after the proposal's)
    snapshot_block: int


plans = st.builds(
    Plan,
    st.tuples(st.sampled_from(["add", "remove", "power"]), st.integers(0, 3), st.integers(1, 30)),
    st.tuples(*[st.sampled_from(list(VoteChoice))] * 4),
    st.integers(0, 3),
    st.none() | st.tuples(st.integers(0, 3), st.integers(1, MIN_DELAY + 6)),
    st.integers(0, MIN_DELAY + 3),
)


def make_change(box: Sandbox, plan: Plan) -> Change:
    kind, n, power = plan.change
    if kind == "add":
        return add(power=power)
    if kind == "remove":
        return RemoveValidator(pubkey(box, n))
    return SetValidatorPower(pubkey(box, n), power + (power == 10))


def expected_set(plan: Plan) -> list[tuple[str, int]]:
    genesis = [(f"validator-{n}", 10) for n in range(4)]
    kind, n, power = plan.change
    if kind == "add":
        return [*genesis, ("validator-4", power)]
    if kind == "remove":
        return [v for v in genesis if v[0] != f"validator-{n}"]
    return [(name, power + (power == 10) if i == n else p) for i, (name, p) in enumerate(genesis)]


def start(plan: Plan) -> tuple[Sandbox, int]:
    """A book with open positions, then the plan's proposal; returns its execution height."""
    box, (alice, bob, *_) = trading_box(box=gov_sandbox())
    box.apply([make_batch(box, [make_trade(1, alice, bob, quantity=5)])])
    tx = propose(box, (make_change(box, plan),), 2, MIN_DELAY + plan.extra_delay)
    box.apply([tx])
    return box, tx.execute_height


def block_at(
    box: Sandbox, plan: Plan, n: int, jail: bool
) -> tuple[list[TxRecord], tuple[Equivocation, ...]]:
    """The ballots and evidence of the ``n``-th block after the proposal's."""
    votes: list[TxRecord] = []
    if n == 1:
        proposal = box.state.proposals[1]
        votes = [
            sign_vote(key, box.chain_id, proposal, choice)
            for key, choice in zip(box.validator_keys, plan.choices, strict=True)
        ]
    evidence: tuple[Equivocation, ...] = ()
    if jail and plan.evidence is not None and plan.evidence[1] == n:
        evidence = (Equivocation(pubkey(box, plan.evidence[0]), box.state.height),)
    return votes, evidence


def passes(plan: Plan) -> bool:
    return 3 * 10 * plan.choices.count(VoteChoice.YES) > 2 * 40


@settings(max_examples=25, deadline=None)
@given(plans)
def test_a_set_change_takes_effect_exactly_at_its_height_or_never_without_quorum(
    plan: Plan,
) -> None:
    box, execute_height = start(plan)
    genesis_set = active(box)
    for n in range(1, execute_height - box.state.height + 3):
        box.apply(*block_at(box, plan, n, jail=False))
        changed = passes(plan) and box.state.height >= execute_height
        assert active(box) == (expected_set(plan) if changed else genesis_set)
        assert (execute_height in box.state.validator_sets) is changed


@settings(max_examples=15, deadline=None)
@given(plans)
def test_replay_and_restore_give_the_same_roots_and_jailing_moves_no_money(plan: Plan) -> None:
    roots = []
    for _ in range(2):
        box, execute_height = start(plan)
        money = get_money(box)
        blocks = []
        for n in range(1, execute_height - box.state.height + 3):
            if n - 1 == plan.snapshot_block:
                state = decode_snapshot(box.genesis, encode_snapshot(box.state))
                restored = Sandbox(box.genesis, state, box.validator_keys)
                first = n
            blocks.append(box.apply(*block_at(box, plan, n, jail=True)).state_root)
            assert get_money(box) == money
        roots.append(blocks)
    assert roots[0] == roots[1]
    for n in range(first, len(blocks) + 1):
        root = restored.apply(*block_at(restored, plan, n, jail=True)).state_root
        assert root == blocks[n - 1]
    assert restored.state.validators == box.state.validators
    assert restored.state.validator_sets == box.state.validator_sets

"""Upgrades in place, as clearing holds them (clearing/upgrade.py): governance schedules and
cancels a plan; block H of a plan is applied only by a release carrying its migration,
which runs first; any other release refuses the block with the state untouched, as does
a release whose own upgrade has not come; the plan and the upgrades done are in the root
and in snapshots."""

from __future__ import annotations

import pytest

from clearing.governance.errors import UpgradeAlreadyDone
from clearing.governance.rules import build_draft
from clearing.governance_changes import CancelUpgrade, ScheduleUpgrade
from clearing.governance_proposal import ProposalStatus
from clearing.state import ClearingState
from clearing.transition.block import process_block
from clearing.transition.root import compute_state_root, compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from clearing.transition.tx import encode_tx
from clearing.upgrade import (
    Migration,
    ReleaseTooNew,
    ReleaseTooOld,
    UpgradeRequired,
    check_release,
)
from clearing.upgrade_plan import DoneUpgrade, UpgradePlan
from devnet.sandbox import Sandbox
from tests.clearing.governance.support import (
    assert_refused,
    ballots,
    gov_sandbox,
    propose,
    run_until,
    submit,
)
from tests.clearing.support import ALICE, WETH

RELEASE_HASH = bytes(range(32))


def plan_at(height: int, name: str = "v0.3.0") -> UpgradePlan:
    return UpgradePlan(name, height, "0.3.0", RELEASE_HASH)


def schedule(box: Sandbox, plan: UpgradePlan) -> None:
    """``plan`` scheduled by a proposal every validator votes for, executed."""
    proposal = submit(box, propose(box, (ScheduleUpgrade(plan),)))
    box.apply(ballots(box, proposal, range(len(box.validator_keys))))
    run_until(box, proposal.execute_height)
    assert box.state.proposals[proposal.id].status == ProposalStatus.EXECUTED


def mark_members(state: ClearingState) -> None:
    """A migration whose work shows: every member's assessed amount set to 7."""
    for member in state.members.values():
        member.assessed = 7
        state.dirty.add(member.address)


def test_a_plan_is_scheduled_replaced_and_cancelled_by_governance() -> None:
    box = gov_sandbox()
    schedule(box, plan_at(100))
    assert box.state.upgrade_plan == plan_at(100)
    schedule(box, plan_at(120, "v0.3.1"))  # a later decision replaces an earlier one
    assert box.state.upgrade_plan == plan_at(120, "v0.3.1")
    proposal = submit(box, propose(box, (CancelUpgrade("v0.3.1"),)))
    assert proposal.execute_height == 0  # an emergency: executed as it passes
    box.apply(ballots(box, proposal, range(len(box.validator_keys))))
    assert box.state.upgrade_plan is None
    assert compute_state_root(box.state) == compute_state_root_from_scratch(box.state)


def test_a_plan_of_a_passed_height_a_used_name_or_another_cancellation_is_refused() -> None:
    box = gov_sandbox()
    detail = assert_refused(box, propose(box, (ScheduleUpgrade(plan_at(1)),)),
                            "UpgradeHeightPassed")  # fmt: skip
    assert "height=1" in detail and "executed_at=" in detail
    schedule(box, plan_at(500, "v0.4.0"))
    detail = assert_refused(box, propose(box, (CancelUpgrade("v0.9.0"),)), "NoSuchUpgrade")
    assert "planned='v0.4.0'" in detail
    box.state.upgrades_done.append(DoneUpgrade("v0.3.0", 2))  # as a later release holds it
    with pytest.raises(UpgradeAlreadyDone, match="height=2"):
        build_draft(box.state, (ScheduleUpgrade(plan_at(500)),))


def test_a_release_without_the_migration_refuses_the_block_and_changes_nothing() -> None:
    box = gov_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 10)])
    box.state.upgrade_plan = plan_at(box.state.height + 2)
    box.apply([])  # the block before the upgrade's is this release's
    root, height = compute_state_root(box.state), box.state.height
    with pytest.raises(UpgradeRequired) as info:
        box.apply([box.credit(ALICE.address, WETH, 5)])
    assert info.value.plan == plan_at(height + 1)
    assert "needs release 0.3.0" in info.value.describe()
    assert (box.state.height, compute_state_root(box.state)) == (height, root)


def test_the_carrying_release_migrates_first_then_applies_the_block() -> None:
    box = gov_sandbox()
    box.apply([box.credit(ALICE.address, WETH, 10)])
    plan = plan_at(box.state.height + 1)
    box.state.upgrade_plan = plan
    migrations = (Migration("v0.3.0", mark_members),)
    result = process_block(box.state, box.next_context(), [], migrations)
    assert [e.kind for e in result.events][:1] == ["upgrade_applied"]
    assert box.state.members[ALICE.address].assessed == 7
    assert box.state.upgrades_done == [DoneUpgrade("v0.3.0", plan.height)]
    assert box.state.upgrade_plan is None
    assert result.state_root == compute_state_root_from_scratch(box.state)
    process_block(box.state, box.next_context(), [], migrations)  # and the next ones
    with pytest.raises(ReleaseTooOld, match=r"v0\.3\.0"):  # the release before it, restarted
        check_release(box.state, ())


def test_a_release_whose_own_upgrade_has_not_come_refuses_earlier_blocks() -> None:
    box = gov_sandbox()
    box.apply([])  # a chain the release before started
    migrations = (Migration("v0.3.0", mark_members),)
    with pytest.raises(ReleaseTooNew) as info:
        process_block(box.state, box.next_context(), [], migrations)
    assert info.value.planned_height is None and "which no plan" in info.value.describe()
    box.state.upgrade_plan = plan_at(5)
    with pytest.raises(ReleaseTooNew) as info:
        check_release(box.state, migrations)
    assert "scheduled at height 5, and the state is at height 1" in info.value.describe()
    run_until(box, 4)  # the previous release's blocks
    check_release(box.state, migrations)  # the upgrade is due next: this one's


def test_a_chain_the_release_starts_is_under_its_rules_from_the_first_block() -> None:
    box = gov_sandbox()
    migrations = (Migration("v0.2.9", mark_members), Migration("v0.3.0", mark_members))
    check_release(box.state, migrations)  # at height 0: this release starts the chain
    credit = encode_tx(box.credit(ALICE.address, WETH, 10))
    result = process_block(box.state, box.next_context(), [credit], migrations)
    assert box.state.upgrades_done == [DoneUpgrade("v0.2.9", 1), DoneUpgrade("v0.3.0", 1)]
    assert box.state.members[ALICE.address].assessed == 0  # nothing migrated
    assert result.state_root == compute_state_root_from_scratch(box.state)
    check_release(box.state, migrations)
    with pytest.raises(ReleaseTooOld):  # the release before cannot follow this chain
        check_release(box.state, ())


def test_the_plan_and_the_upgrades_done_are_in_the_root_and_in_snapshots() -> None:
    box = gov_sandbox()
    root = compute_state_root(box.state)
    box.state.upgrade_plan = plan_at(50)
    planned = compute_state_root(box.state)
    assert planned != root
    box.state.upgrades_done.append(DoneUpgrade("v0.2.9", 3))
    assert compute_state_root(box.state) not in (root, planned)
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert (restored.upgrade_plan, restored.upgrades_done) == (
        plan_at(50),
        [DoneUpgrade("v0.2.9", 3)],
    )
    assert compute_state_root(restored) == compute_state_root(box.state)

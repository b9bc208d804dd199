"""Scheduling an upgrade in place and cancelling it (clearing/upgrade.py).

A schedule names a block after the one that executes it (checked at submission and
again at execution, when the height has moved on), and a name never used before, so
that "upgrade X done at H" names one migration; it replaces any plan in force, as a
later decision replaces an earlier one. A cancellation names the plan in force."""

from __future__ import annotations

from clearing.governance.draft import Draft
from clearing.governance.errors import NoSuchUpgrade, UpgradeAlreadyDone, UpgradeHeightPassed
from clearing.governance_changes import CancelUpgrade, ScheduleUpgrade
from clearing.state import ClearingState


def apply_schedule_upgrade(change: ScheduleUpgrade, draft: Draft, state: ClearingState) -> None:
    plan = change.plan
    if plan.height <= state.height:
        raise UpgradeHeightPassed(plan.name, plan.height, state.height)
    done = next((d for d in state.upgrades_done if d.name == plan.name), None)
    if done is not None:
        raise UpgradeAlreadyDone(done.name, done.height)
    draft.upgrade_plan = plan


def apply_cancel_upgrade(change: CancelUpgrade, draft: Draft, state: ClearingState) -> None:
    planned = draft.upgrade_plan
    if planned is None or planned.name != change.name:
        raise NoSuchUpgrade(change.name, None if planned is None else planned.name)
    draft.upgrade_plan = None

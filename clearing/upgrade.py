"""Upgrades in place: the network changes its software at a height its validators voted
for, its state carried over by a migration, never by a new genesis.

Governance schedules an upgrade (``ScheduleUpgrade``: a name, the height, the release
version it needs, optionally the hash of its release files) or cancels it
(``CancelUpgrade``); the state holds the one plan in force and every upgrade done.
A release knows the upgrades it can run (``clearing/release.py``: each name with its
migration). Block ``H`` of a planned upgrade is applied only by a release that carries
its migration, which runs first, before the block's transactions, turning the state of
height ``H - 1`` into the new release's; every node runs it at the same height, on the
same state, so every node agrees on the root after it (the new format's). A release that
does not carry it halts before it applies or signs anything of height ``H``
(``UpgradeRequired``), and a release whose own upgrade has not come yet refuses to apply
earlier blocks (``ReleaseTooNew``): blocks are applied under the rules of the release of
their height only. A chain a release starts from its genesis is under that release's
rules from its first block: the upgrades it carries are recorded done at height 1,
their migrations having nothing to turn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clearing.context import BlockContext
from clearing.errors import InvalidBlock
from clearing.events import Event, make_event
from clearing.state import ClearingState
from clearing.upgrade_plan import DoneUpgrade, UpgradePlan


@dataclass(frozen=True, slots=True)
class Migration:
    """What a release carries for an upgrade: its name and the step that turns the state
    of the height before into the release's (deterministic: no I/O, no clock)."""

    name: str
    migrate: Callable[[ClearingState], None]


@dataclass(eq=False)
class ReleaseMismatch(InvalidBlock):
    """This release cannot apply the next block: a node stops, it never signs or applies
    it under the wrong rules."""

    def describe(self) -> str:
        """One line for the operator: what happened and what to do."""
        raise NotImplementedError


@dataclass(eq=False)
class UpgradeRequired(ReleaseMismatch):
    """Block ``plan.height`` is the first of release ``plan.version`` (upgrade
    ``plan.name``), which this release is not."""

    plan: UpgradePlan

    def describe(self) -> str:
        hash_text = "" if self.plan.release_hash is None else (
            f" (release files sha256 0x{self.plan.release_hash.hex()})"
        )  # fmt: skip
        return (
            f"upgrade {self.plan.name!r} at height {self.plan.height} needs release "
            f"{self.plan.version}{hash_text}: install it as that upgrade and start it "
            '(clearnode supervise does so itself: docs/operator.md, "Upgrading")'
        )


@dataclass(eq=False)
class ReleaseTooNew(ReleaseMismatch):
    """This release starts at upgrade ``upgrade``, and the state is at ``height``,
    before it: the blocks up to the upgrade are the previous release's to apply."""

    upgrade: str
    height: int
    planned_height: int | None  # the plan's height, when one names this upgrade

    def describe(self) -> str:
        when = (
            "which no plan in force schedules" if self.planned_height is None
            else f"scheduled at height {self.planned_height}"
        )  # fmt: skip
        return (
            f"this release starts at upgrade {self.upgrade!r}, {when}, and the state is at "
            f"height {self.height}: run the release before it until it halts there"
        )


@dataclass(eq=False)
class ReleaseTooOld(ReleaseMismatch):
    """The state went through upgrade ``upgrade`` at ``height``, which this release does
    not know: its state is a later release's."""

    upgrade: str
    height: int

    def describe(self) -> str:
        return (
            f"the state went through upgrade {self.upgrade!r} at height {self.height}, "
            "which this release does not carry: run that upgrade's release"
        )


def get_due_plan(state: ClearingState, height: int) -> UpgradePlan | None:
    """The plan whose upgrade runs at the start of block ``height``, if any."""
    plan = state.upgrade_plan
    return plan if plan is not None and plan.height == height else None


def is_release_start(state: ClearingState, migrations: tuple[Migration, ...]) -> bool:
    """Whether ``state`` is the previous release's at the height before this release's
    own upgrade: its root is in a format this release does not compute (its block holds
    it, committed), and the migration of the next block turns it into this release's."""
    due = get_due_plan(state, state.height + 1)
    return bool(migrations) and due is not None and due.name == migrations[-1].name


def check_release(state: ClearingState, migrations: tuple[Migration, ...]) -> None:
    """Raise unless a release carrying ``migrations`` (in order; the last is its own)
    can apply the block after ``state``'s: every upgrade done is one it knows, its own is
    done or due next, and an upgrade due next is one it carries."""
    known = {m.name for m in migrations}
    for done in state.upgrades_done:
        if done.name not in known:
            raise ReleaseTooOld(done.name, done.height)
    due = get_due_plan(state, state.height + 1)
    if due is not None and due.name not in known:
        raise UpgradeRequired(due)
    if migrations and state.height > 0:  # at height 0 this release starts the chain
        own = migrations[-1].name
        if due is None or due.name != own:
            if own not in {d.name for d in state.upgrades_done}:
                plan = state.upgrade_plan
                planned = plan.height if plan is not None and plan.name == own else None
                raise ReleaseTooNew(own, state.height, planned)


def process_upgrade(
    state: ClearingState, ctx: BlockContext, migrations: tuple[Migration, ...]
) -> list[Event]:
    """At the start of a block (its height set, before its transactions): the migration
    of the upgrade due at this height, recorded as done. ``check_release`` has refused a
    release that does not carry it. The first block of a chain records this release's
    upgrades done, the chain under its rules from the start."""
    if ctx.height == 1 and not state.upgrades_done:
        state.upgrades_done.extend(DoneUpgrade(m.name, 1) for m in migrations)
    plan = get_due_plan(state, ctx.height)
    if plan is None:
        return []
    migration = next(m for m in migrations if m.name == plan.name)
    migration.migrate(state)
    state.upgrades_done.append(DoneUpgrade(plan.name, plan.height))
    state.upgrade_plan = None
    return [make_event("upgrade_applied", name=plan.name, version=plan.version)]

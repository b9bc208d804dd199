"""The records of an upgrade in place, held by the state: the plan governance scheduled,
and each upgrade done (their rules: clearing/upgrade.py)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated

from records.codec import MAX_INT64, DecodeError, expect_list
from records.declared import Bytes, Declared, Int, Name, Optional, declare_record

Height = Annotated[int, Int(1, MAX_INT64)]


@declare_record
@dataclass(frozen=True, slots=True)
class UpgradePlan(Declared):
    """An upgrade governance scheduled: block ``height`` is the first the release of
    ``version`` applies, after its migration ``name``; ``release_hash``, when given, the
    SHA-256 an operator checks the release's files against (docs/operator.md)."""

    name: Name
    height: Height
    version: Name
    release_hash: Annotated[bytes | None, Optional(Bytes(32))] = None


@declare_record
@dataclass(frozen=True, slots=True)
class DoneUpgrade(Declared):
    """An upgrade applied: ``height`` is the first block under its rules (its migration
    ran at the start of that block; 1 for a chain its release started from genesis)."""

    name: Name
    height: Height


UPGRADE_FIELDS = 2  # what get_upgrade_fields returns


def get_upgrade_fields(plan: UpgradePlan | None, done: list[DoneUpgrade]) -> list[object]:
    """What the root's records and a snapshot hold of upgrades: the plan, the ones done."""
    return [None if plan is None else plan.to_fields(), [d.to_fields() for d in done]]


def read_upgrade_fields(plan: object, done: object) -> tuple[UpgradePlan | None, list[DoneUpgrade]]:
    """``get_upgrade_fields``' inverse; DecodeError names the bad field. Done upgrades are
    in strictly increasing height order."""
    found = [DoneUpgrade.from_fields(d) for d in expect_list(done, "upgrades_done")]
    if any(a.height >= b.height for a, b in pairwise(found)):
        raise DecodeError("upgrades_done", "must be in strictly increasing height order")
    return (None if plan is None else UpgradePlan.from_fields(plan)), found

"""The SDK's `verify_report` on the committed report vectors says what `clearnode verify`
says, line for line and with its exit code: the full check by default (VALID), a
tampered report (INVALID), one without its anchor (NOT CHECKED), a check the member
skipped by name (VALID ONLY AS FAR AS CHECKED, not `ok`), a member's own openings. Less
than the full check is never the default: without a genesis pinned by its hash, or
asked for in a way that cannot hold, it checks nothing and says what to give."""

from __future__ import annotations

import hashlib
import json

import pytest

from clearnode.client import (
    CheckRefused,
    GenesisMismatch,
    GivenGenesis,
    ReportCheck,
    pin_genesis,
    verify_report,
)
from lightclient.anchor import Checkpoint
from proofs.openings import MemberOpenings
from tests.node.reports.support import run_verify
from tests.vectors.make_reports import NOW_MS, REPORTS

GENESIS = (REPORTS / "genesis.json").read_bytes()
PUBLISHED = hashlib.sha256(GENESIS).digest()
MEMBER = "0x503d11324918c1c52e90ee1e85bf56fe0038a54f"
"""The member whose openings the vector `member-openings` holds."""


def _view(name: str) -> dict[str, str]:
    return {"report": (REPORTS / name / "report.bin").read_bytes().hex()}


def _given() -> GivenGenesis:
    return pin_genesis(GENESIS, PUBLISHED)


@pytest.mark.parametrize(
    ("name", "skip", "verdict"),
    [
        ("valid", (), "VALID"),
        ("valid", ("statement",), "VALID ONLY AS FAR AS CHECKED"),
        ("wrong-signature", (), "INVALID"),
        ("no-anchor", (), "NOT CHECKED"),
        ("member-openings", (), "VALID"),
    ],
)
def test_the_sdk_says_what_clearnode_verify_says(
    name: str, skip: tuple[str, ...], verdict: str
) -> None:
    folder = REPORTS / name
    argv = [str(folder / "report.bin"), "--genesis", str(REPORTS / "genesis.json")]
    argv += ["--now", str(NOW_MS), *(["--skip", ",".join(skip)] if skip else [])]
    member, openings = None, None
    if name == "member-openings":
        member = bytes.fromhex(MEMBER[2:])
        openings = MemberOpenings.from_json(json.loads((folder / "openings.json").read_text()))
        argv += ["--member", MEMBER, "--openings", str(folder / "openings.json")]
    check = verify_report(_view(name), _given(), member, openings, now_ms=NOW_MS, skip=skip)
    code, printed = run_verify(argv)
    assert (check.verdict, check.exit_code, str(check) + "\n") == (verdict, code, printed)
    assert check.headline == printed.splitlines()[0]
    assert check.ok == (verdict == "VALID")
    assert bool(check.failures) == (verdict == "INVALID")
    assert bool(check.could_not) == (verdict == "NOT CHECKED")
    skipped = [line for line in check.not_checked if line.endswith("(--skip statement)")]
    assert len(skipped) == len(skip)


def test_less_than_the_full_check_is_refused_unless_asked_for_by_name() -> None:
    view, given = _view("valid"), _given()
    with pytest.raises(CheckRefused, match="needs the chain's genesis pinned by the hash"):
        verify_report(view, 4242)  # type: ignore[arg-type]  # the weak call of the SDK before
    with pytest.raises(CheckRefused, match=r"no check signatures \(the checks that may be"):
        verify_report(view, given, skip=("signatures",))
    checkpoint = Checkpoint(5, NOW_MS, bytes(32))
    with pytest.raises(CheckRefused, match="a checkpoint is where following the root starts"):
        verify_report(view, given, checkpoint=checkpoint, skip=("anchor",))
    with pytest.raises(CheckRefused, match="member and openings go together"):
        verify_report(view, given, bytes(20))
    partial: ReportCheck = verify_report(view, given, now_ms=NOW_MS, skip="anchor")
    assert not partial.ok and partial.verdict == "VALID ONLY AS FAR AS CHECKED"
    assert partial.headline.endswith("NOT CHECKED: the state root followed to the chain "
                                     "within the trusting period")  # fmt: skip


def test_a_genesis_is_pinned_by_the_hash_the_network_publishes() -> None:
    forged = GENESIS.replace(b'"chain_id": 4242', b'"chain_id": 4243')
    with pytest.raises(GenesisMismatch) as raised:
        pin_genesis(forged, PUBLISHED, "genesis.json")
    assert (raised.value.found, raised.value.expected) == (
        hashlib.sha256(forged).digest(),
        PUBLISHED,
    )
    given = pin_genesis(GENESIS, PUBLISHED, "genesis.json")
    assert given.describe() == f"genesis 0x{PUBLISHED.hex()} (genesis.json)"
    with pytest.raises(CheckRefused, match="x: not JSON"):
        pin_genesis(b"{", hashlib.sha256(b"{").digest(), "x")

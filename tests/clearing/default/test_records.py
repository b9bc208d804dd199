"""The record of each default (clearing/default/records.py): what the waterfall paid per
layer, kept through the epoch's last block, in the state root and snapshots."""

from __future__ import annotations

import dataclasses

import pytest

from clearing.events import Event
from clearing.state import DefaultRecord
from clearing.transition.root import compute_state_root, compute_state_root_from_scratch
from clearing.transition.snapshot import decode_snapshot, encode_snapshot
from devnet.sandbox import Sandbox
from records.codec import DecodeError, pack, unpack
from tests.clearing.default.test_crash_ledger import BTC, ETH, A, B, crash_box, of, trades


def crash_mid_epoch(assessment_cap_bps: int = 0) -> tuple[Sandbox, list[Event], dict[bytes, int]]:
    """Epochs of 3 blocks: the crash lands in block 4, the first of epoch 2. Returns the
    box, the crash block's events and each defaulter's cash just before it."""
    box = crash_box(assessment_cap_bps)
    trades(box)
    box.apply([])  # height 3: the epoch sizes the default fund
    cash = {m.address: box.state.members[m.address].sub_accounts[0].cash for m in (A, B)}
    marks = dict(box.state.mark_prices)
    crashed = {BTC: marks[BTC] * 7 // 10, ETH: marks[ETH] * 7 // 10}
    update = box.prices({"BTC/0.001": crashed[BTC], "ETH/0.01": crashed[ETH]}, crashed)
    events = list(box.apply([update]).events)
    losses = {
        A.address: 100 * (marks[BTC] - crashed[BTC]),
        B.address: 1000 * (marks[ETH] - crashed[ETH]),
    }
    deficits = {m: losses[m] - cash[m] for m in cash}  # the negative cash after the crash
    return box, events, deficits


def sum_paid(events: list[Event], kind: str, **match: object) -> int:
    return sum(int(e.get("amount")) for e in of(events, kind, **match))  # type: ignore[arg-type]


@pytest.mark.parametrize("cap_bps", [0, 5_000])
def test_each_default_is_recorded_with_what_each_layer_paid(cap_bps: int) -> None:
    box, events, deficits = crash_mid_epoch(cap_bps)
    assert box.state.height == 4
    records = box.state.defaults
    assert [(r.height, r.member, r.sub_account) for r in records] == sorted(
        (4, m, 0) for m in (A.address, B.address)
    )
    for record in records:
        m = record.member
        assert record.deficit == deficits[m] > 0  # independent of the events
        assert record.is_covered()
        assert record.from_collateral == sum_paid(events, "collateral_seized", member=m)
        assert record.from_own_contribution == sum_paid(events, "own_contribution_used", member=m)
        assert record.from_insurance == sum_paid(events, "insurance_used", member=m)
        assert record.from_members == sum_paid(events, "contribution_mutualised", counterparty=m)
        assert record.from_assessments == sum_paid(events, "assessed", counterparty=m)
        assert record.from_deleveraging == sum_paid(events, "deleveraged", counterparty=m)
        assert record.uncovered == sum_paid(events, "uncovered", member=m)
    b = next(r for r in records if r.member == B.address)
    assert b.from_collateral == 1_985_000_000 and b.from_insurance > 0 and b.from_members > 0
    assert (b.from_assessments > 0) == (cap_bps > 0)


def test_records_stay_through_the_epochs_last_block_then_roll() -> None:
    box, _, _ = crash_mid_epoch()
    recorded = list(box.state.defaults)
    box.apply([])
    box.apply([])  # height 6: epoch 2 ends, its report is built from this state
    assert box.state.height == 6 and box.state.defaults == recorded
    box.apply([])
    box.apply([])
    assert box.state.defaults == recorded  # epoch 3 goes on: its own defaults would join
    box.apply([])  # height 9: epoch 3 ends without a default
    assert box.state.defaults == []


def test_the_records_are_in_the_root_and_round_trip_a_snapshot() -> None:
    box, _, _ = crash_mid_epoch()
    root = compute_state_root(box.state)
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert restored.defaults == box.state.defaults
    assert compute_state_root(restored) == root == compute_state_root_from_scratch(restored)
    first = box.state.defaults[0]
    box.state.defaults[0] = dataclasses.replace(first, from_collateral=first.from_collateral + 1)
    assert compute_state_root(box.state) != root


def _tampered(box: Sandbox, mutate: object) -> bytes:
    fields = unpack(encode_snapshot(box.state), "test")
    mutate(fields[1][17])  # type: ignore[operator]
    return pack(fields)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.reverse(), "strictly sorted"),
        (lambda d: d.append(d[0]), "strictly sorted"),
        (lambda d: d[0].__setitem__(1, b"\x01" * 19), "20 bytes"),
        (lambda d: d[0].__setitem__(3, 0), "deficit"),
        (lambda d: d[0].__setitem__(6, -1), "from_insurance"),
        (lambda d: d[0].pop(), "expected 11 fields"),
    ],
)
def test_bad_records_in_a_snapshot_are_decode_errors(mutate: object, reason: str) -> None:
    box, _, _ = crash_mid_epoch()
    with pytest.raises(DecodeError, match=reason):
        decode_snapshot(box.genesis, _tampered(box, mutate))


def test_a_record_decodes_from_its_fields() -> None:
    record = DefaultRecord(4, b"\x0a" * 20, 2, 10, 1, 2, 3, 4, 0, 0, 0)
    assert DefaultRecord.from_fields(record.to_fields()) == record
    assert record.is_covered()
    assert not dataclasses.replace(record, uncovered=1).is_covered()

"""The cursor store shared by several chains' watchers from worker threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.cursor import CursorStore
from bridge.deposits import DepositEvent

CHAINS = (31337, 31338)
RANGES = 200


def make_deposit(chain_id: int, block: int) -> DepositEvent:
    return DepositEvent(
        chain_id=chain_id,
        vault=bytes(20),
        tx_hash=block.to_bytes(32, "big"),
        log_index=0,
        block_number=block,
        block_hash=bytes(32),
        block_time_s=block,
        member=bytes(20),
        sub_account=0,
        token=bytes(20),
        amount=block,
        deposit_nonce=block,
    )


def test_two_chains_commit_ranges_at_once_from_threads(tmp_path: Path) -> None:
    """Two watchers committing through one connection never nest a transaction,
    and every range's deposit and cursor land exactly once."""
    store = CursorStore(tmp_path / "cursor.sqlite")
    errors: list[BaseException] = []

    def scan(chain_id: int) -> None:
        try:
            for block in range(1, RANGES + 1):
                deposit = make_deposit(chain_id, block)
                store.commit_range(chain_id, bytes(20), block + 1, [deposit])
                store.get_deposits_since(0, limit=1)
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(chain_id,)) for chain_id in CHAINS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for chain_id in CHAINS:
        assert store.count_deposits(chain_id) == RANGES
        assert store.get_next_block(chain_id, bytes(20), 0) == RANGES + 1
    store.close()


def test_a_failed_range_rolls_back_and_frees_the_store(tmp_path: Path) -> None:
    store = CursorStore(tmp_path / "cursor.sqlite")

    def broken_deposits() -> Iterator[DepositEvent]:
        yield make_deposit(CHAINS[0], 1)
        raise ValueError("malformed log")

    with pytest.raises(ValueError, match="malformed log"):
        store.commit_range(CHAINS[0], bytes(20), 5, broken_deposits())
    assert store.count_deposits(CHAINS[0]) == 0
    assert store.get_next_block(CHAINS[0], bytes(20), 1) == 1
    assert store.commit_range(CHAINS[0], bytes(20), 2, [make_deposit(CHAINS[0], 1)])
    store.close()

"""The vault's word that an expired withdrawal was never paid, as clearing's
`ExpiryObservation` (clearing/withdrawal_expiry.py refunds the debit on a quorum).

Which block: the first final block whose timestamp is past the record's expiry.
Every honest validator finds the same one (block timestamps never decrease), so
their attestations sign identical bytes and reach quorum together. Why that
block proves the nonce unused for good: the vault refuses a withdrawal in any
block whose timestamp is past the signed expiry, so from that block on the
nonce's `withdrawalUsed` flag can no longer change. It is therefore read at the
final head (any block from that one on answers the same, and a node that keeps
no old state still serves it).

Synchronous chain reads: the node runs them in a worker thread.
"""

from __future__ import annotations

from bridge.chain import Chain
from bridge.chain_answers import RpcError, read_header
from bridge.vault import is_withdrawal_used
from bridge.watcher import get_final_block
from clearing.state import WithdrawalRecord
from clearing.withdrawal_expiry import ExpiryObservation

BlockStamp = tuple[int, int]
"""(block number, timestamp in unix seconds)."""


def get_block_stamp(chain: Chain, number: int) -> BlockStamp:
    block = chain.request("eth_getBlockByNumber", [hex(number), False])
    if block is None:
        raise RpcError("eth_getBlockByNumber", -1, f"no block {number}")
    return number, read_header(number, block).time_s


def get_final_stamp(chain: Chain, confirmations: int | None) -> BlockStamp | None:
    """The final head (the watcher's finality rule), or None before any block is final."""
    final = get_final_block(chain, confirmations)
    return None if final < 0 else get_block_stamp(chain, final)


def find_first_block_after(chain: Chain, time_s: int, head: BlockStamp) -> BlockStamp | None:
    """The lowest block up to `head` whose timestamp is past `time_s` (binary search),
    or None when even `head` is not past it."""
    if head[1] <= time_s:
        return None
    low, found = 0, head  # found: the lowest block known past time_s
    while low < found[0]:
        middle = get_block_stamp(chain, (low + found[0]) // 2)
        if middle[1] > time_s:
            found = middle
        else:
            low = middle[0] + 1
    return found


def observe_expiry(
    chain: Chain, vault: bytes, record: WithdrawalRecord, head: BlockStamp
) -> ExpiryObservation | None:
    """What a validator attests for `record` once the final `head` is past its expiry:
    None while the vault could still pay it, or once it did (its Withdrawn log then
    settles it as paid)."""
    first = find_first_block_after(chain, record.expiry, head)
    if first is None or is_withdrawal_used(chain, vault, record.member, record.nonce, head[0]):
        return None
    return ExpiryObservation(
        chain_id=chain.chain_id,
        vault=vault,
        member=record.member,
        nonce=record.nonce,
        block_number=first[0],
        block_time_s=first[1],
    )

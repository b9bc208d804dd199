"""Which validator proves which account of an epoch's report.

Every validator computes the same assignment from what it already agrees on (the
epoch's accounts, from the committed state, and the genesis validators), so no
message is needed to split the work: account `i` of the sorted keys goes to
validator `(i + epoch) mod n` of the sorted public keys. Interleaving spreads
each member's sub-accounts and the remainder evenly; the epoch's offset moves
the remainder from one validator to the next from epoch to epoch. Weighting by
voting power would buy nothing: proving costs the same on every validator.
"""

from __future__ import annotations

from collections.abc import Iterable

from clearing.transition.reported_accounts import AccountKey


def assign_accounts(
    keys: Iterable[AccountKey], provers: Iterable[bytes], epoch: int
) -> dict[AccountKey, bytes]:
    """The prover (a validator's public key) of each account, keys in sorted order."""
    ordered = sorted(set(provers))
    if not ordered:
        return {}
    return {key: ordered[(i + epoch) % len(ordered)] for i, key in enumerate(sorted(keys))}

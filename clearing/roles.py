"""Who clears for whom: clearing members and the client accounts they guarantee.

A *clearing member* is admitted (by genesis key ``clearing_members``, later by the
governance changes ``admit_clearing_member`` / ``remove_clearing_member``), posts
default-fund contributions and guarantees every account under it. A *client* holds
its account under one clearing member: it deposits, trades, withdraws and verifies
with its own key as a member does, owes no default-fund contribution, and its
uncollateralised stress exposure counts in its clearing member's default-fund sizing
(clearing/default/default_fund.py).

The ledger already has the shape a CCP's client accounts need: every address holds its
own sub-accounts, each cross-margined inside and isolated from the others. So a client is
an address of its own (its positions and collateral in its own sub-accounts, under its
own key) plus a ``ClientAccount`` record in ``state.clients`` naming its clearing
member, its segregation model and its backup clearing member. The record is what ties
the client to its member; nothing of the client's money sits in the member's account.
That makes both models of EMIR art. 39 / CFTC part 22 the same margin arithmetic:

- ``segregated`` (individually segregated, ISA): the client's positions are margined
  alone and its collateral is its own; no other account's loss reaches it.
- ``omnibus``: margined gross, client by client (each client's initial margin on its
  own positions, summed: what CFTC rule 39.13(g)(8) requires for customer futures and
  LCH/Eurex offer as gross omnibus), its collateral attributed client by client
  (LSOC: legally segregated, operationally commingled, so no fellow-customer risk).
  What differs is porting: an omnibus account ports whole or not at all (EMIR art.
  48(6)): clearing/default/porting.py.

The member's house account is its own address, always apart from its clients'.

Backwards compatible: a genesis without ``clearing_members`` keeps the open membership
of before (``genesis.clearing_members is None``): every address that is not a client is
its own clearing member. With the key, an address that is neither an admitted clearing
member nor a client with one may hold and withdraw what it has but not trade
(``NotCleared``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from records.codec import expect_bytes
from records.declared import Checked, Choice, Declared, Uint, declare_record

NO_MEMBER = b""
"""A client's ``clearing_member`` once its member defaulted and it was not ported (it may
withdraw, and join a clearing member again), or a ``backup`` not named."""


class SegregationModel(StrEnum):
    OMNIBUS = "omnibus"
    SEGREGATED = "segregated"


def expect_member_or_none(obj: object, what: str) -> bytes:
    if obj == NO_MEMBER:
        return NO_MEMBER
    return expect_bytes(obj, what, 20)


MemberOrNone = Annotated[bytes, Checked(expect_member_or_none)]


@declare_record
@dataclass(frozen=True, slots=True)
class ClientAccount(Declared):
    """A client's account under ``clearing_member`` (``NO_MEMBER``: none since its member
    defaulted), with the member it is ported to on that member's default (``backup``,
    ``NO_MEMBER`` if it named none). ``close_out_height``: a client of a defaulted member
    that no backup took keeps its positions until the end of this block, unless it joins
    another member first (0: nothing pending; clearing/default/porting.py)."""

    clearing_member: MemberOrNone
    model: Annotated[SegregationModel, Choice()]
    backup: MemberOrNone = NO_MEMBER
    close_out_height: Uint = 0

    def is_attached(self) -> bool:
        return self.clearing_member != NO_MEMBER

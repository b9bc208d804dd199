"""What a solvency report publishes of the ledger beside the accounts: the epoch's
defaults (each defaulted sub-account and what each waterfall layer paid) and the
insurance fund (which a report adds to the clearing house's own cash).

The state root commits to these bytes as a leaf of their own (clearing/root.py), so a
verifier checks the defaults a report lists are the chain's, and recomputes the
clearing house's inputs from its account and this fund, instead of taking the
quorum's word for either. Both are public already (docs/privacy.md): the defaults in
every report, the insurance fund on the clearing house's status.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from clearing.codec import expect_int, expect_list, pack, unpack
from clearing.errors import DecodeError
from clearing.state import ClearingState, DefaultRecord, is_in_default_order

PUBLISHED_LEDGER_VERSION = 1
PUBLISHED_LEDGER_DOMAIN = b"clearnode-published-ledger-v1"
# The epoch's defaults: at most one per sub-account and block; a report's whole budget.
MAX_PUBLISHED_LEDGER_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PublishedLedger:
    defaults: tuple[DefaultRecord, ...]  # this epoch's, by (height, member, sub-account)
    insurance_fund: int

    def encode(self) -> bytes:
        defaults = [r.to_fields() for r in self.defaults]
        return pack([PUBLISHED_LEDGER_VERSION, defaults, self.insurance_fund])

    @classmethod
    def decode(cls, data: bytes) -> PublishedLedger:
        """Canonical bytes only (defaults strictly sorted, re-encoded equal); DecodeError
        names the first bad field."""
        if len(data) > MAX_PUBLISHED_LEDGER_BYTES:
            raise DecodeError("published ledger", f"{len(data)} bytes exceed "
                              f"{MAX_PUBLISHED_LEDGER_BYTES}")  # fmt: skip
        version, defaults, fund = expect_list(unpack(data, "published ledger"), "ledger", 3)
        if expect_int(version, "ledger.version") != PUBLISHED_LEDGER_VERSION:
            raise DecodeError("ledger.version", f"{version}, expected {PUBLISHED_LEDGER_VERSION}")
        records = tuple(DefaultRecord.from_fields(r) for r in expect_list(defaults, "defaults"))
        if not is_in_default_order(records):
            raise DecodeError("defaults", "must be strictly sorted by (height, member, sub)")
        found = cls(records, expect_int(fund, "insurance_fund", -(1 << 63), (1 << 63) - 1))
        if found.encode() != data:
            raise DecodeError("published ledger", "not canonical")
        return found


def get_published_ledger(state: ClearingState) -> PublishedLedger:
    return PublishedLedger(tuple(state.defaults), state.insurance_fund)


def hash_published_ledger(data: bytes) -> bytes:
    return hashlib.sha256(PUBLISHED_LEDGER_DOMAIN + data).digest()

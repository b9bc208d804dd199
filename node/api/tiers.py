"""Who may read what: each route's tier, and the two listeners that serve them.

A route declares one tier, by who can use it (docs/privacy.md):

- `public`: anyone, without credentials. Facts about the network only: reports and
  proofs, prices, validators, block headers, health, aggregates that name no member.
- `member`: a request the member signed (EIP-712); it reads the member's own data only.
- `venue`: a batch the venue signed (Ed25519).
- `bridge`: collateral events the validators attested, or a registered external bridge
  signed.
- `validator`: a governance proposal or ballot a validator signed with its consensus key.
- `submitter`: whoever holds a transaction: its outcome is looked up by its hash, which
  nothing public shows (block headers carry no transaction, the public stream no hash).
- `operator`: the operator listener only.

The public listener serves every tier but `operator`; the operator listener, off by
default and on loopback when on (`[api] operator_enabled`), serves them all. A route
that is public may show more on the operator listener (full blocks, each member's
margin health): its handler asks `request.listener.is_operator`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Tier = Literal["public", "member", "venue", "bridge", "validator", "submitter", "operator"]


@dataclass(frozen=True)
class Listener:
    name: str
    tiers: frozenset[Tier]

    def serves(self, tier: Tier) -> bool:
        return tier in self.tiers

    @property
    def is_operator(self) -> bool:
        return "operator" in self.tiers


PUBLIC = Listener(
    "public", frozenset({"public", "member", "venue", "bridge", "validator", "submitter"})
)
OPERATOR = Listener("operator", PUBLIC.tiers | {"operator"})

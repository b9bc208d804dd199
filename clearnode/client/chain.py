"""What needs web3: deposits into a chain's vault (`Vault`) and relaying withdrawals
(`Client.relay`). web3 is the `chain` extra of clearnode-client (`pip install
'clearnode-client[chain]'`), so a member who only signs, reads and verifies installs
none of it; bridge/'s chain calls are imported where they are used, inside
`needs_chain_extra`, which turns web3's absence into `MissingExtra`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from clearnode.client.errors import MissingExtra

CHAIN_EXTRA = "chain"
CHAIN_MODULES = ("web3",)
"""What the `chain` extra installs, as imported."""


@contextmanager
def needs_chain_extra(feature: str) -> Iterator[None]:
    """Around an import of bridge/'s chain calls: web3 missing raises MissingExtra
    naming `feature` and the extra; anything else missing is a broken install, raised
    as it is."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in CHAIN_MODULES:
            raise
        raise MissingExtra(feature, CHAIN_EXTRA, exc.name or "") from None

"""Deposits: a member's collateral goes into a chain's vault (web3, bridge/vault.py); the
validators see the deposit once it is final and credit it (read it with `Client.account`).

These calls need web3, the `chain` extra (clearnode/client/chain.py: `MissingExtra`
without it). They block on the chain (web3.py is synchronous): from async code run them
in a worker thread (`anyio.to_thread.run_sync`, `asyncio.to_thread`,
`trio.to_thread.run_sync`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from clearnode.client.chain import needs_chain_extra

if TYPE_CHECKING:
    from bridge.chain import Chain

__all__ = ["Vault", "account_from_key", "connect"]


def connect(rpc_url: str, chain_id: int) -> Chain:
    """The EVM chain at `rpc_url`, refused unless it serves `chain_id`
    (`bridge.chain.ChainIdMismatch`): what `Client.relay` takes."""
    with needs_chain_extra("connect"):
        from bridge.chain import connect as connect_chain
    return connect_chain(rpc_url, chain_id)


def account_from_key(private_key: str | bytes) -> LocalAccount:
    """The EVM account of a secp256k1 key (0x-hex or 32 bytes) that sends transactions
    and pays their gas: a wallet that deposits, a relayer."""
    account: LocalAccount = Account.from_key(private_key)
    return account


@dataclass(frozen=True)
class Vault:
    """The `CollateralVault` at `address` on `chain` (genesis `vaults`, or a node's config
    `[[bridge_chains]]` `vault_address`)."""

    chain: Chain
    address: bytes

    @classmethod
    def at(cls, rpc_url: str, chain_id: int, address: bytes | str) -> Vault:
        """Connect to the chain at `rpc_url` (refused unless it is `chain_id`)."""
        raw = bytes.fromhex(address.removeprefix("0x")) if isinstance(address, str) else address
        return cls(connect(rpc_url, chain_id), raw)

    def deposit(
        self,
        sender: LocalAccount,
        token: bytes,
        amount: int,
        member: bytes,
        sub_account: int = 0,
    ) -> dict[str, Any]:
        """Deposit `amount` (on-chain units) of `sender`'s `token` for `member`'s
        `sub_account` (`token` NATIVE, 20 zero bytes: the chain's native coin); the
        receipt once mined. An ERC-20 is approved for `amount` first (the ABI used is
        the test token's, whose `approve` is ERC-20's)."""
        with needs_chain_extra("Vault.deposit"):
            from eth_utils.address import to_checksum_address

            from bridge.vault import NATIVE, deposit_held_token, deposit_native
        vault = self.chain.contract("CollateralVault", to_checksum_address(self.address))
        if token == NATIVE:
            return deposit_native(self.chain, vault, amount, member, sender, sub_account)
        erc20 = self.chain.contract("TestToken", to_checksum_address(token))
        return deposit_held_token(self.chain, vault, erc20, amount, member, sender, sub_account)

    def is_withdrawal_paid(self, member: bytes, nonce: int) -> bool:
        """Whether this vault already paid (or refused for good) `member`'s withdrawal."""
        with needs_chain_extra("Vault.is_withdrawal_paid"):
            from bridge.vault import is_withdrawal_used
        return is_withdrawal_used(self.chain, self.address, member, nonce)

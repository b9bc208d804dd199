"""A chain's vault over plain JSON-RPC, without web3: a member's deposits (an ERC-20
approved first where its allowance is short, or the chain's native coin) and the
withdrawals the validators signed, paid (`Client.relay`). The validators see a deposit
once it is final and credit it (read it with `Client.account`).

The calls are encoded from the contracts' committed ABIs (bridge/contracts/artifacts,
read by bridge/abi.py, as web3's adapter reads them) and sent by
clearnode/client/transactions.py; a withdrawal is relayed by bridge/withdrawal_relay.py's
rules, the node's relayer's. They block on the chain: from async code run them in a
worker thread (`anyio.to_thread.run_sync`, `asyncio.to_thread`,
`trio.to_thread.run_sync`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bridge.abi import Abi, get_output_types, get_signature
from bridge.compile import load_artifact
from bridge.validators import EvmValidatorSet, ValidatorSetError
from bridge.withdrawal import WithdrawalAuthorization, WithdrawalError
from clearing.assets import NATIVE
from clearnode.client.errors import (
    JsonRpcError,
    NotAContract,
    RpcBadAnswer,
    TransactionError,
)
from clearnode.client.jsonrpc import RPC_TIMEOUT_S, JsonRpc, encode_call
from clearnode.client.transactions import RECEIPT_TIMEOUT_S, Receipt, send_transaction

__all__ = ["RpcVaults", "Vault", "account_from_key", "connect"]


@functools.cache
def get_vault_abi() -> Abi:
    """CollateralVault's ABI, as committed."""
    abi: Abi = load_artifact("CollateralVault")["abi"]  # type: ignore[assignment]
    return abi


@functools.cache
def get_token_abi() -> Abi:
    """The test token's ABI, whose `approve` and `allowance` are ERC-20's."""
    abi: Abi = load_artifact("TestToken")["abi"]  # type: ignore[assignment]
    return abi


def encode_abi_call(abi: Abi, name: str, *args: Any) -> bytes:
    """The calldata of `abi`'s function `name` with `args`."""
    return encode_call(get_signature(abi, name), *args)


def connect(rpc_url: str, chain_id: int, timeout_s: float = RPC_TIMEOUT_S) -> JsonRpc:
    """The EVM chain at `rpc_url`, refused unless it serves `chain_id` (`RpcWrongChain`):
    what `Client.relay` takes."""
    return JsonRpc.connect(rpc_url, chain_id, timeout_s)


def account_from_key(private_key: str | bytes) -> LocalAccount:
    """The EVM account of a secp256k1 key (0x-hex or 32 bytes) that sends transactions
    and pays their gas: a wallet that deposits, a relayer."""
    account: LocalAccount = Account.from_key(private_key)
    return account


@dataclass(frozen=True)
class Vault:
    """The `CollateralVault` at `address` on `chain` (genesis `vaults`, or a node's config
    `[[bridge_chains]]` `vault_address`). `with` closes the chain's connections."""

    chain: JsonRpc
    address: bytes

    @classmethod
    def at(
        cls, rpc_url: str, chain_id: int, address: bytes | str, timeout_s: float = RPC_TIMEOUT_S
    ) -> Vault:
        """Connect to the chain at `rpc_url` (refused unless it is `chain_id`)."""
        raw = bytes.fromhex(address.removeprefix("0x")) if isinstance(address, str) else address
        return cls(connect(rpc_url, chain_id, timeout_s), raw)

    def close(self) -> None:
        """Close the chain's connection pool (`with` does)."""
        self.chain.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def deposit(
        self,
        sender: LocalAccount,
        token: bytes,
        amount: int,
        member: bytes,
        sub_account: int = 0,
        timeout_s: float = RECEIPT_TIMEOUT_S,
    ) -> Receipt:
        """Deposit `amount` (on-chain units) of `sender`'s `token` for `member`'s
        `sub_account` (`token` NATIVE, 20 zero bytes: the chain's native coin); the
        receipt once mined. An ERC-20 is approved for `amount` first unless `sender`'s
        allowance to the vault covers it. NotAContract if nothing is deployed at the
        vault's address; TransactionReverted names the vault's refusal (`ZeroAmount`,
        `IsLocked`, `TokenCallFailed`: a balance or allowance too low)."""
        self.check_deployed()
        if token == NATIVE:
            data = encode_abi_call(get_vault_abi(), "depositNative", member, sub_account)
            return self._send(sender, data, amount, timeout_s)
        if self.allowance(bytes.fromhex(sender.address[2:]), token) < amount:
            self.approve(sender, token, amount, timeout_s)
        data = encode_abi_call(get_vault_abi(), "depositToken", token, amount, member,
                               sub_account)  # fmt: skip
        return self._send(sender, data, 0, timeout_s)

    def approve(
        self, sender: LocalAccount, token: bytes, amount: int, timeout_s: float = RECEIPT_TIMEOUT_S
    ) -> Receipt:
        """Let the vault take up to `amount` of `sender`'s ERC-20 `token` (what `deposit`
        does when the allowance is short; once for many deposits: a larger `amount`)."""
        data = encode_abi_call(get_token_abi(), "approve", self.address, amount)
        return send_transaction(self.chain, sender, token, data, 0, get_token_abi(), timeout_s)

    def allowance(self, owner: bytes, token: bytes) -> int:
        """How much of `owner`'s ERC-20 `token` the vault may take now."""
        (allowed,) = self._read(token, get_token_abi(), "allowance", owner, self.address)
        return int(allowed)

    def is_withdrawal_paid(self, member: bytes, nonce: int) -> bool:
        """Whether this vault already paid (or refused for good) `member`'s withdrawal."""
        (used,) = self._read(self.address, get_vault_abi(), "withdrawalUsed", member, nonce)
        return bool(used)

    def validator_set(self) -> EvmValidatorSet:
        """The validator set the vault trusts now (its epoch, addresses and powers)."""
        block = self.chain.block_number()
        (epoch,) = self._read(self.address, get_vault_abi(), "epoch", block=block)
        addresses, powers = self._read(self.address, get_vault_abi(), "getValidators",
                                       block=block)  # fmt: skip
        members = [(bytes.fromhex(a[2:]), int(p)) for a, p in zip(addresses, powers, strict=True)]
        try:
            return EvmValidatorSet(int(epoch), tuple(members))
        except ValidatorSetError as exc:
            raise RpcBadAnswer(self.chain.url, "eth_call", f"getValidators: {exc}") from None

    def withdraw(
        self,
        auth: WithdrawalAuthorization,
        signatures: list[bytes],
        sender: LocalAccount,
        timeout_s: float = RECEIPT_TIMEOUT_S,
    ) -> Receipt:
        """Pay `auth` with the validators' `signatures` (ordered by signer, as
        `GET /v1/withdrawals/...` serves them) from `sender`, who pays the gas
        (`bridge.withdrawal.WithdrawalError`, nothing sent, if `auth` is another chain's
        or vault's; `Client.relay` checks the signatures against the vault's set first)."""
        if (auth.chain_id, auth.vault) != (self.chain.chain_id, self.address):
            raise WithdrawalError(
                f"authorisation for vault 0x{auth.vault.hex()} on chain {auth.chain_id}, "
                f"relaying to 0x{self.address.hex()} on {self.chain.chain_id}"
            )
        data = encode_abi_call(
            get_vault_abi(), "withdraw", auth.epoch, auth.member, auth.token, auth.amount,
            auth.recipient, auth.nonce, auth.expiry, signatures,
        )  # fmt: skip
        return self._send(sender, data, 0, timeout_s)

    def check_deployed(self) -> None:
        """NotAContract unless code is deployed at the vault's address."""
        code = self.chain.request("eth_getCode", ["0x" + self.address.hex(), "latest"])
        if not self.chain.read_bytes("eth_getCode", code):
            raise NotAContract(self.chain.url, self.chain.chain_id, self.address)

    def _send(self, sender: LocalAccount, data: bytes, value: int, timeout_s: float) -> Receipt:
        abi = get_vault_abi()
        return send_transaction(self.chain, sender, self.address, data, value, abi, timeout_s)

    def _read(
        self, to: bytes, abi: Abi, name: str, *args: Any, block: int | None = None
    ) -> tuple[Any, ...]:
        """What `to`'s view `name` returns at `block` (the latest if None), decoded."""
        at = self.chain.block_number() if block is None else block
        found = self.chain.call(to, encode_abi_call(abi, name, *args), at)
        try:
            return tuple(decode(get_output_types(abi, name), found))
        except DecodingError:
            wrong = f"{name} of 0x{to.hex()} answered {len(found)} bytes: no such contract there?"
            raise RpcBadAnswer(self.chain.url, "eth_call", wrong) from None


@dataclass(frozen=True)
class RpcVaults:
    """The vaults of the chain `rpc` reads, for bridge/withdrawal_relay.py's relayer
    (`WithdrawalVaults`): what `Client.relay` pays withdrawals with."""

    rpc: JsonRpc
    refusals: tuple[type[Exception], ...] = (JsonRpcError, TransactionError)

    @property
    def chain_id(self) -> int:
        """The chain `rpc` serves."""
        return self.rpc.chain_id

    def is_withdrawal_used(self, vault: bytes, member: bytes, nonce: int) -> bool:
        """Whether `vault` paid (or refused for good) `member`'s withdrawal `nonce`."""
        return Vault(self.rpc, vault).is_withdrawal_paid(member, nonce)

    def get_validator_set(self, vault: bytes) -> EvmValidatorSet:
        """The validator set `vault` trusts now."""
        return Vault(self.rpc, vault).validator_set()

    def withdraw(
        self, auth: WithdrawalAuthorization, signatures: list[bytes], sender: LocalAccount
    ) -> str:
        """Pay `auth` from `sender`; the transaction's hash once mined."""
        return Vault(self.rpc, auth.vault).withdraw(auth, signatures, sender).tx_hash

"""The devnet's EVM side: anvil chains with a vault and test tokens each, member
deposits, and a relayer that submits the withdrawal authorisations the
validators signed (as served by their API) to the vault, all through bridge/'s
own functions. Watching the vaults is the validators' job, not the devnet's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3.contract import Contract

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, account_from_key, connect
from bridge.devchain import DevnetChain, deploy_devnet_chain, mine
from bridge.validators import EvmValidatorSet
from bridge.vault import get_vault_balances, withdraw
from bridge.withdrawal_relay import parse_relay_json
from clearnode.client import Vault
from devnet.genesis import TOKENS

FIRST_CHAIN_ID = 31337


@dataclass
class DevChain:
    """One running anvil with its deployment and what the devnet moved through it."""

    node: AnvilNode
    chain: Chain
    deployed: DevnetChain
    vault: Contract
    deposited: dict[str, int] = field(default_factory=dict)  # symbol -> on-chain units
    paid_out: dict[str, int] = field(default_factory=dict)

    def token(self, symbol: str) -> Contract:
        return self.chain.contract("TestToken", to_checksum_address(self.deployed.tokens[symbol]))

    def get_vault_balances(self) -> dict[str, int]:
        """What the vault holds of each test token (token units), in one round trip."""
        tokens = self.deployed.tokens
        found = get_vault_balances(self.chain, self.deployed.vault, list(tokens.values()))
        return {symbol: found[token] for symbol, token in tokens.items()}


def start_chains(count: int, validator_set: EvmValidatorSet) -> list[DevChain]:
    """Start `count` anvil chains (ids 31337, 31338, ...) and deploy on each; stops
    the ones already started if a later one fails."""
    started: list[DevChain] = []
    try:
        for n in range(count):
            node = AnvilNode(chain_id=FIRST_CHAIN_ID + n).start()
            chain = connect(node.url, node.chain_id)
            deployed = deploy_devnet_chain(chain, validator_set, TOKENS)
            vault = chain.contract("CollateralVault", to_checksum_address(deployed.vault))
            started.append(DevChain(node, chain, deployed, vault))
    except BaseException:
        stop_chains(started)
        raise
    return started


def stop_chains(chains: Iterable[DevChain]) -> None:
    for dev in chains:
        dev.node.stop()


def get_relayer() -> LocalAccount:
    return account_from_key(DEV_PRIVATE_KEY)


def deposit(dev: DevChain, symbol: str, amount: int, member: bytes, sub_account: int = 0) -> None:
    """Mint test tokens to the relayer account, which deposits them for `member` as the
    member's wallet would (the client SDK's vault call)."""
    sender = get_relayer()
    dev.chain.transact(dev.token(symbol).functions.mint(sender.address, amount), sender)
    with Vault.at(dev.chain.url, dev.chain.chain_id, dev.deployed.vault) as vault:
        vault.deposit(sender, dev.deployed.tokens[symbol], amount, member, sub_account)
    dev.deposited[symbol] = dev.deposited.get(symbol, 0) + amount


def mine_block(dev: DevChain) -> None:
    """One more block, so that deposits and payouts reach the validators' confirmation depth."""
    mine(dev.chain)


def get_symbol(dev: DevChain, token: bytes) -> str:
    return next(s for s, address in dev.deployed.tokens.items() if address == token)


def relay_withdrawal(dev: DevChain, body: dict[str, Any]) -> None:
    """Submit a quorum-signed withdrawal authorisation, as a validator's API serves it
    (`GET /v1/withdrawals/{member}/{nonce}`), to the vault as the relayer."""
    auth, signatures = parse_relay_json(body)
    withdraw(dev.chain, auth, signatures, get_relayer())
    symbol = get_symbol(dev, auth.token)
    dev.paid_out[symbol] = dev.paid_out.get(symbol, 0) + auth.amount

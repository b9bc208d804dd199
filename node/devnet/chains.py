"""The devnet's EVM side: anvil chains with a vault and test tokens each, member
deposits, the validators' duties (attest final deposits and payouts, sign
withdrawal authorisations) and a relayer, all through bridge/'s own functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract

from bridge.anvil import DEV_PRIVATE_KEY, AnvilNode
from bridge.chain import Chain, account_from_key, connect
from bridge.devchain import DevnetChain, deploy_devnet_chain, finalize
from bridge.observation import ObservationPool, compute_observation, sign_observation
from bridge.payouts import sign_payout
from bridge.validators import EvmValidatorSet
from bridge.vault import deposit_token, get_validator_set
from bridge.watcher import get_final_block, scan_final_range
from bridge.withdrawal import collect_withdrawal_signatures, relay, sign_withdrawal_record
from clearing.assets import CollateralKey, CollateralToken
from clearing.collateral import CollateralCredit
from clearing.genesis import Validator
from clearing.state import WithdrawalRecord
from clearing.withdrawal import WithdrawalPaid
from node.devnet.genesis import TOKENS

FIRST_CHAIN_ID = 31337


@dataclass
class DevChain:
    """One running anvil with its deployment and the watcher's scan cursor."""

    node: AnvilNode
    chain: Chain
    deployed: DevnetChain
    vault: Contract
    scanned_to: int = 0
    deposited: dict[str, int] = field(default_factory=dict)  # symbol -> on-chain units
    paid_out: dict[str, int] = field(default_factory=dict)

    def token(self, symbol: str) -> Contract:
        return self.chain.contract("TestToken", to_checksum_address(self.deployed.tokens[symbol]))

    def get_vault_balance(self, symbol: str) -> int:
        return int(self.token(symbol).functions.balanceOf(self.vault.address).call())


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
            started.append(DevChain(node, chain, deployed, vault, chain.get_block_number()))
    except BaseException:
        stop_chains(started)
        raise
    return started


def stop_chains(chains: Iterable[DevChain]) -> None:
    for dev in chains:
        dev.node.stop()


def get_relayer() -> LocalAccount:
    return account_from_key(DEV_PRIVATE_KEY)


def deposit(dev: DevChain, symbol: str, amount: int, member: bytes) -> None:
    """Mint test tokens to the relayer account and deposit them for `member`."""
    deposit_token(dev.chain, dev.vault, dev.token(symbol), amount, member, get_relayer())
    dev.deposited[symbol] = dev.deposited.get(symbol, 0) + amount


@dataclass
class Validators:
    """The validators' bridge duties; every one signs, as each node would."""

    network_chain_id: int
    genesis_validators: Sequence[Validator]
    consensus_keys: Sequence[Ed25519PrivateKey]
    bridge_keys: Sequence[bytes]
    tokens: Mapping[CollateralKey, CollateralToken]
    pool: ObservationPool = field(init=False)

    def __post_init__(self) -> None:
        by_key = {v.pubkey: v for v in self.genesis_validators}
        self.pool = ObservationPool(self.network_chain_id, by_key)

    def scan(self, dev: DevChain) -> tuple[list[CollateralCredit], list[WithdrawalPaid]]:
        """Finalise the chain, read new final logs, and attest them: the quorum
        path a deposit and a payout take before a block may carry them."""
        finalize(dev.chain)
        last = get_final_block(dev.chain, None)
        if last < dev.scanned_to:
            return [], []
        deposits, payouts = scan_final_range(
            dev.chain, dev.deployed.vault, dev.scanned_to, last, verify_receipts=True
        )
        dev.scanned_to = last + 1
        for event in deposits:
            observation = compute_observation(event, self.tokens)
            for key in self.consensus_keys:
                self.pool.add(sign_observation(key, self.network_chain_id, observation))
        credits = self.pool.get_ready_credits()
        for credit in credits:
            self.pool.mark_credited(credit.observation.key)
        paid = [
            WithdrawalPaid(
                payout,
                tuple(sign_payout(k, self.network_chain_id, payout) for k in self.consensus_keys),
            )
            for payout in payouts
        ]
        return credits, paid

    def relay_withdrawal(self, dev: DevChain, record: WithdrawalRecord, block_time_ms: int) -> None:
        """Each validator signs the vault authorisation; the relayer submits a quorum."""
        onchain = get_validator_set(dev.vault)
        signed = [
            sign_withdrawal_record(
                record,
                vault=dev.deployed.vault,
                epoch=onchain.epoch,
                block_time_ms=block_time_ms,
                evm_private_key=key,
            )
            for key in self.bridge_keys
        ]
        auth = signed[0].authorization
        collected = collect_withdrawal_signatures(auth, onchain, [s.signature for s in signed])
        relay(dev.chain, auth, collected.get_ordered(), get_relayer())
        symbol = self.tokens[(record.chain_id, record.token)].symbol
        dev.paid_out[symbol] = dev.paid_out.get(symbol, 0) + record.amount

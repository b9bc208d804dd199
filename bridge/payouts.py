"""The vault's `Withdrawn` logs, as clearing's `PayoutObservation`s.

Clearing keeps a debited withdrawal pending until a quorum attests the payout;
validators read final `Withdrawn` logs with the same canonical-block check as
deposits and sign them under clearing's `withdrawal-paid` domain.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_utils import keccak

from bridge.chain import Chain
from bridge.deposits import DecodeError
from bridge.watcher import ReorgDetected, fetch_block_hashes
from clearing.attestation import Attestation, sign_attestation
from clearing.withdrawal import PAID_DOMAIN, PayoutObservation

WITHDRAWN_TOPIC_HEX = "0x" + keccak(text="Withdrawn(uint256,address,address,uint256,address)").hex()


def decode_withdrawn_log(
    chain_id: int, log: dict[str, Any]
) -> tuple[PayoutObservation, int, bytes]:
    """(observation, block number, block hash) of one raw Withdrawn log."""
    topics = log.get("topics", [])
    if len(topics) != 4 or topics[0] != WITHDRAWN_TOPIC_HEX:
        raise DecodeError("Withdrawn log", f"unexpected topics {topics}")
    observation = PayoutObservation(
        chain_id=chain_id,
        vault=bytes.fromhex(log["address"][2:]),
        tx_hash=bytes.fromhex(log["transactionHash"][2:]),
        log_index=int(log["logIndex"], 16),
        member=bytes.fromhex(topics[2][-40:]),
        nonce=int(topics[1], 16),
    )
    return observation, int(log["blockNumber"], 16), bytes.fromhex(log["blockHash"][2:])


def scan_final_payouts(
    chain: Chain, vault: bytes, first: int, last: int
) -> list[PayoutObservation]:
    """Payouts in final blocks [first, last], each in the canonical block at its height."""
    flt = {
        "address": "0x" + vault.hex(),
        "fromBlock": hex(first),
        "toBlock": hex(last),
        "topics": [WITHDRAWN_TOPIC_HEX],
    }
    decoded = [decode_withdrawn_log(chain.chain_id, e) for e in chain.request("eth_getLogs", [flt])]
    canonical = fetch_block_hashes(chain, sorted({number for _, number, _ in decoded}))
    for _, number, block_hash in decoded:
        if canonical[number] != block_hash:
            raise ReorgDetected(number, block_hash, canonical[number])
    return [observation for observation, _, _ in decoded]


def sign_payout(
    key: Ed25519PrivateKey, network_chain_id: int, observation: PayoutObservation
) -> Attestation:
    return sign_attestation(key, PAID_DOMAIN, network_chain_id, observation.to_fields())

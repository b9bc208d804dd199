"""The vault's `Withdrawn` logs, as clearing's `PayoutObservation`s.

Clearing keeps a debited withdrawal pending until a quorum attests the payout.
The watcher reads final `Withdrawn` logs in the same query and with the same
canonical-block check as deposits, stores them in its outbox (`get_payouts_since`),
and each validator signs them under clearing's `withdrawal-paid` domain.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_utils.crypto import keccak

from bridge.chain_answers import ChainLog, MalformedAnswer, describe_log
from bridge.cursor import CursorStore
from clearing.attestation import Attestation, sign_attestation
from clearing.transition.withdrawal import PAID_DOMAIN, PayoutObservation

WITHDRAWN_TOPIC = keccak(text="Withdrawn(uint256,address,address,uint256,address)")
WITHDRAWN_TOPIC_HEX = "0x" + WITHDRAWN_TOPIC.hex()


def decode_withdrawn_log(chain_id: int, log: ChainLog, block_time_s: int) -> PayoutObservation:
    """Clearing's record of one Withdrawn log, in a block of timestamp `block_time_s`;
    `MalformedAnswer` if it has not the event's topics."""
    if len(log.topics) != 4 or log.topics[0] != WITHDRAWN_TOPIC:
        raise MalformedAnswer(describe_log("Withdrawn", log), f"{len(log.topics)} topics")
    return PayoutObservation(
        chain_id=chain_id,
        vault=log.address,
        tx_hash=log.tx_hash,
        log_index=log.log_index,
        member=log.topics[2][-20:],
        nonce=int.from_bytes(log.topics[1], "big"),
        block_time_s=block_time_s,
    )


def sign_payout(
    key: Ed25519PrivateKey, network_chain_id: int, observation: PayoutObservation
) -> Attestation:
    return sign_attestation(key, PAID_DOMAIN, network_chain_id, observation.to_fields())


def sign_new_payouts(
    store: CursorStore,
    since_seq: int,
    key: Ed25519PrivateKey,
    network_chain_id: int,
    limit: int = 1000,
) -> tuple[int, list[tuple[PayoutObservation, Attestation]]]:
    """Sign the final payouts the watcher stored after `since_seq`: (last seq, signed)."""
    rows = store.get_payouts_since(since_seq, limit)
    last = rows[-1][0] if rows else since_seq
    return last, [(p, sign_payout(key, network_chain_id, p)) for _, p in rows]

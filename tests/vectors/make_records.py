"""Generate the committed record vectors: `python -m tests.vectors.make_records`.

One record of each kind that crosses a wire or enters the state root, built from fixed
values, and its bytes in hex (`tests/vectors/records/records.json`). The records'
encodings are declared (records/declared.py) rather than written by hand; these bytes
were written by the hand-written code before that, so tests/vectors/test_records.py
proves each declaration gives the same bytes and decodes them back to the same record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge.cursor import StoredPayout
from bridge.deposits import DepositEvent
from bridge.external import SignedExternalEvent
from bridge.observation import ReobserveRequest, SignedObservation, SignedReobserveRequest
from bridge.rotation import Rotation, RotationSignature
from bridge.validators import EvmValidatorSet
from bridge.withdrawal import WithdrawalAuthorization, WithdrawalSignature
from clearing.attestation import Attestation
from clearing.collateral import CollateralCredit, CollateralObservation
from clearing.events import Event
from clearing.genesis import ExternalBridge, Validator, Venue
from clearing.governance.submit import GovProposal
from clearing.governance.vote import GovVote
from clearing.governance_changes import (
    AddExternalBridge,
    AddListingTemplate,
    AddValidator,
    AddVenue,
    AdmitClearingMember,
    CancelUpgrade,
    ListInstrument,
    RemoveClearingMember,
    RemoveExternalBridge,
    RemoveListingTemplate,
    RemoveValidator,
    RemoveVenue,
    ReplaceRiskParams,
    RotateValidatorKeys,
    ScheduleUpgrade,
    SetCollateralHaircut,
    SetDefaultFund,
    SetFee,
    SetFeeSplit,
    SetFunding,
    SetInstrumentStatus,
    SettlePerpetual,
    SetValidatorPower,
    UnjailValidator,
    decode_change,
)
from clearing.governance_proposal import VoteChoice
from clearing.instruments import InstrumentStatus
from clearing.oracle import PriceObservation, PriceUpdate
from clearing.published_ledger import ReserveTotal
from clearing.report_commitment import ReportCommitment
from clearing.risk.solvency import SolvencyMarket
from clearing.roles import NO_MEMBER, ClientAccount, SegregationModel
from clearing.state import Auction, Bid, DefaultRecord, Jailing, MarginCall, WithdrawalRecord
from clearing.transition.block import TxResult
from clearing.transition.root import MarketProof
from clearing.transition.trade import Trade, TradeBatch
from clearing.transition.tx import decode_tx, encode_tx
from clearing.transition.withdrawal import PayoutObservation, WithdrawalPaid
from clearing.upgrade_plan import DoneUpgrade, UpgradePlan
from clearing.withdrawal_expiry import ExpiryObservation, WithdrawalExpired
from consensus.types import Block, DuplicateVoteEvidence, Proposal, Vote
from lightclient.commit import CommitCertificate, CommitSig, VoteType
from lightclient.header import BlockHeader
from node.bridge.gossip import ExpiryAttestation, PayoutAttestation
from node.p2p.blocksync import SyncedBlock, SyncRequest, SyncResponse
from node.p2p.genesis import GenesisHello
from node.reports.gossip import decode_reports_message, sign_proof_shares, sign_share
from records.codec import pack, unpack

VECTORS = Path(__file__).resolve().parent / "records" / "records.json"

MEMBER = bytes(range(1, 21))
OTHER = bytes(range(101, 121))
TOKEN = bytes(range(200, 220))
VAULT = bytes(range(30, 50))
KEY = bytes(range(32))
NEW_KEY = bytes(range(32, 64))
HASH = bytes(range(64, 96))
SIGNATURE = bytes(range(64))
BIG = 2**64 - 1


@dataclass(frozen=True)
class Vector:
    """A record and how its bytes are made and read (None: it is only encoded, into the
    state root)."""

    record: Any
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any] | None


def fields_vector(record: Any, decode: Callable[[Any], Any] | None = None) -> Vector:
    """A record packed as its fields, read back by ``decode`` (its ``from_fields``)."""
    read = None if decode is None else (lambda data: decode(unpack(data, "vector")))
    return Vector(record, lambda r: pack(r.to_fields()), read)


def tx_vector(record: Any) -> Vector:
    return Vector(record, encode_tx, decode_tx)


def change_vector(record: Any) -> Vector:
    return fields_vector(record, decode_change)


ATTESTATIONS = (Attestation(KEY, SIGNATURE), Attestation(NEW_KEY, bytes(64)))
BATCH_TIMES = (1_795_219_380_000, 1_795_219_500_000)  # issued, expires
PAYOUT = PayoutObservation(8453, VAULT, HASH, 7, MEMBER, 42, 1_700_000_000)
EXPIRY = ExpiryObservation(8453, VAULT, MEMBER, 42, 19_000_000, 1_795_219_500)
DEPOSIT = CollateralObservation(
    8453, VAULT, HASH, 3, 11, MEMBER, 2, TOKEN, 1_000_000, 1_700_000_000
)
PRICES = PriceObservation(
    KEY, 1_795_219_500_000, (("BTC", 60_000_000_000), ("ETH", 3_000_000_000)),
    (("BTC-PERP", 60_100_000_000),), SIGNATURE,
)  # fmt: skip
TRADE = Trade(2**40 + 3, "BTC-PERP", MEMBER, 0, OTHER, 4_294_967_295, 60_000_000_000, 25)
SECOND_TRADE = Trade(2**40 + 4, "ETH-PERP", OTHER, 1, MEMBER, 0, 3_000_000_000, BIG)
LISTING = '{"id":"BTC-0626","kind":"future","underlying":"BTC"}'
CHANGES: dict[str, Any] = {
    "ListInstrument": ListInstrument(LISTING, 60_000_000_000),
    "SetInstrumentStatus": SetInstrumentStatus("BTC-PERP", InstrumentStatus.REDUCE_ONLY),
    "SettlePerpetual": SettlePerpetual("BTC-PERP", 61_000_000_000),
    "ReplaceRiskParams": ReplaceRiskParams('{"scenarios":[1,2,3]}'),
    "AddVenue": AddVenue(Venue("alpha-venue", KEY)),
    "AddVenueLongestId": AddVenue(Venue("v" * 64, NEW_KEY)),
    "RemoveVenue": RemoveVenue("alpha-venue"),
    "AddExternalBridge": AddExternalBridge(ExternalBridge("wormhole", KEY, (1, 8453))),
    "AddExternalBridgeOneChain": AddExternalBridge(ExternalBridge("b", NEW_KEY, (BIG,))),
    "AddExternalBridgeManyChains": AddExternalBridge(
        ExternalBridge("axelar", KEY, (1, 10, 137, 8453, 42161, 2**32, BIG))
    ),
    "RemoveExternalBridge": RemoveExternalBridge("wormhole"),
    "AddListingTemplate": AddListingTemplate('{"id":"weekly-btc"}'),
    "RemoveListingTemplate": RemoveListingTemplate("weekly-btc"),
    "SetFunding": SetFunding("BTC-PERP", 28_800_000, -(2**63)),
    "SetFee": SetFee("BTC-PERP", 5),
    "SetFeeSplit": SetFeeSplit(2_500),
    "SetDefaultFund": SetDefaultFund(10**12, 2, 5_000),
    "SetCollateralHaircut": SetCollateralHaircut(8453, TOKEN, 1_500),
    "AddValidator": AddValidator(Validator("v4", KEY, 10, MEMBER, "12D3KooWtest")),
    "AddValidatorWithoutPeerId": AddValidator(Validator("v5", NEW_KEY, BIG, OTHER)),
    "AddValidatorLongestTexts": AddValidator(Validator("n" * 256, KEY, 0, TOKEN, "p" * 256)),
    "RemoveValidator": RemoveValidator(KEY),
    "SetValidatorPower": SetValidatorPower(KEY, 7),
    "RotateValidatorKeys": RotateValidatorKeys(KEY, NEW_KEY, OTHER),
    "UnjailValidator": UnjailValidator(KEY),
    "AdmitClearingMember": AdmitClearingMember(MEMBER),
    "RemoveClearingMember": RemoveClearingMember(MEMBER),
    "ScheduleUpgrade": ScheduleUpgrade(UpgradePlan("v0.3.0", 2**40, "0.3.0", HASH)),
    "ScheduleUpgradeWithoutHash": ScheduleUpgrade(UpgradePlan("u" * 64, 1, "0.3.0-rc.1")),
    "CancelUpgrade": CancelUpgrade("v0.3.0"),
}
PREVOTE = Vote(VoteType.PREVOTE, 2**40, 3, HASH, KEY, SIGNATURE)
NIL_PRECOMMIT = Vote(VoteType.PRECOMMIT, 2**63 - 1, 2**31, None, NEW_KEY, bytes(64))
EVIDENCE = DuplicateVoteEvidence.from_votes(
    PREVOTE, Vote(VoteType.PREVOTE, 2**40, 3, None, KEY, bytes(64))
)
HEADER = BlockHeader("clearnode-1", 7, 1_795_219_500_000, HASH, HASH, KEY, NEW_KEY)
COMMIT = CommitCertificate(6, 1, HASH, (CommitSig(KEY, SIGNATURE), CommitSig(NEW_KEY, bytes(64))))
BLOCK = Block(HEADER, (b"", b"tx", bytes(300)), COMMIT, (EVIDENCE,))
UINT256 = 2**256 - 1
EVM_SIGNATURE = bytes(range(65))
CURRENT_SET = EvmValidatorSet(4, ((MEMBER, 10), (OTHER, BIG)))
TARGET_SET = EvmValidatorSet(5, ((MEMBER, 1), (VAULT, 3), (TOKEN, 7)))
EVENT = Event("withdrawal_paid", (("member", MEMBER), ("nonce", 42), ("big", -(2**70))))


def make_vectors() -> dict[str, Vector]:
    """Every record kind, by name."""
    return {
        "Attestation": fields_vector(ATTESTATIONS[0], Attestation.from_fields),
        "PayoutObservation": fields_vector(PAYOUT, PayoutObservation.from_fields),
        "ExpiryObservation": fields_vector(EXPIRY, ExpiryObservation.from_fields),
        "CollateralObservation": fields_vector(DEPOSIT, CollateralObservation.from_fields),
        "PriceObservation": fields_vector(PRICES, PriceObservation.from_fields),
        "WithdrawalPaid": tx_vector(WithdrawalPaid(PAYOUT, ATTESTATIONS)),
        "WithdrawalExpired": tx_vector(WithdrawalExpired(EXPIRY, ATTESTATIONS)),
        "CollateralCredit": tx_vector(CollateralCredit(DEPOSIT, ATTESTATIONS)),
        "PriceUpdate": tx_vector(PriceUpdate((PRICES, PRICES))),
        "ReportCommitment": tx_vector(ReportCommitment(3, HASH, ATTESTATIONS)),
        "Trade": fields_vector(TRADE, Trade.from_fields),
        "TradeBatch": tx_vector(
            TradeBatch("alpha-venue", 9, *BATCH_TIMES, (TRADE, SECOND_TRADE), SIGNATURE)
        ),
        "GovVote": tx_vector(GovVote(KEY, 4, VoteChoice.ABSTAIN, 2, SIGNATURE)),
        "GovProposal": tx_vector(
            GovProposal(KEY, (CHANGES["SetFee"], CHANGES["RemoveVenue"]), 100, 200, SIGNATURE)
        ),
        **{name: change_vector(change) for name, change in CHANGES.items()},
        "DoneUpgrade": fields_vector(DoneUpgrade("v0.3.0", 77), DoneUpgrade.from_fields),
        "ReserveTotal": fields_vector(
            ReserveTotal(8453, TOKEN, 5, 6, 7, 8), ReserveTotal.from_fields
        ),
        "SolvencyMarket": fields_vector(
            SolvencyMarket(1_795_219_440_000, PRICES.mark_prices, PRICES.index_prices),
            SolvencyMarket.from_fields,
        ),
        "ClientAccount": fields_vector(
            ClientAccount(MEMBER, SegregationModel.OMNIBUS, NO_MEMBER, 0),
            ClientAccount.from_fields,
        ),
        "MarketProof": fields_vector(
            MarketProof(HASH, b"{}", b"\x90", b"\x91\x01", b"\x92\x01\x90", KEY),
            MarketProof.from_fields,
        ),
        "Event": fields_vector(EVENT, Event.from_fields),
        "TxResult": fields_vector(
            TxResult("InsufficientCash", "short by 5", (EVENT,)), TxResult.from_fields
        ),
        "DefaultRecord": fields_vector(
            DefaultRecord(9, MEMBER, 1, 100, 10, 20, 30, 15, 5, 0, 20), DefaultRecord.from_fields
        ),
        "MarginCall": fields_vector(MarginCall(1_000, 10, 20)),
        "Jailing": fields_vector(Jailing(5, 6, 70)),
        "WithdrawalRecord": fields_vector(
            WithdrawalRecord(MEMBER, 1, 8453, TOKEN, 5, 5_000, OTHER, 42, 10, 1_795_219_500, 2)
        ),
        "Vote": Vector(PREVOTE, Vote.encode, Vote.decode),
        "NilVote": Vector(NIL_PRECOMMIT, Vote.encode, Vote.decode),
        "DuplicateVoteEvidence": Vector(
            EVIDENCE,
            DuplicateVoteEvidence.encode,
            lambda data: DuplicateVoteEvidence.from_fields(unpack(data, "vector")),
        ),
        "BlockHeader": fields_vector(HEADER),
        "BlockHeaderEveryField": fields_vector(
            BlockHeader("", 2**63 - 1, 0, HASH, bytes(64), HASH, KEY, HASH, NEW_KEY, KEY, HASH)
        ),
        "CommitCertificate": Vector(COMMIT, CommitCertificate.encode, CommitCertificate.decode),
        "EmptyCommitCertificate": Vector(
            CommitCertificate(2**63 - 1, 2**31, HASH, ()),
            CommitCertificate.encode,
            CommitCertificate.decode,
        ),
        "Block": Vector(BLOCK, Block.encode, Block.decode),
        "GenesisBlock": Vector(Block(HEADER, (), None), Block.encode, Block.decode),
        "Proposal": Vector(
            Proposal(7, 0, -1, BLOCK, KEY, SIGNATURE), Proposal.encode, Proposal.decode
        ),
        "SyncRequest": Vector(SyncRequest(2**40, 64), SyncRequest.encode, SyncRequest.decode),
        "GenesisHello": Vector(GenesisHello(HASH), GenesisHello.encode, GenesisHello.decode),
        "SyncResponse": Vector(
            SyncResponse(BIG, (SyncedBlock(5, b"block", b"cert"), SyncedBlock(6, b"", bytes(300)))),
            SyncResponse.encode,
            lambda data: SyncResponse.decode(data, 5),
        ),
        **make_bridge_vectors(),
        **make_reports_vectors(),
        "Bid": fields_vector(Bid(MEMBER, 0, -1_500, 30, 2)),
        "Auction": fields_vector(
            Auction(3, (("BTC-PERP", -5), ("ETH-PERP", 7)), 1, 30, 40, [Bid(OTHER, 1, 9, 31, 0)])
        ),
    }


def make_bridge_vectors() -> dict[str, Vector]:
    """The bridge's versioned records (``[version, fields...]``), uint256s as 32 bytes."""
    records: list[Any] = [
        DepositEvent(
            8453, VAULT, HASH, 3, 19_000_000, KEY, 1_700_000_000, MEMBER, 2, TOKEN, UINT256, 11
        ),
        WithdrawalSignature(
            WithdrawalAuthorization(8453, VAULT, 4, MEMBER, TOKEN, UINT256, OTHER, 42, BIG),
            EVM_SIGNATURE,
        ),
        RotationSignature(Rotation(8453, VAULT, CURRENT_SET, TARGET_SET), EVM_SIGNATURE),
        SignedExternalEvent(DEPOSIT, KEY, SIGNATURE),
        SignedObservation(DEPOSIT, ATTESTATIONS[0]),
        SignedReobserveRequest(ReobserveRequest(8453, HASH, 3), BIG, ATTESTATIONS[1]),
        PayoutAttestation(PAYOUT, ATTESTATIONS[0]),
        ExpiryAttestation(EXPIRY, ATTESTATIONS[1]),
        StoredPayout(PAYOUT),
    ]
    return {
        type(record).__name__: Vector(record, type(record).encode, type(record).decode)
        for record in records
    }


def make_reports_vectors() -> dict[str, Vector]:
    """The reports' gossip (``[version, kind, fields...]``), read back as a node reads it
    at the first hop (the signature checked, against the signer's key)."""
    key = Ed25519PrivateKey.from_private_bytes(KEY)
    signer = key.public_key().public_bytes_raw()
    proofs = {(MEMBER, 0): b"proof", (OTHER, 2**32): bytes(300)}
    shares: list[Any] = [
        sign_share(key, 8453, 12, HASH),
        sign_proof_shares(key, 8453, 12, HASH, proofs)[0],
    ]
    return {
        type(share).__name__: Vector(
            share,
            type(share).encode,
            lambda data: decode_reports_message(data, 8453, {signer}),
        )
        for share in shares
    }


def encode_all() -> dict[str, str]:
    return {name: vector.encode(vector.record).hex() for name, vector in make_vectors().items()}


def main() -> None:
    VECTORS.parent.mkdir(exist_ok=True)
    VECTORS.write_text(json.dumps(encode_all(), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

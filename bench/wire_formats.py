"""Encoding and decoding a venue's trade batch: ours against a declarative schema (msgspec
structs encoded as arrays, bounds in the type), for the "less hand-written plumbing"
decision; and each declared record kind of clearing/, consensus/ and bridge/ alone (`per_record`: µs
per encode, `pack(to_fields())`, `encode_tx` or a vote's, proposal's or bridge record's `encode`,
and per decode, `unpack` then `from_fields`, `decode_tx` or `decode`). msgspec is not a dependency:
without it the bench measures today's codec only and says so; with it (`pip install --target
DIR msgspec`, then `PYTHONPATH=.:DIR`) it also checks both produce the same bytes.

No `from __future__ import annotations`: msgspec resolves the structs' local aliases."""

import argparse
import random
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from bench import time_per_call_us, time_us
from bridge.observation import SignedObservation
from bridge.rotation import Rotation, RotationSignature
from bridge.validators import EvmValidatorSet
from bridge.withdrawal import WithdrawalAuthorization, WithdrawalSignature
from clearing.attestation import Attestation
from clearing.collateral import MAX_SUB_ACCOUNT, CollateralCredit, CollateralObservation
from clearing.governance.submit import GovProposal
from clearing.governance_changes import SetCollateralHaircut, SetFunding, decode_change
from clearing.oracle import PriceObservation, PriceUpdate
from clearing.transition.trade import Trade, TradeBatch, sign_trade_batch
from clearing.transition.tx import TX_VERSION, decode_tx, encode_tx
from clearing.transition.withdrawal import PayoutObservation, WithdrawalPaid
from clearnode.client.sandbox_keys import derive_ed25519_key
from consensus.types import Block, Proposal, Vote, compute_txs_hash
from lightclient.commit import CommitCertificate, CommitSig, VoteType
from lightclient.header import BlockHeader
from records.codec import pack, unpack


def make_batch(trades: int, seed: int = 7) -> TradeBatch:
    rng = random.Random(seed)
    members = [rng.randbytes(20) for _ in range(50)]
    batch = tuple(
        Trade(i, "BTC-PERP", rng.choice(members), rng.randrange(3), rng.choice(members),
              rng.randrange(3), 60_000_000 + rng.randrange(10_000), rng.randrange(1, 500))
        for i in range(trades)
    )  # fmt: skip
    return sign_trade_batch(
        derive_ed25519_key("venue-alpha"), 1, "alpha", 1, batch, 1 << 40, 1 << 40
    )


Codec = tuple[Callable[[Any], bytes], Callable[[bytes], Any]]
TX_CODEC: Codec = (encode_tx, decode_tx)


def fields_codec(read: Callable[[Any], Any]) -> Codec:
    """A record packed as its fields, read back by ``read`` (its ``from_fields``)."""
    return (lambda r: pack(r.to_fields()), lambda data: read(unpack(data, "record")))


def make_proposal(txs: int) -> Proposal:
    """A proposal of ``txs`` 200-byte transactions, the last block committed by 4 validators."""
    key, block_hash = bytes(range(32)), bytes(range(32, 64))
    body = tuple(bytes([n % 256]) * 200 for n in range(txs))
    header = BlockHeader("bench", 9, 1 << 40, block_hash, block_hash, compute_txs_hash(body), key)
    commit = CommitCertificate(8, 0, block_hash, tuple(CommitSig(key, bytes(64)) for _ in range(4)))
    return Proposal(9, 0, -1, Block(header, body, commit), key, bytes(64))


def make_records(batch: TradeBatch) -> dict[str, tuple[Any, Codec]]:
    """Record kinds by name: a record and its codec."""
    key, address = bytes(range(32)), bytes(range(20))
    signatures = tuple(Attestation(bytes([n]) * 32, bytes([n]) * 64) for n in range(3))
    deposit = CollateralObservation(
        8453, address, key, 3, 11, address, 2, address, 10**6, 1_700_000_000
    )
    payout = PayoutObservation(8453, address, key, 7, address, 42, 1_700_000_000)
    prices = PriceObservation(
        key, 1 << 40, (("BTC", 6 * 10**10), ("ETH", 3 * 10**9)), (("BTC-PERP", 6 * 10**10),),
        bytes(64),
    )  # fmt: skip
    haircut = SetCollateralHaircut(8453, address, 1_500)
    ten = TradeBatch(batch.venue_id, 1, 1 << 40, 1 << 40, batch.trades[:10], batch.signature)
    return {
        "Trade": (batch.trades[0], fields_codec(Trade.from_fields)),
        "TradeBatch_10": (ten, TX_CODEC),
        "CollateralCredit": (CollateralCredit(deposit, signatures), TX_CODEC),
        "WithdrawalPaid": (WithdrawalPaid(payout, signatures), TX_CODEC),
        "PriceUpdate": (PriceUpdate((prices,) * 3), TX_CODEC),
        "SetFunding": (SetFunding("BTC-PERP", 28_800_000, -5), fields_codec(decode_change)),
        "GovProposal": (GovProposal(key, (haircut, haircut), 100, 200, bytes(64)), TX_CODEC),
        "Vote": (Vote(VoteType.PREVOTE, 9, 0, key, key, bytes(64)), (Vote.encode, Vote.decode)),
        "Proposal_100": (make_proposal(100), (Proposal.encode, Proposal.decode)),
        **make_bridge_records(deposit, signatures[0]),
    }


def make_bridge_records(
    deposit: CollateralObservation, attestation: Attestation
) -> dict[str, tuple[Any, Codec]]:
    """The bridge's gossip: a signed deposit, a withdrawal's and a rotation's EVM signature
    (4 validators to 4)."""
    address, evm_signature = bytes(range(20)), bytes(65)
    withdrawal = WithdrawalAuthorization(
        8453, address, 3, address, address, 10**24, address, 42, 1 << 31
    )
    members = [(bytes([n]) * 20, 10) for n in range(1, 5)]
    current, target = EvmValidatorSet(3, tuple(members)), EvmValidatorSet(4, tuple(members))
    records = (
        SignedObservation(deposit, attestation),
        WithdrawalSignature(withdrawal, evm_signature),
        RotationSignature(Rotation(8453, address, current, target), evm_signature),
    )
    return {type(r).__name__: (r, (type(r).encode, type(r).decode)) for r in records}


def time_records(batch: TradeBatch, calls: int, repeat: int) -> dict[str, dict[str, float]]:
    figures = {}
    for name, (record, (encode, decode)) in make_records(batch).items():
        data = encode(record)
        assert decode(data) == record, name
        figures[name] = {
            "encode_us": time_per_call_us(partial(encode, record), calls, repeat),
            "decode_us": time_per_call_us(partial(decode, data), calls, repeat),
        }
    return figures


def build_msgspec_codec() -> tuple[Callable[[TradeBatch], bytes], Callable[[bytes], object]]:
    """The same envelope `[version, kind, venue, batch id, issued, expiry, trades,
    signature]` declared
    once as structs; decoding checks types, lengths and bounds as `from_fields` does."""
    import msgspec  # optional: only this comparison needs it

    # msgspec bounds must fit an int64; msgpack itself caps integers at MAX_UINT64.
    Uint = Annotated[int, msgspec.Meta(ge=0)]
    SubAccount = Annotated[int, msgspec.Meta(ge=0, le=MAX_SUB_ACCOUNT)]
    Address = Annotated[bytes, msgspec.Meta(min_length=20, max_length=20)]
    Name = Annotated[str, msgspec.Meta(max_length=64)]

    class WireTrade(msgspec.Struct, array_like=True, frozen=True):
        trade_id: Uint
        instrument_id: Name
        buyer: Address
        buyer_sub_account: SubAccount
        seller: Address
        seller_sub_account: SubAccount
        price: Uint
        quantity: Uint

    class WireTradeBatch(msgspec.Struct, array_like=True, frozen=True):
        version: Uint
        kind: Uint
        venue_id: Name
        batch_id: Uint
        issued_at_ms: Uint
        expires_ms: Uint
        trades: Annotated[list[WireTrade], msgspec.Meta(min_length=1, max_length=10_000)]
        signature: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]

    encoder = msgspec.msgpack.Encoder()
    decoder = msgspec.msgpack.Decoder(WireTradeBatch)

    def encode(batch: TradeBatch) -> bytes:
        trades = [WireTrade(*t.to_fields()) for t in batch.trades]
        wire = WireTradeBatch(
            TX_VERSION, batch.KIND, batch.venue_id, batch.batch_id, batch.issued_at_ms,
            batch.expires_ms, trades,
            batch.signature,
        )  # fmt: skip
        return bytes(encoder.encode(wire))

    return encode, decoder.decode


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench wire_formats")
    parser.add_argument("--trades", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--calls", type=int, default=5_000, help="per round, per record kind")
    args = parser.parse_args(argv)
    batch = make_batch(args.trades)
    raw = encode_tx(batch)
    figures: dict[str, Any] = {
        "trades": args.trades,
        "bytes": len(raw),
        "ours_encode_us": time_us(lambda: encode_tx(batch), args.repeat),
        "ours_decode_us": time_us(lambda: decode_tx(raw), args.repeat),
        "per_record": time_records(batch, args.calls, 7),
    }
    try:
        encode, decode = build_msgspec_codec()
    except ImportError:
        return {**figures, "msgspec": "not installed"}
    figures["msgspec_same_bytes"] = encode(batch) == raw
    figures["msgspec_encode_us"] = time_us(lambda: encode(batch), args.repeat)
    figures["msgspec_decode_us"] = time_us(lambda: decode(raw), args.repeat)
    return figures

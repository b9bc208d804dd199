"""Encoding and decoding a venue's trade batch: today's hand-written records against a
declarative schema (msgspec structs encoded as arrays, bounds in the type), for the
"less hand-written plumbing" decision. msgspec is not a dependency: without it the
bench measures today's codec only and says so; with it (`pip install --target DIR
msgspec`, then `PYTHONPATH=.:DIR`) it also checks both produce the same bytes.

No `from __future__ import annotations`: msgspec resolves the structs' local aliases."""

import argparse
import random
from collections.abc import Callable
from typing import Annotated, Any

from bench import time_us
from clearing.collateral import MAX_SUB_ACCOUNT
from clearing.trade import Trade, TradeBatch, sign_trade_batch
from clearing.tx import TX_VERSION, decode_tx, encode_tx
from clearnode.client.sandbox_keys import derive_ed25519_key


def make_batch(trades: int, seed: int = 7) -> TradeBatch:
    rng = random.Random(seed)
    members = [rng.randbytes(20) for _ in range(50)]
    batch = tuple(
        Trade(i, "BTC-PERP", rng.choice(members), rng.randrange(3), rng.choice(members),
              rng.randrange(3), 60_000_000 + rng.randrange(10_000), rng.randrange(1, 500))
        for i in range(trades)
    )  # fmt: skip
    return sign_trade_batch(derive_ed25519_key("venue-alpha"), 1, "alpha", 1, batch, 1 << 40)


def build_msgspec_codec() -> tuple[Callable[[TradeBatch], bytes], Callable[[bytes], object]]:
    """The same envelope `[version, kind, venue, batch id, expiry, trades, signature]` declared
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
        expires_ms: Uint
        trades: Annotated[list[WireTrade], msgspec.Meta(min_length=1, max_length=10_000)]
        signature: Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]

    encoder = msgspec.msgpack.Encoder()
    decoder = msgspec.msgpack.Decoder(WireTradeBatch)

    def encode(batch: TradeBatch) -> bytes:
        trades = [WireTrade(*t.to_fields()) for t in batch.trades]
        wire = WireTradeBatch(
            TX_VERSION, batch.KIND, batch.venue_id, batch.batch_id, batch.expires_ms, trades,
            batch.signature,
        )  # fmt: skip
        return bytes(encoder.encode(wire))

    return encode, decoder.decode


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench wire_formats")
    parser.add_argument("--trades", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args(argv)
    batch = make_batch(args.trades)
    raw = encode_tx(batch)
    figures: dict[str, Any] = {
        "trades": args.trades,
        "bytes": len(raw),
        "ours_encode_us": time_us(lambda: encode_tx(batch), args.repeat),
        "ours_decode_us": time_us(lambda: decode_tx(raw), args.repeat),
    }
    try:
        encode, decode = build_msgspec_codec()
    except ImportError:
        return {**figures, "msgspec": "not installed"}
    figures["msgspec_same_bytes"] = encode(batch) == raw
    figures["msgspec_encode_us"] = time_us(lambda: encode(batch), args.repeat)
    figures["msgspec_decode_us"] = time_us(lambda: decode(raw), args.repeat)
    return figures

"""Encoding, decoding and the EIP-712 message of each member request, in microseconds per
request: `encode` is `encode_tx` (the record's fields, then msgpack), `decode` is
`decode_tx` (msgpack, then every field's type and bound checked), `signable` the typed
data a member signs and the node verifies (its EIP-712 struct hash), `verify` the
recovery of the signer from a signable and its signature."""

from __future__ import annotations

import argparse
from dataclasses import replace
from functools import partial
from typing import Any

from bench import time_per_call_us
from clearing.default.bidding import AuctionBid, RegisterBidder
from clearing.eip712 import sign_typed, verify_member_signature
from clearing.transition.client_requests import AcceptClientAccount, OfferClientAccount
from clearing.transition.transfer import Transfer
from clearing.transition.tx import decode_tx, encode_tx
from clearing.transition.withdrawal import Withdrawal
from clearing.venues import AuthoriseVenue
from clearnode.client.sandbox_keys import derive_member_key

CHAIN_ID = 31337


def make_requests() -> list[Any]:
    """One signed request of each type, with every field set."""
    key = derive_member_key("bench")
    me, token, other = key.address, bytes(range(1, 21)), bytes(range(100, 120))
    issued, expiry = 1_795_219_200_000, 1_795_219_500_000
    unsigned: list[Any] = [
        Withdrawal(me, 3, 8453, token, 1_234_567, other, issued, expiry, 42, b""),
        Transfer(me, 0, 7, 8453, token, 500, issued, expiry, 43, b""),
        AuthoriseVenue(me, "alpha-venue", True, issued, expiry, 44, b""),
        RegisterBidder(me, True, issued, expiry, 45, b""),
        AuctionBid(me, 2, 9, -1_500, issued, expiry, 46, b""),
        OfferClientAccount(me, other, "segregated", token, issued, expiry, 47, b""),
        AcceptClientAccount(me, other, "omnibus", bytes(20), issued, expiry, 48, b""),
    ]
    return [
        replace(r, signature=sign_typed(key.private_key, r.signable(CHAIN_ID))) for r in unsigned
    ]


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench request_schema")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    for request in make_requests():
        data = encode_tx(request)
        assert decode_tx(data) == request
        figures[type(request).__name__] = {
            "encode_us": time_per_call_us(partial(encode_tx, request), args.calls, args.repeat),
            "decode_us": time_per_call_us(partial(decode_tx, data), args.calls, args.repeat),
            "signable_us": time_per_call_us(
                partial(request.signable, CHAIN_ID), args.calls // 20, args.repeat
            ),
            "verify_us": time_per_call_us(
                partial(
                    verify_member_signature,
                    request.member,
                    request.signable(CHAIN_ID),
                    request.signature,
                    "bench",
                    CHAIN_ID,
                ),
                args.calls // 20,
                args.repeat,
            ),
        }
    return {"calls": args.calls, "repeat": args.repeat, "per_request": figures}

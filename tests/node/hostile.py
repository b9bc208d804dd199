"""Hand-made hostile request bodies and the typed error each must get, for the in-process
API tests (test_api.py) and a real `clearnode start` process (test_api_process.py).

Every body fits the smallest server-wide cap a test serves with (64 KiB), so each gets the
same answer in both; bodies only the transaction routes may carry (MiBs) are in
test_api_process.py. The chain id is the example genesis's, which `clearnode init` also uses.
"""

from __future__ import annotations

import json

from clearing.transition.trade import Trade, sign_trade_batch
from clearing.transition.tx import encode_tx
from clearing.venues import AuthoriseVenue
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from node.limits import MAX_JSON_REQUEST_BYTES
from tests.node.netsupport import get_wall_times

CHAIN_ID = 4242
_ALICE, _BOB = derive_member_key("alice"), derive_member_key("bob")
_TRADE = Trade(1, "BTC-PERP", _ALICE.address, 0, _BOB.address, 0, 60_000_000, 1)
_BATCH = encode_tx(
    sign_trade_batch(
        derive_ed25519_key("venue-alpha"), CHAIN_ID, "alpha", 1, (_TRADE,), *get_wall_times()
    )
)
_AUTHORISATION = encode_tx(
    AuthoriseVenue(_ALICE.address, "alpha", True, *get_wall_times(), 0, b"\x00" * 65)
)
LONE_SURROGATE = json.dumps(  # ASCII: json.dumps writes the surrogate as the escape \ud800
    {
        "type": "AuthoriseVenue",
        "chainId": CHAIN_ID,
        "message": {
            "member": "0x" + _ALICE.address.hex(),
            "venue": "alpha\ud800",
            "authorised": True,
            "issuedAtMs": 0,
            "expiresMs": 0,
            "nonce": 0,
        },
        "signature": "0x" + "00" * 65,
    }
).encode()
CESU_SURROGATE = LONE_SURROGATE.replace(b"\\ud800", b"\xed\xa0\x80")
"""The surrogate as raw bytes: not UTF-8, though json.loads decodes bytes with surrogatepass."""
QUADRATIC = b'"\\' * (MAX_JSON_REQUEST_BYTES // 2)
"""An unterminated string of escaped quotes: a backtracking string regex took seconds on
it at 32 KiB (and days at 8 MiB) before the nesting bound became linear."""

JSON, MSGPACK = "application/json", "application/msgpack"
HOSTILE_POSTS = [
    ("/v1/trade-batches", b"\x00\xff garbage", JSON, 400, "MalformedJson"),
    ("/v1/trade-batches", b"[1, 2]", JSON, 400, "MalformedJson"),
    ("/v1/trade-batches", b'{"tx": "nothex"}', JSON, 400, "InvalidField"),
    ("/v1/trade-batches", b'{"tx": "0x9301"}', JSON, 400, "DecodeError"),
    ("/v1/trade-batches", b"\xc1", MSGPACK, 400, "DecodeError"),
    ("/v1/trade-batches", b"{}", "text/plain", 415, "UnsupportedMediaType"),
    ("/v1/trade-batches", b'{"nope": 1}', JSON, 400, "MissingField"),
    ("/v1/member-requests", b'{"type": "Steal"}', JSON, 400, "InvalidField"),
    ("/v1/member-requests", b"", JSON, 400, "MalformedJson"),
    ("/v1/bridge/collateral-events", b'{"tx": "0x"}', JSON, 400, "DecodeError"),
    ("/v1/accounts/query", b'{"chainId": 1}', JSON, 400, "WrongChainId"),
    # Nesting beyond the bound is refused before the decoder recurses (py_ecc lifts the
    # recursion limit, so the C decoder would crash the process on these).
    ("/v1/member-requests", b"[" * 4_000, JSON, 400, "MalformedJson"),
    ("/v1/accounts/query", b'{"a":' * 600 + b"1" + b"}" * 600, JSON, 400, "MalformedJson"),
    ("/v1/trade-batches", b'{"tx":' + b"[" * 17 + b"]" * 17 + b"}", JSON, 400, "MalformedJson"),
    ("/v1/trade-batches", b"[" * 30_000 + b"]" * 30_000, JSON, 400, "MalformedJson"),
    (
        "/v1/member-requests",
        b'{"type": "Transfer", "nonce": ' + b"9" * 4_000 + b"}",
        JSON,
        400,
        "MalformedJson",
    ),
    ("/v1/member-requests", b'{"type": ["Withdrawal"]}', JSON, 400, "InvalidField"),
    ("/v1/member-requests", b'{"type": {"a": 1}}', JSON, 400, "InvalidField"),
    ("/v1/trade-batches", b"\x93\x01\x01", MSGPACK, 400, "DecodeError"),
    # Invalid UTF-8: a bad byte, a surrogate's bytes (CESU-8) and UTF-16 (which the JSON
    # decoder would take, and whose bytes the nesting bound cannot lex).
    ("/v1/member-requests", b'{"type": "\xff\xfe"}', JSON, 400, "MalformedJson"),
    ("/v1/member-requests", CESU_SURROGATE, JSON, 400, "MalformedJson"),
    ("/v1/trade-batches", '{"tx": "0x00"}'.encode("utf-16"), JSON, 400, "MalformedJson"),
    # Truncated transactions on both msgpack routes.
    ("/v1/trade-batches", _BATCH[: len(_BATCH) // 2], MSGPACK, 400, "DecodeError"),
    ("/v1/trade-batches", _BATCH[:-1], MSGPACK, 400, "DecodeError"),
    ("/v1/bridge/collateral-events", _AUTHORISATION[:-1], MSGPACK, 400, "DecodeError"),
    ("/v1/bridge/collateral-events", b"\x95\x01", MSGPACK, 400, "DecodeError"),
    # JSON's \ud800 escape is valid JSON but no text: msgpack and EIP-712 cannot encode it.
    ("/v1/member-requests", LONE_SURROGATE, JSON, 400, "InvalidField"),
    # At the JSON routes' cap: refused by the decoder, in linear time.
    ("/v1/member-requests", QUADRATIC, JSON, 400, "MalformedJson"),
    ("/v1/accounts/query", QUADRATIC, JSON, 400, "MalformedJson"),
    # One byte over a JSON route's cap: refused before the body is read.
    ("/v1/member-requests", b" " * (MAX_JSON_REQUEST_BYTES + 1), JSON, 413, "BodyTooLarge"),
    ("/v1/accounts/query", b"[" * (MAX_JSON_REQUEST_BYTES + 1), JSON, 413, "BodyTooLarge"),
]

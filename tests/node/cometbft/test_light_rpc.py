"""The light client's relay (node/cometbft/light_rpc.py): only CometBFT's three reads pass
it, each a declared record on the wire; the block state sync trusts is checked against
the genesis's validators or the checkpoint, on blocks a real CometBFT network signed
(tests/vectors/cometbft)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from clearing.genesis import parse_genesis
from lightclient.anchor import Checkpoint
from lightclient.cometbft import parse_commit, parse_header
from node.cometbft.home import TrustedBlock
from node.cometbft.light_rpc import (
    LightMethod,
    LightRequest,
    UntrustedBlock,
    check_trusted_block,
    read_json_rpc,
)
from node.storage.comet_block import SignedHeader
from records.codec import DecodeError, pack
from tests.clearing.support import genesis_doc
from tests.lightclient.test_cometbft import CHAIN, VECTORS, forge_a_precommit

GENESIS = parse_genesis(genesis_doc())
"""The example's: the validators of the network the vectors were captured from."""


def load_block(height: int) -> SignedHeader:
    signed = VECTORS["heights"][str(height)]["signed_header"]
    return SignedHeader(parse_header(signed["header"]), parse_commit(signed["commit"]))


def test_the_relay_takes_cometbfts_three_reads_and_nothing_else() -> None:
    call = {"jsonrpc": "2.0", "id": 7, "method": "validators",
            "params": {"height": "12", "page": "1", "per_page": "100"}}  # fmt: skip
    call_id, read = read_json_rpc(json.dumps(call).encode())
    assert (call_id, read) == (7, LightRequest(LightMethod.VALIDATORS, 12, 1, 100))
    assert read.get_params() == {"height": "12", "page": "1", "per_page": "100"}
    latest = read_json_rpc(b'{"id": "x", "method": "commit", "params": {}}')[1]
    assert latest == LightRequest(LightMethod.COMMIT, 0, 0, 0) and latest.get_params() == {}
    assert LightRequest.decode(read.encode()) == read
    for method in ("broadcast_tx_sync", "block", "status", "unconfirmed_txs"):
        with pytest.raises(ValueError, match="is not a read this relay serves"):
            read_json_rpc(json.dumps({"id": 1, "method": method, "params": {}}).encode())
    for params in ({"height": "-1"}, {"page": str(1 << 63)}, {"height": "x"}):
        with pytest.raises(ValueError):  # never sent on, to be refused by the peer
            read_json_rpc(json.dumps({"id": 1, "method": "commit", "params": params}).encode())
    with pytest.raises(DecodeError):  # a peer asking this node for anything else
        LightRequest.decode(pack([1, "block", 12, 0, 0]))


def test_the_trusted_block_is_the_genesis_sets_or_the_checkpoints() -> None:
    signed = load_block(3)
    header = signed.header
    trusted = TrustedBlock(3, header.hash)
    assert check_trusted_block(signed, 3, CHAIN, GENESIS, None) == trusted
    checkpoint = Checkpoint(3, header.time_ms, header.validators_hash)
    assert check_trusted_block(signed, 3, CHAIN, GENESIS, checkpoint) == trusted

    forged, _ = forge_a_precommit(signed.commit)
    refusals = [
        (dataclasses.replace(signed, commit=forged), 3, CHAIN, None,
         "not committed by the genesis's validators"),
        (signed, 1, CHAIN, None, "is block 3"),  # asked for block 1, given another
        (signed, 3, "clearnode-1-00", None, "is block 3 of " + CHAIN),
        (signed, 3, CHAIN, dataclasses.replace(checkpoint, validators_hash=bytes(32)),
         "not the checkpoint's"),
        (signed, 3, CHAIN, dataclasses.replace(checkpoint, time_ms=header.time_ms + 1),
         "not the checkpoint's"),
    ]  # fmt: skip
    for given, height, chain, point, words in refusals:
        with pytest.raises(UntrustedBlock, match=words):
            check_trusted_block(given, height, chain, GENESIS, point)

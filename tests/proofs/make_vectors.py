"""Generate the committed JSON test vectors: `python -m tests.proofs.make_vectors`.

Every vector is fully determined by the inputs written next to it, so another
implementation can replay it: generators, transcript challenges, commitments,
a range proof (valid and tampered), and a small signed report with a member's
openings. tests/proofs/test_vectors.py re-derives and re-verifies them all.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.state import DefaultRecord
from proofs.bulletproofs import prove_range
from proofs.drafting import add_signatures, build_report, sign_report
from proofs.native_group import FAST
from proofs.openings import get_member_openings
from proofs.pedersen import get_generators, get_vector_label
from proofs.report import VotingPower
from proofs.sample import (
    SAMPLE_HEIGHT,
    SAMPLE_MARKET,
    SAMPLE_MARKET_PROOF,
    make_sample_book,
    make_sample_form,
    with_sample_ledger,
)
from proofs.transcript import Transcript
from tests.lightclient.support import anchor_report

VECTORS = Path(__file__).parent / "vectors"
COMMITMENT_CASES = [(0, 0), (1, 0), (0, 1), (42, 7), (-1, 5), (2**64 - 1, 2**200 + 3)]
RANGE_VALUES, RANGE_BLINDINGS, RANGE_BITS = [5, 250, 0], [11, 22, 33], 8
REPORT_SEED, REPORT_EPOCH = b"vector-seed", 7
REPORT_CHAIN_ID = 31337
REPORT_GENESIS_HASH = hashlib.sha256(b"vector-genesis").digest()
"""The genesis whose chain (`clearnode-31337-` and its first 8 bytes) the anchor is on."""
REPORT_DEFAULTS = (
    DefaultRecord(65, bytes.fromhex("cd" * 20), 3, 1_000, 600, 150, 100, 80, 40, 25, 5),
)


def make_group_vectors() -> dict[str, Any]:
    gens = get_generators(FAST)
    g, h = gens.vectors(4)
    enc = FAST.encode
    return {
        "dst": "clearnode-v1-generators",
        "G": enc(gens.G).hex(),
        "H": enc(gens.H).hex(),
        "U": enc(gens.U).hex(),
        "g": [
            {"message": get_vector_label(b"g", i).hex(), "point": enc(p).hex()}
            for i, p in enumerate(g)
        ],
        "h": [
            {"message": get_vector_label(b"h", i).hex(), "point": enc(p).hex()}
            for i, p in enumerate(h)
        ],
        "commitments": [
            {"value": str(v), "blinding": str(r), "commitment": enc(gens.commit(v, r)).hex()}
            for v, r in COMMITMENT_CASES
        ],
    }


def run_transcript_script() -> list[dict[str, str]]:
    """A fixed script of appends and challenges, with every output."""
    t = Transcript(b"vector-domain")
    out = []
    t.append(b"first", b"hello")
    out.append({"op": "challenge", "label": "c1", "value": hex(t.challenge(b"c1"))})
    out.append({"op": "challenge", "label": "c1", "value": hex(t.challenge(b"c1"))})
    t.append_u64(b"n", 64)
    out.append({"op": "challenge_128", "label": "u", "value": hex(t.challenge_128(b"u"))})
    return out


def make_range_vectors() -> dict[str, Any]:
    gens = get_generators(FAST)
    commitments = [gens.commit(v, r) for v, r in zip(RANGE_VALUES, RANGE_BLINDINGS, strict=True)]
    t = Transcript(b"vector-range")
    proof = prove_range(gens, t, RANGE_VALUES, RANGE_BLINDINGS, n=RANGE_BITS).encode()
    tampered = bytearray(proof)
    tampered[-40] ^= 1
    return {
        "domain": "vector-range",
        "n": RANGE_BITS,
        "values": RANGE_VALUES,
        "blindings": RANGE_BLINDINGS,
        "commitments": [FAST.encode(c).hex() for c in commitments],
        "proof": proof.hex(),
        "tampered_proof": bytes(tampered).hex(),
    }


def _report_keys() -> list[Ed25519PrivateKey]:
    return [Ed25519PrivateKey.from_private_bytes(bytes([0x40 + i]) * 32) for i in range(3)]


def make_report_vectors() -> dict[str, Any]:
    gens = get_generators(FAST)
    form = make_sample_form(collaterals=1, instruments=2, scenarios=3, seed=5)
    book = make_sample_book(form, accounts=2, seed=6)
    market_proof = with_sample_ledger(SAMPLE_MARKET_PROOF, form, book)
    state_root = market_proof.get_root(SAMPLE_MARKET)
    report = build_report(gens, REPORT_EPOCH, state_root, form, book, REPORT_SEED,
                          chain_id=REPORT_CHAIN_ID, height=SAMPLE_HEIGHT, market=SAMPLE_MARKET,
                          market_proof=market_proof, defaults=REPORT_DEFAULTS)  # fmt: skip
    keys = _report_keys()
    signed = add_signatures(report, [sign_report(report, k) for k in keys])
    report = anchor_report(signed, keys, power=1, genesis_hash=REPORT_GENESIS_HASH)
    owner, sub = report.accounts[0].key
    openings = get_member_openings(
        REPORT_SEED, REPORT_EPOCH, owner, report.statement.input_labels, {sub: book[(owner, sub)]}
    )
    return {
        "seed": REPORT_SEED.hex(),
        "chain_id": REPORT_CHAIN_ID,
        "genesis_hash": REPORT_GENESIS_HASH.hex(),
        "epoch": REPORT_EPOCH,
        "state_root": state_root.hex(),
        "labels": list(form.input_labels),
        "rows": [list(r) for r in form.rows],
        "market": SAMPLE_MARKET.to_fields(),
        "market_proof": [h.hex() for h in market_proof.to_fields()],
        "accounts": [
            {"owner": o.hex(), "subaccount": s, "inputs": [str(x) for x in book[(o, s)]]}
            for (o, s) in sorted(book)
        ],
        "defaults": [
            {
                "height": r.height,
                "member": r.member.hex(),
                "subaccount": r.sub_account,
                "deficit": r.deficit,
                "layers": list(r.get_layers()),
            }
            for r in REPORT_DEFAULTS
        ],
        "validator_private_keys": [bytes([0x40 + i]).hex() * 32 for i in range(3)],
        "validators": [
            {"pubkey": "0x" + v.public_key.hex(), "power": v.power}
            for v in (VotingPower(k.public_key().public_bytes_raw(), 1) for k in keys)
        ],
        "report_hash": report.get_hash().hex(),
        "signing_bytes": report.get_signing_bytes().hex(),
        "report": report.encode().hex(),
        "member": "0x" + owner.hex(),
        "openings": openings.to_json(),
    }


def write_all() -> None:
    VECTORS.mkdir(exist_ok=True)
    files = {
        "group.json": make_group_vectors(),
        "transcript.json": {"domain": "vector-domain", "script": run_transcript_script()},
        "rangeproof.json": make_range_vectors(),
        "report.json": make_report_vectors(),
    }
    for name, content in files.items():
        (VECTORS / name).write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    write_all()

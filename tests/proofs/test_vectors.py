"""The committed JSON vectors still hold: same bytes re-derived, proofs verify,
on every backend where the sizes allow the slow reference one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgpack
import pytest

from proofs.bulletproofs import RangeProof, verify_range
from proofs.checks import verify_report
from proofs.group import Group
from proofs.native_group import FAST
from proofs.openings import MemberOpenings, verify_member_openings
from proofs.pedersen import get_generators
from proofs.pure_python_group import PURE_PYTHON
from proofs.pyecc_group import REFERENCE
from proofs.report import decode_report
from proofs.transcript import Transcript
from proofs.verify import read_validators
from tests.proofs import make_vectors

VECTORS = Path(__file__).parent / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


@pytest.mark.parametrize("group", [FAST, PURE_PYTHON, REFERENCE], ids=lambda g: g.name)
def test_generator_and_commitment_vectors(group: Group) -> None:  # type: ignore[type-arg]
    vec = _load("group.json")
    gens = get_generators(group)
    assert group.encode(gens.G).hex() == vec["G"]
    assert group.encode(gens.H).hex() == vec["H"]
    assert group.encode(gens.U).hex() == vec["U"]
    g, h = gens.vectors(len(vec["g"]))
    assert [group.encode(p).hex() for p in g] == [e["point"] for e in vec["g"]]
    assert [group.encode(p).hex() for p in h] == [e["point"] for e in vec["h"]]
    for case in vec["commitments"]:
        c = gens.commit(int(case["value"]), int(case["blinding"]))
        assert group.encode(c).hex() == case["commitment"]
        assert group.encode(group.decode_point(bytes.fromhex(case["commitment"]))) == group.encode(
            c
        )


def test_transcript_vectors() -> None:
    assert make_vectors.run_transcript_script() == _load("transcript.json")["script"]


@pytest.mark.parametrize("group", [FAST, PURE_PYTHON, REFERENCE], ids=lambda g: g.name)
def test_range_proof_vector(group: Group) -> None:  # type: ignore[type-arg]
    vec = _load("rangeproof.json")
    gens = get_generators(group)
    commitments = [group.decode_point(bytes.fromhex(c)) for c in vec["commitments"]]
    n, m = vec["n"], 4
    proof = RangeProof.decode(bytes.fromhex(vec["proof"]), m, n)
    assert verify_range(gens, Transcript(vec["domain"].encode()), commitments, proof, n)
    tampered = RangeProof.decode(bytes.fromhex(vec["tampered_proof"]), m, n)
    assert not verify_range(gens, Transcript(vec["domain"].encode()), commitments, tampered, n)


def test_fast_backend_reproduces_range_vector() -> None:
    assert make_vectors.make_range_vectors() == _load("rangeproof.json")


def test_report_vector_verifies_and_is_reproduced(tmp_path: Path) -> None:
    vec = _load("report.json")
    gens = get_generators(FAST)
    report = decode_report(bytes.fromhex(vec["report"]))
    assert report.get_hash().hex() == vec["report_hash"]
    assert report.chain_id == vec["chain_id"]
    signing = ["clearnode", "solvency-report", vec["chain_id"], [vec["epoch"], report.get_hash()]]
    assert msgpack.packb(signing, use_bin_type=True).hex() == vec["signing_bytes"]
    assert report.get_signing_bytes().hex() == vec["signing_bytes"]
    validators_file = tmp_path / "validators.json"
    validators_file.write_text(json.dumps(vec["validators"]))
    validators = read_validators(validators_file)
    genesis_hash = bytes.fromhex(vec["genesis_hash"])
    verdict = verify_report(gens, report, validators, vec["chain_id"], genesis_hash=genesis_hash)
    assert verdict.ok, verdict.failures
    assert any(line.startswith("state root is the chain's after block") for line in verdict.passed)
    member = bytes.fromhex(vec["member"][2:])
    openings = MemberOpenings.from_json(vec["openings"])
    assert verify_member_openings(gens, report, member, openings).ok
    assert make_vectors.make_report_vectors() == vec

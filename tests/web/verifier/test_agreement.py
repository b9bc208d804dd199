"""The browser verifier's code agrees with `clearnode verify` on reports no one meant to
write: the honest vector with bytes flipped, cut short or inserted at random places, and the
anchor of one signed after validator-set changes likewise (seeded, so every run checks
the same ones). For each, both give the same verdict and
the same failing checks; the TypeScript never throws (a malformed report is a verdict).

The TypeScript runs in node, bundled once by esbuild (web/verifier/test/verify_cli.ts);
the page runs the same modules (tests/web/verifier/test_page.py)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from proofs.report import decode_report
from tests.vectors.make_reports import NOW_MS, PAGE_OUTCOMES, REPORTS, describe_mode
from tests.web.verifier.node_cli import bundle_cli, run_cli

CASES = 40
ANCHOR_CASES = 30
NOT_MSGPACK = "report is not msgpack"
NOT_A_POINT = "not a point on BLS12-381 G1: "


def mutate(data: bytes, rng: random.Random, start: int = 0) -> bytes:
    """One random damage at or after `start`: a flipped bit, a cut, or an inserted byte."""
    at = rng.randrange(start, len(data))
    kind = rng.choice(["flip", "flip", "cut", "insert"])
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]
    if kind == "cut":
        return data[:at]
    return data[:at] + bytes([rng.randrange(256)]) + data[at:]


def comparable(line: str) -> str:
    """A failure line without the words a library chose (msgpack's, the curve's)."""
    if line.startswith(NOT_MSGPACK + ":"):
        return NOT_MSGPACK
    if NOT_A_POINT in line:
        head, _, rest = line.partition(NOT_A_POINT)
        return head + NOT_A_POINT + rest[:96]  # the point's hex, not the reason
    return line


def run_typescript(tmp_path: Path, genesis: str, reports: list[bytes]) -> list[dict[str, Any]]:
    request = {"genesis_json": genesis, "now_ms": NOW_MS, "reports": [r.hex() for r in reports]}
    answer = run_cli(bundle_cli("verify_cli", tmp_path), request, timeout=300)
    return answer["results"]  # type: ignore[no-any-return]


@pytest.mark.slow
def test_damaged_reports_get_the_same_verdict_from_both(tmp_path: Path) -> None:
    rng = random.Random(16)
    honest = (REPORTS / "valid" / "report.bin").read_bytes()
    damaged = [mutate(honest, rng) for _ in range(CASES)]
    damaged.append(honest.replace(b"\xa4cash", b"\xa4\xffash", 1))  # a label not UTF-8
    # the anchor of a report signed after two changes of the validator set: its headers,
    # certificates and sets, damaged (the anchor is the encoding's last field)
    followed = (REPORTS / "signed-after-set-changes" / "report.bin").read_bytes()
    anchor_start = len(replace(decode_report(followed), anchor=None).encode()) - 1
    damaged.extend(mutate(followed, rng, anchor_start) for _ in range(ANCHOR_CASES))
    genesis_file = REPORTS / "genesis.json"
    results = run_typescript(tmp_path, genesis_file.read_text(), damaged)
    for i, (data, result) in enumerate(zip(damaged, results, strict=True)):
        path = tmp_path / f"damaged-{i}.bin"
        path.write_bytes(data)
        expected = describe_mode(path, genesis_file, "genesis")
        assert result["outcome"] == PAGE_OUTCOMES[expected["verdict"]], (i, result, expected)
        got = [comparable(x) for x in result["failures"]]
        assert got == [comparable(x) for x in expected["failures"]], (i, data.hex())
        if "output" in expected:
            printed = result["printed"].splitlines()
            end = printed.index("not checked") if "not checked" in printed else len(printed)
            assert [comparable(x) for x in printed[:end]] == [
                comparable(x) for x in expected["output"]
            ], (i, data.hex())

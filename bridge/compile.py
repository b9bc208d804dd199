"""Compile the bridge contracts with the pinned solc and write the JSON artifacts.

`python -m bridge.compile` rewrites bridge/contracts/artifacts/*.json; the test suite
recompiles and checks the committed artifacts match the sources byte for byte, so the
bytecode a chain runs is always the one this source describes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("CollateralVault.sol", "PriceFeed.sol", "TestToken.sol")
SOLC_VERSION = "0.8.37+commit.f401782d.Emscripten.clang"
SETTINGS = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
}

# Runs solc-js on a standard-JSON input read from stdin; prints version and output.
_SOLC_JS = """
const solc = require('solc');
let input = '';
process.stdin.on('data', d => input += d);
process.stdin.on('end', () => {
  const output = JSON.parse(solc.compile(input));
  process.stdout.write(JSON.stringify({version: solc.version(), output}));
});
"""


class CompileError(Exception):
    """solc refused the sources, or is not the pinned version."""


def compute_artifacts() -> dict[str, str]:
    """Return {file name: artifact JSON text} for every contract, compiled now."""
    sources = {name: {"content": (CONTRACTS_DIR / name).read_text()} for name in SOURCES}
    request = json.dumps({"language": "Solidity", "sources": sources, "settings": SETTINGS})
    proc = subprocess.run(
        ["node", "-e", _SOLC_JS],
        input=request,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    )
    result = json.loads(proc.stdout)
    if result["version"] != SOLC_VERSION:
        raise CompileError(f"solc {result['version']} found, {SOLC_VERSION} pinned")
    errors = [e for e in result["output"].get("errors", []) if e["severity"] == "error"]
    if errors:
        raise CompileError("\n".join(e["formattedMessage"] for e in errors))
    artifacts = {}
    for source, contracts in sorted(result["output"]["contracts"].items()):
        for name, out in sorted(contracts.items()):
            if source != f"{name}.sol":
                continue  # interfaces declared inside another file
            artifact = {
                "contractName": name,
                "source": source,
                "compiler": {"version": SOLC_VERSION, "settings": SETTINGS},
                "abi": out["abi"],
                "bytecode": "0x" + out["evm"]["bytecode"]["object"],
            }
            artifacts[f"{name}.json"] = json.dumps(artifact, indent=1, sort_keys=True) + "\n"
    return artifacts


def load_artifact(name: str) -> dict[str, object]:
    """The committed artifact of contract `name` (ABI and creation bytecode)."""
    loaded: dict[str, object] = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())
    return loaded


def main() -> int:
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    for file_name, text in compute_artifacts().items():
        (ARTIFACTS_DIR / file_name).write_text(text)
        print(f"wrote {ARTIFACTS_DIR / file_name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The browser verifier's test CLIs (web/verifier/test/*.ts) in node: each bundled once by
esbuild, then answering one JSON request read from stdin per batch of cases."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"


def bundle_cli(name: str, out_dir: Path) -> Path:
    """web/verifier/test/`name`.ts and what it imports, as one node script in `out_dir`."""
    out = out_dir / f"{name}.mjs"
    source = ROOT / "web" / "verifier" / "test" / f"{name}.ts"
    subprocess.run(
        [str(ESBUILD), str(source), "--bundle", "--platform=node", "--format=esm",
         f"--outfile={out}", "--log-level=warning"],
        check=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    return out


def run_cli(bundle: Path, request: object, timeout: float) -> Any:
    """The bundled CLI's JSON answer to `request`."""
    done = subprocess.run(
        ["node", str(bundle)], input=json.dumps(request), capture_output=True, text=True,
        timeout=timeout, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)

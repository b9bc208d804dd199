"""The validators' shared report seed: the secret every report blinding derives from.

It must be secret (anyone holding it opens every member's commitments) and the
same on every validator (so they build byte-identical reports). `clearnode init`
writes one per network (or installs an existing one: `--report-seed FILE`);
operators copy it to every validator like a key. It is stored in the node's
key-file format (0600, refused when group/other readable).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from node.keys import KeyFile, load_key, save_key

REPORT_SEED = "report-seed"


def create_report_seed() -> bytes:
    return secrets.token_bytes(32)


def save_report_seed(path: Path, seed: bytes) -> None:
    """Write `seed` to a new 0600 file (never overwrites: raises KeyFileError)."""
    save_key(path, KeyFile(REPORT_SEED, seed))


def load_report_seed(path: Path) -> bytes:
    """The seed in `path`; raises KeyFileError (mode, format, kind, length)."""
    return load_key(path, REPORT_SEED).secret

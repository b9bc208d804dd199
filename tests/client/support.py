"""clearnode-client's build backend (client/backend.py), loaded as pip loads it: from its
file, since client/ is the distribution's own directory, not a package of ours."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

CLIENT = Path(__file__).resolve().parents[2] / "client"


def load_backend(directory: Path = CLIENT) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "clearnode_client_backend", directory / "backend.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

"""Where clearnode-client's modules are, for hatchling: beside client/ in the repository
(`pip install ./client`), beside this file in the sdist. It includes exactly the files
pyproject.toml lists under `[tool.hatch.build.hooks.custom]` (the modules and the data
they read), at their paths in the repository, which are their paths in the wheel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ModulesHook(BuildHookInterface):  # type: ignore[type-arg]
    """hatchling's custom build hook (the one class of hatch_build.py)."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        here = Path(self.root)
        source = here if (here / "clearnode" / "client").is_dir() else here.parent
        listed: list[str] = [*self.config["modules"], *self.config["data"]]
        for path in listed:
            build_data["force_include"][str(source / path)] = path

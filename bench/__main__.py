"""`python -m bench NAME [args...]` runs one benchmark; `python -m bench all` runs each but
those that set `IN_ALL = False` (the hour-long soak), which run only when named."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def run_one(name: str, argv: list[str]) -> None:
    module = importlib.import_module(f"bench.{name}")
    figures = module.run(argv)
    print(json.dumps({"bench": name, **figures}, sort_keys=True), flush=True)


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in {"-h", "--help"}:
        print(f"usage: python -m bench {{{','.join([*names, 'all'])}}} [args...]")
        return 0 if argv else 2
    if argv[0] == "all":
        for name in names:
            if getattr(importlib.import_module(f"bench.{name}"), "IN_ALL", True):
                run_one(name, [])
        return 0
    if argv[0] not in names:
        print(f"unknown benchmark {argv[0]!r}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    run_one(argv[0], argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

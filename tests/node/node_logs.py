"""What a failed process-network test shows of its nodes: each node's last warnings and
commits, read from the `node.log` in its home. CI keeps a failed test's output and
nothing else of the homes, so this is all the team gets to read after a flaky run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path


def print_last_logs(homes: Iterable[object], warnings: int = 8, commits: int = 2) -> None:
    for line in get_last_logs(homes, warnings, commits):
        print(line)


def get_last_logs(homes: Iterable[object], warnings: int = 8, commits: int = 2) -> list[str]:
    """A header per home that has a log, then its last warnings and errors (libp2p's own
    aside) and its last commits. A home is its directory or has it as `path`."""
    out = []
    for home in homes:
        path = getattr(home, "path", home)
        if not isinstance(path, Path) or not (path / "node.log").exists():
            continue
        lines = (path / "node.log").read_text(errors="replace").splitlines()
        loud = [
            line for line in lines
            if ('"level":"warning"' in line or '"level":"error"' in line)
            and '"logger":"libp2p.' not in line
        ]  # fmt: skip
        committed = [line for line in lines if "committed height" in line]
        out.append(f"--- {path.name}: {len(lines)} log lines; the last warnings, then commits")
        out.extend(line[:400] for line in [*loud[-warnings:], *committed[-commits:]])
    return out


def get_networks_logs(funcargs: Mapping[str, object]) -> str | None:
    """The last logs of every network among a test's fixtures (anything with `homes`), or
    None when it used none: a module's shared network outlives the test that failed on
    it, so its fixture never sees the failure; the suite's report hook asks here."""
    lines = []
    for value in funcargs.values():
        homes = getattr(value, "homes", None)
        if isinstance(homes, list | tuple):
            lines.extend(get_last_logs(homes))
    return "\n".join(lines) if lines else None

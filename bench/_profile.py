"""Where a benchmark's measured part spends its time: pyinstrument's sampling profile,
written as the functions of most own time, each with its own and cumulative share.

pyinstrument samples the interpreter's own stack from inside the process, so it needs
no ptrace (py-spy attaches from outside and needs it) and runs wherever the bench does;
its cost is one C call per Python call and return, which slows the profiled run (the
figures of a profiled run are not the bench's figures) but keeps the shares.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SAMPLE_INTERVAL_S = 0.0005
TOP = 25


@contextmanager
def profiled(path: Path | None) -> Iterator[None]:
    """Profiles the block into `path` (nothing when None)."""
    if path is None:
        yield
        return
    from pyinstrument import Profiler  # the test extra's: only a profiled run needs it

    profiler = Profiler(interval=SAMPLE_INTERVAL_S)
    profiler.start()
    try:
        yield
    finally:
        session = profiler.stop()
    path.write_text(render_top(session.root_frame(), TOP))


def render_top(root: Any, count: int) -> str:
    """The `count` functions of most own time under `root` (a pyinstrument frame)."""
    own: dict[str, float] = defaultdict(float)
    cumulative: dict[str, float] = defaultdict(float)

    def walk(frame: Any, open_keys: frozenset[str]) -> None:
        key = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
        own[key] += frame.total_self_time
        if key not in open_keys:
            cumulative[key] += frame.time
        for child in frame.children:
            if not child.is_synthetic:
                walk(child, open_keys | {key})

    walk(root, frozenset())
    heading = f"{root.time:.2f} s sampled every {SAMPLE_INTERVAL_S * 1000:g} ms"
    return format_top(heading, own, cumulative, root.time, count)


def render_stacks(text: str, count: int) -> str:
    """The same of py-spy's collapsed stacks (`record --format raw`: one line per stack,
    its frames outermost first joined by ';', then its number of samples)."""
    own: dict[str, float] = defaultdict(float)
    cumulative: dict[str, float] = defaultdict(float)
    total = 0
    for line in text.splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = stack.split(";")
        own[frames[-1]] += int(samples)
        for key in set(frames):
            cumulative[key] += int(samples)
        total += int(samples)
    return format_top(f"{total} samples", own, cumulative, total, count)


def fold_perf_script(text: str) -> str:
    """`perf script -F comm,ip,sym`'s samples (each a line naming the process, then its
    frames innermost first, one a line, then a blank line) as py-spy's collapsed stacks,
    for `render_stacks`: a native process's profile read the same way as the node's."""
    counts: Counter[str] = Counter()
    for sample in text.strip().split("\n\n"):
        frames = [line.split(None, 1) for line in sample.splitlines()[1:]]
        names = [frame[1] if len(frame) == 2 else "[unknown]" for frame in frames]
        if names:
            counts[";".join(reversed(names))] += 1
    return "".join(f"{stack} {samples}\n" for stack, samples in counts.items())


def format_top(
    heading: str, own: dict[str, float], cumulative: dict[str, float], total: float, count: int
) -> str:
    """The `count` functions of most own time: own and cumulative time as shares of
    `total`, a function called within itself counted once in its cumulative time."""
    lines = [heading, "  own%   cum%  function"]
    for key in sorted(own, key=own.__getitem__, reverse=True)[:count]:
        share = 100 / max(total, 1e-9)
        lines.append(f"{share * own[key]:6.1f} {share * cumulative[key]:6.1f}  {key}")
    return "\n".join(lines) + "\n"

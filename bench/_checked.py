"""A benchmark whose run is also a check (`restarts`, `partitions`): its figures are the
answer, and a failed check or run still leaves what explains it."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

R = TypeVar("R")


def run_checked(
    prefix: str,
    run: Callable[[Path], R],
    get_figures: Callable[[R], dict[str, Any]],
    check: Callable[[R], None],
) -> dict[str, Any]:
    """`run` in a fresh folder, then `check` of its result; returns its figures. A failed
    check prints them on stderr first; a failed run keeps the folder (its nodes' homes and
    logs) and says where."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        result = run(base)
        figures = get_figures(result)
        try:
            check(result)
        except AssertionError:
            print(json.dumps(figures, sort_keys=True), file=sys.stderr)
            raise
    except BaseException:
        print(f"node homes and logs of the failed run kept in {base}", file=sys.stderr)
        raise
    shutil.rmtree(base)
    return figures

"""An operator's change file for `clearnode gov propose --change FILE`: TOML or JSON (by
its suffix) holding ``changes``, a list of changes in plain named fields
(clearing/governance/change_form.py; docs/governance.md "Change files")."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from clearing.governance.change_form import from_plain
from clearing.governance_changes import Change
from records.codec import DecodeError


class ChangeFileError(Exception):
    """A change file that cannot be read, naming the file and the field."""

    def __init__(self, path: Path, field: str, reason: str) -> None:
        super().__init__(f"{path}: {field}: {reason}")
        self.path, self.field, self.reason = path, field, reason


def load_change_file(path: Path) -> tuple[Change, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChangeFileError(path, "<file>", f"cannot read it ({exc})") from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError
        raise ChangeFileError(path, "<file>", f"not {path.suffix[1:] or 'toml'}: {exc}") from None
    if not isinstance(doc, dict):
        raise ChangeFileError(path, "<file>", "expected a table with `changes`")
    changes = doc.get("changes")
    extra = sorted(set(doc) - {"changes"})
    if extra:
        raise ChangeFileError(path, extra[0], "unknown key (a change file holds `changes`)")
    if not isinstance(changes, list) or not changes:
        raise ChangeFileError(path, "changes", "expected a non-empty list of changes")
    loaded = []
    for n, item in enumerate(changes):
        try:
            loaded.append(from_plain(item))
        except DecodeError as exc:
            raise ChangeFileError(path, f"changes[{n}].{exc.what}", exc.reason) from None
    return tuple(loaded)

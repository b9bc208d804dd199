"""Reading `config.toml` one table at a time (`ConfigTable`): each key read through the
table that knows the file and the dotted key path, so a bad value is reported as "file,
key, what was expected, what was found" (`ConfigError`); unknown keys are errors too, a
typo must not silently fall back to a default. Every key read is noted (`KeyRead`), so
the operator guide's key table is made from the loader itself (node/reference/tables.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value is missing or wrong; names the file, the key and what is expected."""

    def __init__(self, file: Path, key: str, expected: str, found: object = None) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        self.found = found
        detail = "" if found is None else f", found {found!r}"
        super().__init__(f"{file}: key '{key}': expected {expected}{detail}")


@dataclass(frozen=True)
class KeyRead:
    """One key as the loader read it, in its own words: what a reference table lists."""

    key: str
    """Dotted, with `[]` for an array of tables and `<symbol>` for a table per symbol."""
    scope: str
    """Where the key applies when not everywhere its table does, e.g. `kind = "http"`."""
    expected: str
    default: object
    """None when the key is required."""


class ConfigTable:
    """A TOML table with the file and key prefix, so every error can name both.

    Each key it reads is also noted in `reads` (shared by its sub-tables) under its
    generic name, so the operator guide's key table is made from the loader itself."""

    def __init__(
        self,
        file: Path,
        prefix: str,
        data: Mapping[str, Any],
        doc_prefix: str | None = None,
        reads: dict[tuple[str, str], KeyRead] | None = None,
    ) -> None:
        self.file = file
        self.prefix = prefix
        self.data = data
        self.used: set[str] = set()
        self.doc_prefix = prefix if doc_prefix is None else doc_prefix
        self.scope = ""
        self.names_are: str | None = None
        """The generic name of this table's keys when data names them, e.g. `<symbol>`."""
        self.reads: dict[tuple[str, str], KeyRead] = {} if reads is None else reads

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, expected: str, found: object = None) -> ConfigError:
        return ConfigError(self.file, self.key(name), expected, found)

    def note(self, name: str, expected: str, default: object) -> None:
        """The first note of a key stands: a caller may describe a key before reading it."""
        key = f"{self.doc_prefix}{name if self.names_are is None else self.names_are}"
        self.reads.setdefault((key, self.scope), KeyRead(key, self.scope, expected, default))

    def _get(self, name: str, kind: type[T], expected: str, default: T | None) -> T:
        self.used.add(name)
        if name not in self.data:
            if default is None:
                raise self.fail(name, f"{expected} (required, missing)")
            return default
        value = self.data[name]
        # bool is an int subclass: an int key must not accept `true`
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(name, expected, value)
        return value

    def text(
        self,
        name: str,
        default: str | None = None,
        pattern: str | None = None,
        expected: str | None = None,
    ) -> str:
        """`expected`: how a reference names the value when the caller checks it further."""
        matching = "a string" if pattern is None else f"a string matching {pattern}"
        self.note(name, matching if expected is None else expected, default)
        value = self._get(name, str, "a string", default)
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.fail(name, matching if expected is None else expected, value)
        return value

    def integer(
        self, name: str, default: int | None = None, lo: int = 0, hi: int | None = None
    ) -> int:
        span = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        self.note(name, f"an integer {span}", default)
        value = self._get(name, int, "an integer", default)
        if value < lo or (hi is not None and value > hi):
            raise self.fail(name, f"an integer {span}", value)
        return value

    def flag(self, name: str, default: bool | None = None) -> bool:
        self.note(name, "true or false", default)
        return self._get(name, bool, "true or false", default)

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        expected = f"one of {', '.join(options)}"
        value = self.text(name, default, expected=expected)
        if value not in options:
            raise self.fail(name, expected, value)
        return value

    def list_of(
        self, name: str, kind: type[T], what: str, default: tuple[T, ...] = ()
    ) -> tuple[T, ...]:
        self.note(name, f"a list of {what}", list(default))
        value = self._get(name, list, f"a list of {what}", list(default))
        for index, item in enumerate(value):
            if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
                raise ConfigError(self.file, f"{self.key(name)}[{index}]", what, item)
        return tuple(value)

    def path(self, name: str, home: Path, default: str | None = None) -> Path:
        text = self.text(name, default, expected="a path (relative: to the home)")
        value = Path(text).expanduser()
        return value if value.is_absolute() else home / value

    def table(self, name: str, doc_name: str | None = None) -> ConfigTable:
        """`doc_name`: the generic name of a table named by data, e.g. `<symbol>`."""
        value = self._get(name, dict, "a table", {})
        doc_prefix = f"{self.doc_prefix}{name if doc_name is None else doc_name}."
        sub = ConfigTable(self.file, f"{self.key(name)}.", value, doc_prefix, self.reads)
        sub.scope = self.scope
        return sub

    def tables(self, name: str) -> list[ConfigTable]:
        self.note(name, "an array of tables ([[...]])", [])
        value = self._get(name, list, "an array of tables ([[...]])", [])
        out = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise ConfigError(self.file, f"{self.key(name)}[{index}]", "a table", item)
            prefix, doc_prefix = f"{self.key(name)}[{index}].", f"{self.doc_prefix}{name}[]."
            out.append(ConfigTable(self.file, prefix, item, doc_prefix, self.reads))
        return out

    def check_no_unknown_keys(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], f"a known key (known: {', '.join(sorted(self.used))})")


def read_table(t: ConfigTable, build: Callable[[ConfigTable], T]) -> T:
    value = build(t)
    t.check_no_unknown_keys()
    return value

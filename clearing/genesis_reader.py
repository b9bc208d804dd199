"""Typed reading of a genesis document's objects (`DocumentReader`): each value
checked as it is read, and every problem a ``GenesisError(key, expected, got)`` whose
``key`` is the dotted path into the document (``instruments[2].tick_size``). Keys
starting with ``_`` are comments; any other unknown key is an error, so that a typo
never silently falls back to a default.
"""

from __future__ import annotations

from typing import Any, TypeVar

from clearing.errors import GenesisError
from clearing.units import MAX_UINT64

E = TypeVar("E")


class DocumentReader:
    """Typed access to one JSON object, remembering its path for errors."""

    def __init__(self, obj: object, path: str, allowed: set[str]) -> None:
        if not isinstance(obj, dict):
            raise GenesisError(path or "<root>", "an object", obj)
        unknown = sorted(k for k in obj if not str(k).startswith("_") and k not in allowed)
        if unknown:
            raise GenesisError(
                join_key(path, unknown[0]), f"one of {sorted(allowed)}", "unknown key"
            )
        self.obj: dict[str, Any] = obj
        self.path = path

    def key(self, name: str) -> str:
        return join_key(self.path, name)

    def get_raw(self, name: str) -> object:
        if name not in self.obj:
            raise GenesisError(self.key(name), "present", "missing")
        return self.obj[name]

    def has(self, name: str) -> bool:
        return self.obj.get(name) is not None

    def get_int(self, name: str, lo: int = 0, hi: int = MAX_UINT64) -> int:
        value = self.get_raw(name)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise GenesisError(self.key(name), f"an integer in [{lo}, {hi}]", value)
        return value

    def get_str(self, name: str, max_chars: int | None = None) -> str:
        """`max_chars`: the bound of the record the string goes into, which its snapshot
        (and a governance change carrying it) is decoded with."""
        value = self.get_raw(name)
        if not isinstance(value, str) or not value:
            raise GenesisError(self.key(name), "a non-empty string", value)
        if max_chars is not None and len(value) > max_chars:
            raise GenesisError(self.key(name), f"at most {max_chars} characters", len(value))
        return value

    def get_hex(self, name: str, length: int) -> bytes:
        return parse_hex(self.get_raw(name), length, self.key(name))

    def get_enum(self, name: str, kind: type[E]) -> E:
        value = self.get_raw(name)
        try:
            return kind(value)  # type: ignore[call-arg]
        except ValueError:
            choices = [m.value for m in kind]  # type: ignore[attr-defined]
            raise GenesisError(self.key(name), f"one of {choices}", value) from None

    def get_list(self, name: str) -> list[object]:
        value = self.get_raw(name)
        if not isinstance(value, list):
            raise GenesisError(self.key(name), "a list", value)
        return value


def join_key(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def parse_hex(obj: object, length: int, path: str) -> bytes:
    """`0x` and the hex of exactly `length` bytes, or GenesisError naming `path`."""
    data = None
    if isinstance(obj, str) and obj.startswith("0x"):
        try:
            data = bytes.fromhex(obj[2:])
        except ValueError:
            pass
    if data is None or len(data) != length:
        raise GenesisError(path, f"0x-hex of {length} bytes", obj)
    return data

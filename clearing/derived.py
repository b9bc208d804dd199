"""What modules derive from the state and keep on it between blocks: a typed side-store.

The state is plain data; what is computed from it (the Merkle tree under the root, the
risk arrays and margin figures, the configuration's encodings) is kept in its
``derived`` holder under a ``DerivedKey`` that the computing module declares beside the
type it keeps, and that module alone writes it, through its accessor (the root's cache
in clearing/transition/root.py, ``get_risk_derived`` and ``get_risk_cache`` in
clearing/risk/engine.py, ``get_configuration_encoding`` in
clearing/governance/configuration.py). Each entry carries what it was built from and is
rebuilt when that changes, so what is kept never changes a result, only how soon it comes;
nothing kept is in the root or a snapshot. The state module needs no type from above it.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class DerivedKey(Generic[T]):
    """The key of one kind of derived data, of type ``T``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"DerivedKey({self.name!r})"


class Derived:
    """A state's derived data by key; empty for a new or restored state."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[DerivedKey[Any], Any] = {}

    def get(self, key: DerivedKey[T]) -> T | None:
        kept: T | None = self._kept.get(key)
        return kept

    def keep(self, key: DerivedKey[T], value: T) -> T:
        self._kept[key] = value
        return value

    def drop(self, key: DerivedKey[Any]) -> None:
        self._kept.pop(key, None)

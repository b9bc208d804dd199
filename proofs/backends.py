"""Which group backends this installation has: the native core's when `make install` built
it; always the pure-Python one (proofs/pure_python_group.py), the fastest without the native
core, and py-ecc's reference, the test oracle (proofs/group.py declares the interface all
implement).

The backends are imported on first use, so that this module, which everything that
verifies imports, costs nothing: py-ecc takes 0.3 s to import and no verifier needs it
(the pure-Python backend imports it only to hash past the generator table), and the
light SDK (clearnode-client) has no native core.
"""

from __future__ import annotations

from typing import Any

from proofs.group import REFERENCE_NAME, Group

NATIVE_CORE = "clearnode_native"
"""The native core's module (native/): `make install` builds it, clearnode-client lacks it."""


def get_native() -> Group[Any] | None:
    """The native core's group, or None where it is not installed."""
    try:
        from proofs.native_group import FAST
    except ModuleNotFoundError as exc:
        if exc.name != NATIVE_CORE:
            raise
        return None
    return FAST


def get_reference() -> Group[Any]:
    """py-ecc's reference group (imported on first use)."""
    from proofs.pyecc_group import REFERENCE

    return REFERENCE


def get_pure_python() -> Group[Any]:
    """The pure-Python group: the fastest where the native core is not installed."""
    from proofs.pure_python_group import PURE_PYTHON

    return PURE_PYTHON


def get_backends() -> dict[str, Group[Any]]:
    """The backends this installation has by name, fastest first: the native core's
    when it is installed, the pure-Python one, then py-ecc's reference."""
    backends = [get_native(), get_pure_python(), get_reference()]
    return {group.name: group for group in backends if group is not None}


def get_backend_names() -> list[str]:
    """`get_backends()`'s names, without importing py-ecc."""
    native = get_native()
    return [*([] if native is None else [native.name]), get_pure_python().name, REFERENCE_NAME]


def get_backend(name: str) -> Group[Any]:
    native = get_native()
    if native is not None and name == native.name:
        return native
    if name == get_pure_python().name:
        return get_pure_python()
    if name == REFERENCE_NAME:
        return get_reference()
    raise ValueError(f"unknown group backend {name!r}; known here: {get_backend_names()}")


def get_fastest() -> Group[Any]:
    """The native core's group if installed, else the pure-Python one (the same
    verdicts)."""
    return get_native() or get_pure_python()

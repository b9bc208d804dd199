"""docs/sdk-reference.md is what the SDK's signatures and docstrings make
(clearnode/client/reference.py): a changed call, a new one or a docstring edited
without regenerating it fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

import clearnode.client as sdk
from clearnode.client.reference import (
    REGENERATE,
    MissingDocstring,
    get_documented_names,
    get_reference,
    render_entry,
)

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "sdk-reference.md"


def test_the_committed_reference_is_what_the_code_makes() -> None:
    assert COMMITTED.read_text() == get_reference(), f"regenerate it: {REGENERATE}"


def test_every_public_name_has_an_entry() -> None:
    assert set(sdk.__all__) - get_documented_names() == set()


def test_a_public_call_without_a_docstring_stops_the_generation() -> None:
    class Undocumented:
        """Documented itself."""

        def call(self) -> None:
            pass

    with pytest.raises(MissingDocstring, match=r"Undocumented\.call has no docstring"):
        render_entry(Undocumented, members=True)

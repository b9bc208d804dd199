"""The bridge's records on the wire: `[FORMAT_VERSION, fields...]`, declared
(records/declared.py, ``head=FORMAT_VERSION``) and packed by the one codec."""

from __future__ import annotations

from typing import Self

from records.codec import unpack
from records.declared import Declared

FORMAT_VERSION = 1


class Versioned(Declared):
    """A declared record sent alone: its fields, its head first, as one msgpack list."""

    __slots__ = ()

    @classmethod
    def decode(cls, data: bytes) -> Self:
        return cls.from_fields(unpack(data, cls.__name__))

"""Records declared once: a dataclass's annotated fields give its wire form and its checks.

A record is a frozen dataclass whose fields say what they are on the wire::

    @declare_record
    @dataclass(frozen=True, slots=True)
    class PayoutObservation(Declared):
        chain_id: ChainId
        vault: Annotated[bytes, Bytes(20)]
        log_index: Annotated[int, Int()]

``declare_record`` gives it ``to_fields()`` (its fields in declaration order, a msgpack list's
items) and ``from_fields(obj)`` (the list checked field by field with the codec's
``expect_*`` checks: a ``DecodeError`` naming the record, or the field and its bound,
with the numbers). A field whose type is itself a record is its list; a
``tuple[X, ...]`` of records is a list of them (``Items`` bounds its length); a field
may be ``Optional`` (nil or its kind); ``head`` puts a constant first (a format
version, a governance change's name), or several (a version and a message's kind),
checked before anything else. A field left
undeclared, or declared with another Python type, fails at import (``RecordError``).

Both methods are generated when the class is created, as dataclasses generates
``__init__``: each is the code one would write by hand, one ``expect_*`` call per
field with its bounds as constants, so a declared record encodes and decodes as fast as
a hand-written one (the trade path decodes thousands of trades per block).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol, Self, TypeVar, get_type_hints

from records.codec import (
    MAX_CONSENSUS_MESSAGE_BYTES,
    MAX_INT64,
    MAX_NAME_CHARS,
    MAX_UINT64,
    MIN_INT64,
    DecodeError,
    encode_big_int,
    expect_big_int,
    expect_bool,
    expect_bytes,
    expect_enum,
    expect_int,
    expect_list,
    expect_str,
    pack,
)

T = TypeVar("T", bound=type)
NO_HEAD = object()
MAX_ITEMS = 1_000_000
"""``expect_list``'s own cap (and msgpack's, ``MAX_LIST_LENGTH``, is lower)."""


class RecordError(TypeError):
    """A record class whose declaration is inconsistent (raised at import)."""

    def __init__(self, record: str, field: str, reason: str) -> None:
        super().__init__(f"{record}.{field}: {reason}")
        self.record, self.field, self.reason = record, field, reason


class Namespace:
    """The names a generated method's source refers to (checks, enums, nested records)."""

    def __init__(self) -> None:
        self.globals: dict[str, Any] = {
            "DecodeError": DecodeError,
            "expect_list": expect_list,
            "expect_int": expect_int,
            "expect_bytes": expect_bytes,
            "expect_str": expect_str,
            "expect_bool": expect_bool,
            "expect_enum": expect_enum,
        }

    def name(self, value: object) -> str:
        """A name bound to ``value`` in the generated code."""
        name = f"_v{len(self.globals)}"
        self.globals[name] = value
        return name


class FieldKind(Protocol):
    """What a field is on the wire: the source that decodes and encodes it."""

    @property
    def width(self) -> int:
        """How many of the record's wire fields it takes (1 unless spread)."""

    def check(self, hint: Any) -> str | None:
        """Why the field's Python type cannot be this kind (None: it can)."""

    def decode_source(self, ns: Namespace, value: str, what: str) -> str: ...

    def encode_source(self, ns: Namespace, value: str) -> str: ...

    def decode_spread(self, ns: Namespace, values: list[str], what: str) -> str:
        """The source reading the field from its ``width`` wire values."""

    def encode_spread(self, ns: Namespace, value: str) -> list[str]:
        """The sources of its ``width`` wire values."""


class Kind:
    """A kind whose value is written as it is, of ``python_type`` (None: any)."""

    __slots__ = ()
    python_type: ClassVar[type | None] = None
    width: ClassVar[int] = 1

    def check(self, hint: Any) -> str | None:
        expected = self.python_type
        if expected is None or hint is expected:
            return None
        name = getattr(hint, "__name__", hint)
        return f"declared {name}, but the wire kind is {expected.__name__}"

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        raise NotImplementedError  # a spread kind reads its values with decode_spread

    def encode_source(self, ns: Namespace, value: str) -> str:
        return value

    def decode_spread(self, ns: Namespace, values: list[str], what: str) -> str:
        return self.decode_source(ns, values[0], what)

    def encode_spread(self, ns: Namespace, value: str) -> list[str]:
        return [self.encode_source(ns, value)]


@dataclass(frozen=True, slots=True)
class Int(Kind):
    """An int in ``[lo, hi]`` (msgpack never carries more than 64 bits)."""

    lo: int = 0
    hi: int = MAX_UINT64
    python_type: ClassVar[type | None] = int

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        return f"expect_int({value}, {what!r}, {self.lo}, {self.hi})"


@dataclass(frozen=True, slots=True)
class Bytes(Kind):
    """Exactly ``length`` bytes if given, else at most ``max_length``."""

    length: int | None = None
    max_length: int = MAX_CONSENSUS_MESSAGE_BYTES
    python_type: ClassVar[type | None] = bytes

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        if self.length is None:
            return f"expect_bytes({value}, {what!r}, None, {self.max_length})"
        return f"expect_bytes({value}, {what!r}, {self.length})"


@dataclass(frozen=True, slots=True)
class Uint256AsBytes(Kind):
    """An int in ``[0, 2**256)`` written as its 32 big-endian bytes (an EVM uint256: an
    on-chain amount, a vault's nonce), where msgpack's ints stop at 64 bits."""

    python_type: ClassVar[type | None] = int

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        return f"int.from_bytes(expect_bytes({value}, {what!r}, 32))"

    def encode_source(self, ns: Namespace, value: str) -> str:
        return f"{value}.to_bytes(32)"


@dataclass(frozen=True, slots=True)
class BigInt(Kind):
    """An int of any size, at least ``lo`` if given: an int where msgpack holds one, past
    64 bits a sign byte and its magnitude (``encode_big_int``)."""

    lo: int | None = None
    python_type: ClassVar[type | None] = int

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        return f"{ns.name(expect_big_int)}({value}, {what!r}, {self.lo})"

    def encode_source(self, ns: Namespace, value: str) -> str:
        return f"{ns.name(encode_big_int)}({value})"


@dataclass(frozen=True, slots=True)
class Str(Kind):
    """A name: a string of 1 to ``max_length`` characters."""

    max_length: int = MAX_NAME_CHARS
    python_type: ClassVar[type | None] = str

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        return f"expect_str({value}, {what!r}, {self.max_length})"


@dataclass(frozen=True, slots=True)
class Flag(Kind):
    """A bool (msgpack true/false, never 0/1)."""

    python_type: ClassVar[type | None] = bool

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        return f"expect_bool({value}, {what!r})"


@dataclass(frozen=True, slots=True)
class Choice(Kind):
    """A ``StrEnum`` member, on the wire by its value; or an ``IntEnum`` member of
    consecutive values, on the wire as its int (``declare_record`` binds ``kind`` from the
    annotation)."""

    kind: type[StrEnum] | type[IntEnum] | None = None

    def check(self, hint: Any) -> str | None:
        if isinstance(hint, type) and issubclass(hint, StrEnum):
            return None
        if isinstance(hint, type) and issubclass(hint, IntEnum):
            values = sorted(hint)
            if values == list(range(values[0], values[-1] + 1)):
                return None
            return f"{hint.__name__}'s values are not consecutive"
        return f"declared {hint}, but a choice is a StrEnum or an IntEnum"

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        kind = self.kind
        assert kind is not None  # bound by declare_record
        if issubclass(kind, StrEnum):
            return f"expect_enum({ns.name(kind)}, {value}, {what!r})"
        # A member by its offset from the lowest: cheaper than the enum's own lookup.
        members = sorted(kind)
        lo, hi = int(members[0]), int(members[-1])
        return f"{ns.name(tuple(members))}[expect_int({value}, {what!r}, {lo}, {hi}) - {lo}]"

    def encode_source(self, ns: Namespace, value: str) -> str:
        if self.kind is not None and issubclass(self.kind, IntEnum):
            return f"{value}._value_"  # the plain int: an attribute, quicker than .value
        return f"{value}.value"


@dataclass(frozen=True, slots=True)
class Checked(Kind):
    """A value read by a check of its own, ``decode(obj, what)`` (raising ``DecodeError``),
    and written as ``encode(value)`` (None: as it is): a sorted price list, a JSON
    document, what no other kind says."""

    decode: Callable[[object, str], Any]
    encode: Callable[[Any], object] | None = None

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        return f"{ns.name(self.decode)}({value}, {what!r})"

    def encode_source(self, ns: Namespace, value: str) -> str:
        return value if self.encode is None else f"{ns.name(self.encode)}({value})"


@dataclass(frozen=True, slots=True)
class Spread(Kind):
    """A value written as ``count`` fields of its record, read by a check of its own,
    ``decode(values, what)`` of the list of them (raising ``DecodeError``), and written
    as the list ``encode(value)``: a validator set as its epoch, addresses and powers."""

    count: int
    decode: Callable[[list[Any], str], Any]
    encode: Callable[[Any], list[Any]]

    @property
    def width(self) -> int:  # type: ignore[override]
        return self.count

    def decode_spread(self, ns: Namespace, values: list[str], what: str) -> str:
        return f"{ns.name(self.decode)}([{', '.join(values)}], {what!r})"

    def encode_spread(self, ns: Namespace, value: str) -> list[str]:
        return [f"*{ns.name(self.encode)}({value})"]


@dataclass(frozen=True, slots=True)
class Inline(Kind):
    """A declared record whose fields are the parent's, in its place (an authorisation
    flattened into the message that carries it): read and written field by field, as if
    declared in the parent, each named ``field.inner``."""

    kind: type[Declared] | None = None

    @property
    def width(self) -> int:  # type: ignore[override]
        return sum(kind.width for _, kind in self.record.RECORD_FIELDS)

    @property
    def record(self) -> type[Declared]:
        assert self.kind is not None  # bound by declare_record
        return self.kind

    def check(self, hint: Any) -> str | None:
        return None if is_record(hint) else f"declared {hint}, but inline is a declared record"

    def decode_spread(self, ns: Namespace, values: list[str], what: str) -> str:
        args, at = [], 0
        for name, kind in self.record.RECORD_FIELDS:
            args.append(kind.decode_spread(ns, values[at : at + kind.width], f"{what}.{name}"))
            at += kind.width
        return f"{ns.name(self.record)}({', '.join(args)})"

    def encode_spread(self, ns: Namespace, value: str) -> list[str]:
        return [
            item
            for name, kind in self.record.RECORD_FIELDS
            for item in kind.encode_spread(ns, f"{value}.{name}")
        ]


@dataclass(frozen=True, slots=True)
class Nested(Kind):
    """A declared record, as its list (``declare_record`` infers it from the annotation)."""

    kind: type[Declared]

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        return f"{ns.name(self.kind.from_fields)}({value})"

    def encode_source(self, ns: Namespace, value: str) -> str:
        return f"{value}.to_fields()"


@dataclass(frozen=True, slots=True)
class Items(Kind):
    """A tuple of ``min_length`` to ``max_length`` items, each a declared record or of
    ``item`` (a list on the wire)."""

    min_length: int = 0
    max_length: int = MAX_ITEMS
    item: FieldKind | None = None

    def check(self, hint: Any) -> str | None:
        args: tuple[Any, ...] = getattr(hint, "__args__", ())
        if getattr(hint, "__origin__", None) is tuple and len(args) == 2 and args[1] is ...:
            return None
        return f"declared {hint}, but items are a tuple[X, ...]"

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        assert self.item is not None  # bound by declare_record
        checked = f"expect_list({value}, {what!r})"
        if (self.min_length, self.max_length) != (0, MAX_ITEMS):
            checked = f"{ns.name(self.check_length)}({checked}, {what!r})"
        return f"tuple([{self.item.decode_source(ns, '_x', what)} for _x in {checked}])"

    def encode_source(self, ns: Namespace, value: str) -> str:
        assert self.item is not None  # bound by declare_record
        item = self.item.encode_source(ns, "_x")
        return f"list({value})" if item == "_x" else f"[{item} for _x in {value}]"

    def check_length(self, items: list[Any], what: str) -> list[Any]:
        if not self.min_length <= len(items) <= self.max_length:
            bounds = f"[{self.min_length}, {self.max_length}]"
            raise DecodeError(what, f"{len(items)} {what} outside {bounds}")
        return items


@dataclass(frozen=True, slots=True)
class Optional(Kind):
    """Nil, or a value of ``kind`` (a ``X | None`` field)."""

    kind: FieldKind

    def check(self, hint: Any) -> str | None:
        args = getattr(hint, "__args__", ())
        if isinstance(hint, types.UnionType) and len(args) == 2 and type(None) in args:
            return self.kind.check(next(a for a in args if a is not type(None)))
        return f"declared {hint}, but an optional field is X | None"

    def decode_source(self, ns: Namespace, value: str, what: str) -> str:
        inner = self.kind.decode_source(ns, value, what)
        return f"(None if {value} is None else {inner})"

    def encode_source(self, ns: Namespace, value: str) -> str:
        inner = self.kind.encode_source(ns, value)
        return value if inner == value else f"(None if {value} is None else {inner})"


class Declared:
    """The base of a declared record: what ``declare_record`` writes into it, for type checkers."""

    __slots__ = ()
    RECORD_FIELDS: ClassVar[tuple[tuple[str, FieldKind], ...]]

    if TYPE_CHECKING:

        def to_fields(self) -> list[Any]: ...

        @classmethod
        def from_fields(cls, obj: object) -> Self: ...

    def encode(self) -> bytes:
        """The record sent alone: its fields as one msgpack list."""
        return pack(self.to_fields())


def write_fields(record: Declared) -> list[Any]:
    """A record as its fields: how ``Checked`` writes one of a family its check tells
    apart (a governance change of any kind)."""
    return record.to_fields()


def get_field_paths(record: type[Declared]) -> tuple[str, ...]:
    """What a refusal calls each of the record's wire fields, in their order (an inline
    record's fields as ``field.inner``)."""
    paths: list[str] = []
    for name, kind in record.RECORD_FIELDS:
        if isinstance(kind, Inline):
            paths.extend(f"{name}.{inner}" for inner in get_field_paths(kind.record))
        else:
            paths.extend([name] * kind.width)
    return tuple(paths)


def is_record(kind: object) -> bool:
    return isinstance(kind, type) and hasattr(kind, "RECORD_FIELDS")


def bind_kind(cls: type, name: str, hint: Any, kind: FieldKind) -> FieldKind:
    """``kind`` completed from the annotation (a choice's enum, a tuple's record items)."""
    if isinstance(kind, Choice):
        return Choice(hint)
    if isinstance(kind, Inline):
        return Inline(hint)
    if isinstance(kind, Items) and kind.item is None:
        item = hint.__args__[0]
        if not is_record(item):
            raise RecordError(cls.__name__, name, f"{item} is not a declared record")
        return dataclasses.replace(kind, item=Nested(item))
    return kind


def get_field_kind(cls: type, name: str, hint: Any) -> FieldKind:
    """The one kind annotating ``name`` (``Annotated[type, kind]``), or a nested record's."""
    if is_record(hint):
        return Nested(hint)
    declared: tuple[Any, ...] = getattr(hint, "__metadata__", ())
    if len(declared) != 1:
        raise RecordError(cls.__name__, name, "expected Annotated[type, kind] or a record")
    kind: FieldKind = declared[0]
    problem = kind.check(hint.__origin__)
    if problem is not None:
        raise RecordError(cls.__name__, name, problem)
    return bind_kind(cls, name, hint.__origin__, kind)


def read_fields(cls: type) -> tuple[tuple[str, FieldKind], ...]:
    hints = get_type_hints(cls, include_extras=True)
    return tuple(
        (f.name, get_field_kind(cls, f.name, hints[f.name]))
        for f in dataclasses.fields(cls)
        if f.init
    )


def compile_function(name: str, source: str, ns: Namespace) -> Callable[..., Any]:
    scope: dict[str, Any] = {}
    exec(compile(source, f"<record {name}>", "exec"), ns.globals, scope)
    return scope[name]  # type: ignore[no-any-return]


def make_to_fields(
    fields: tuple[tuple[str, FieldKind], ...], heads: tuple[object, ...]
) -> Callable[..., Any]:
    ns = Namespace()
    items = [ns.name(head) for head in heads]
    items += [item for name, kind in fields for item in kind.encode_spread(ns, f"self.{name}")]
    source = f"def to_fields(self):\n    return [{', '.join(items)}]\n"
    return compile_function("to_fields", source, ns)


def make_from_fields(
    record: str, fields: tuple[tuple[str, FieldKind], ...], heads: tuple[object, ...]
) -> Callable[..., Any]:
    """``from_fields(cls, obj)``: the list's length, the heads if any, then each field."""
    ns = Namespace()
    at = len(heads)
    args = []
    for name, kind in fields:
        args.append(kind.decode_spread(ns, [f"_f[{n}]" for n in range(at, at + kind.width)], name))
        at += kind.width
    lines = ["def from_fields(cls, obj):"]
    if not heads:
        lines.append(f"    _f = expect_list(obj, {record!r}, {at})")
    else:
        # One test on the way in; the refusal then says which check failed, the heads first.
        tests = [
            f"obj[{n}] != {ns.name(head)} or type(obj[{n}]) is not {ns.name(type(head))}"
            for n, head in enumerate(heads)
        ]
        lines += [
            f"    if type(obj) is not list or len(obj) != {at} or {' or '.join(tests)}:",
            f"        {ns.name(refuse_head)}({record!r}, obj, {ns.name(heads)}, {at})",
            "    _f = obj",
        ]
    lines.append(f"    return cls({', '.join(args)})")
    source = "\n".join(lines) + "\n"
    return classmethod(compile_function("from_fields", source, ns))  # type: ignore[return-value]


def refuse_head(record: str, obj: object, heads: tuple[object, ...], length: int) -> None:
    """The version (or name) first, then any other head, then the length: an older
    version is named as such even when it had other fields."""
    items = expect_list(obj, record)
    for n, head in enumerate(heads):
        got = items[n] if n < len(items) else None
        if got != head or type(got) is not type(head):
            word = "version " if n == 0 and type(head) is int else ""
            raise DecodeError(record, f"{word}{got!r} is not {head!r}")
    expect_list(items, record, length)


def declare_record(cls: T | None = None, /, *, head: object = NO_HEAD) -> Any:
    """Give the dataclass ``cls`` the ``to_fields`` and ``from_fields`` its declaration says
    (``head``: a constant written first and checked first, or a tuple of them: a version
    and a message's kind); ``RecordError`` at import if the declaration is inconsistent.
    Methods the class writes itself are kept."""
    heads = () if head is NO_HEAD else head if isinstance(head, tuple) else (head,)

    def declare(cls: T) -> T:
        if not dataclasses.is_dataclass(cls):
            raise RecordError(cls.__name__, "*", "apply @declare_record above @dataclass")
        fields = read_fields(cls)
        cls.RECORD_FIELDS = fields  # type: ignore[attr-defined]
        if "to_fields" not in cls.__dict__:
            cls.to_fields = make_to_fields(fields, heads)  # type: ignore[attr-defined]
        if "from_fields" not in cls.__dict__:
            cls.from_fields = make_from_fields(cls.__name__, fields, heads)  # type: ignore[attr-defined]
        return cls

    return declare if cls is None else declare(cls)


ChainId = Annotated[int, Int(1)]
Uint = Annotated[int, Int()]
Int64 = Annotated[int, Int(MIN_INT64, MAX_INT64)]
"""A signed amount (cash, a premium): what msgpack carries of a negative int."""
Address = Annotated[bytes, Bytes(20)]
Hash = Annotated[bytes, Bytes(32)]
PublicKey = Annotated[bytes, Bytes(32)]
"""An Ed25519 public key (a validator's, a venue's)."""
EdSignature = Annotated[bytes, Bytes(64)]
EvmSignature = Annotated[bytes, Bytes(65)]
"""An EVM key's signature, r || s || v."""
Uint256 = Annotated[int, Uint256AsBytes()]
Name = Annotated[str, Str()]

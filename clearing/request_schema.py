"""Member requests declared once: each field's type, wire bound and EIP-712 name and type.

A request is a frozen dataclass whose fields are annotated with what they are on the
wire and to the signer::

    @member_request
    @dataclass(frozen=True, slots=True)
    class RegisterBidder(SignedRequest):
        KIND: ClassVar[int] = 21
        member: Address
        registered: Bool
        expires_ms: ExpiresMs
        nonce: Nonce
        signature: Signature

From that one declaration come the msgpack fields in declaration order (``to_fields``),
their strict decoding (``from_fields``: each field's type and bound, ``DecodeError``
naming the field), the EIP-712 field list and ``signable(chain_id)``, whose message
names a field by its camelCase name unless it says ``signed_as``. ``member_request``
reads the declaration when the class is created, so a field left undeclared, declared
with another Python type, or with bounds its EIP-712 type cannot carry fails at import,
and so does a request without the fields every request carries (``REQUEST_FIELDS``: the
member, the expiry, the nonce, each of its one type; the signature last).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Self, TypeVar, get_type_hints

from clearing.collateral import MAX_SUB_ACCOUNT
from clearing.eip712 import SignableMessage, compute_signable, get_integer_range
from clearing.units import MAX_UINT64
from lightclient.codec import expect_bool, expect_bytes, expect_int, expect_list, expect_str


class SchemaError(TypeError):
    """A request class whose declaration is inconsistent (raised at import)."""

    def __init__(self, request: str, field: str, reason: str) -> None:
        super().__init__(f"{request}.{field}: {reason}")
        self.request, self.field, self.reason = request, field, reason


# Each field decodes itself with the codec's ``expect_*`` check, so a request's
# ``from_fields`` makes the calls a hand-written one would, with the same errors.


@dataclass(frozen=True, slots=True)
class Integer:
    """An int in ``[lo, hi]``, signed as ``eip712_type`` (``uintN``/``intN``, which must
    hold both bounds)."""

    eip712_type: str
    lo: int = 0
    hi: int = MAX_UINT64
    signed_as: str | None = None
    python_type: ClassVar[type] = int

    def check_declaration(self) -> str | None:
        carried = get_integer_range(self.eip712_type)
        if carried is None:
            return f"{self.eip712_type!r} is not an EIP-712 integer type"
        if not carried[0] <= self.lo <= self.hi <= carried[1]:
            return f"[{self.lo}, {self.hi}] does not fit {self.eip712_type}"
        return None

    def decode(self, obj: object, what: str) -> int:
        return expect_int(obj, what, self.lo, self.hi)

    def to_message(self, value: Any) -> object:
        return value


@dataclass(frozen=True, slots=True)
class FixedBytes:
    """Exactly ``length`` bytes, signed as ``eip712_type`` in 0x-hex (None: not signed,
    the signature itself)."""

    length: int
    eip712_type: str | None
    signed_as: str | None = None
    python_type: ClassVar[type] = bytes

    def check_declaration(self) -> str | None:
        if self.eip712_type == "address" and self.length != 20:
            return f"an address is 20 bytes, not {self.length}"
        return None

    def decode(self, obj: object, what: str) -> bytes:
        return expect_bytes(obj, what, self.length)

    def to_message(self, value: Any) -> object:
        return "0x" + bytes(value).hex()


@dataclass(frozen=True, slots=True)
class Text:
    """A string of 1 to ``max_length`` characters, signed as an EIP-712 ``string``."""

    max_length: int = 64
    signed_as: str | None = None
    eip712_type: ClassVar[str] = "string"
    python_type: ClassVar[type] = str

    def check_declaration(self) -> str | None:
        return None

    def decode(self, obj: object, what: str) -> str:
        return expect_str(obj, what, self.max_length)

    def to_message(self, value: Any) -> object:
        return value


@dataclass(frozen=True, slots=True)
class Flag:
    """A bool (msgpack true/false, never 0/1), signed as an EIP-712 ``bool``."""

    signed_as: str | None = None
    eip712_type: ClassVar[str] = "bool"
    python_type: ClassVar[type] = bool

    def check_declaration(self) -> str | None:
        return None

    def decode(self, obj: object, what: str) -> bool:
        return expect_bool(obj, what)

    def to_message(self, value: Any) -> object:
        return value


WireField = Integer | FixedBytes | Text | Flag

Address = Annotated[bytes, FixedBytes(20, "address")]
Nonce = Annotated[int, Integer("uint64")]
SubAccountNumber = Annotated[int, Integer("uint32", 0, MAX_SUB_ACCOUNT)]
Name = Annotated[str, Text()]
Bool = Annotated[bool, Flag()]
Signature = Annotated[bytes, FixedBytes(65, None)]
"""The member's 65-byte EIP-712 signature (r, s, v) of the other fields."""
ExpiresMs = Annotated[int, Integer("uint64")]
"""The last block time (ms) a request may be applied at (``check_expiry``,
clearing/replay_protection.py)."""

REQUEST_FIELDS: dict[str, Any] = {"member": Address, "expires_ms": ExpiresMs, "nonce": Nonce}
"""What every request declares, so: the member it binds, its expiry, its nonce."""


@dataclass(frozen=True, slots=True)
class RequestSchema:
    """What ``member_request`` reads from a request class."""

    primary_type: str
    fields: tuple[tuple[str, WireField], ...]  # in wire order
    signed: tuple[tuple[str, str, WireField], ...]  # (attribute, EIP-712 name, field)
    eip712_fields: list[dict[str, str]]


class SignedRequest:
    """A member request declared with ``member_request``, which reads its ``SCHEMA``."""

    __slots__ = ()
    KIND: ClassVar[int]
    SCHEMA: ClassVar[RequestSchema]

    if TYPE_CHECKING:  # declared by each request as REQUEST_FIELDS says
        member: bytes  # the signer: every request names the member it binds
        expires_ms: int
        nonce: int
        signature: bytes

        def __init__(self, *values: Any) -> None: ...

    def to_fields(self) -> list[object]:
        """The fields in declaration order, the signature last."""
        return [getattr(self, name) for name, _ in self.SCHEMA.fields]

    @classmethod
    def from_fields(cls, fields: list[Any]) -> Self:
        """Each field checked by its declaration: ``DecodeError`` names the first that is
        not of its type or outside its bound."""
        schema = cls.SCHEMA
        values = expect_list(fields, schema.primary_type, len(schema.fields))
        pairs = zip(schema.fields, values, strict=True)
        return cls(*(wire.decode(value, name) for (name, wire), value in pairs))

    def with_signature(self, signature: bytes) -> Self:
        """The same request, signed by ``signature`` (the last field)."""
        return type(self)(*self.to_fields()[:-1], signature)

    def get_message(self) -> dict[str, object]:
        """The EIP-712 message: every signed field by its EIP-712 name, bytes in 0x-hex."""
        return {
            name: wire.to_message(getattr(self, attribute))
            for attribute, name, wire in self.SCHEMA.signed
        }

    def signable(self, chain_id: int) -> SignableMessage:
        schema = self.SCHEMA
        return compute_signable(
            chain_id, schema.primary_type, schema.eip712_fields, self.get_message()
        )


R = TypeVar("R", bound=type[SignedRequest])


def to_camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def get_wire_field(cls: type, name: str, hint: Any) -> WireField:
    """The one ``WireField`` annotating ``name``, of the annotated Python type."""
    extras = getattr(hint, "__metadata__", ())
    declared = [e for e in extras if isinstance(e, WireField)]
    if len(declared) != 1:
        raise SchemaError(cls.__name__, name, "expected one wire field in Annotated[type, ...]")
    wire = declared[0]
    if hint.__origin__ is not wire.python_type:
        raise SchemaError(
            cls.__name__,
            name,
            f"declared {hint.__origin__.__name__}, but {type(wire).__name__} is "
            f"{wire.python_type.__name__}",
        )
    problem = wire.check_declaration()
    if problem is not None:
        raise SchemaError(cls.__name__, name, problem)
    return wire


def read_schema(cls: type) -> RequestSchema:
    hints = get_type_hints(cls, include_extras=True)
    for name, declared in REQUEST_FIELDS.items():
        if hints.get(name) != declared:
            raise SchemaError(cls.__name__, name, f"every request declares it as {declared}")
    fields = tuple(
        (f.name, get_wire_field(cls, f.name, hints[f.name])) for f in dataclasses.fields(cls)
    )
    *signed_fields, (last, signature) = fields
    for name, wire in signed_fields:
        if wire.eip712_type is None:
            raise SchemaError(cls.__name__, name, "only the last field, the signature, is unsigned")
    if signature.eip712_type is not None or not signed_fields:
        raise SchemaError(cls.__name__, last, "expected signed fields, then the signature")
    signed = tuple(
        (name, wire.signed_as or to_camel_case(name), wire) for name, wire in signed_fields
    )
    seen: set[str] = set()
    for attribute, signed_name, _ in signed:
        if signed_name in seen:
            raise SchemaError(cls.__name__, attribute, f"signed as {signed_name!r} twice")
        seen.add(signed_name)
    return RequestSchema(
        primary_type=cls.__name__,
        fields=fields,
        signed=signed,
        eip712_fields=[
            {"name": signed_name, "type": str(wire.eip712_type)} for _, signed_name, wire in signed
        ],
    )


def member_request(cls: R) -> R:
    """Read the declaration of the dataclass ``cls`` into its ``SCHEMA``, raising
    ``SchemaError`` at import if it is inconsistent."""
    if not dataclasses.is_dataclass(cls):
        raise SchemaError(cls.__name__, "*", "apply @member_request above @dataclass")
    cls.SCHEMA = read_schema(cls)
    return cls

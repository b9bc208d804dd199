"""Changes in plain named fields: what the API shows and what an operator's change file
(`clearnode gov propose --change FILE`) holds.

A change is ``{"kind": name, field: value, ...}``: bytes as 0x-hex, a genesis document
(an instrument entry, a risk section) as the object itself rather than its text. A kind
whose field names are not listed here is shown and read by position,
``{"kind": name, "fields": [...]}``."""

from __future__ import annotations

from typing import Any

from clearing.governance_changes import CHANGE_TYPES, Change, decode_change
from clearing.governance_documents import decode_document, encode_document
from records.codec import DecodeError
from records.declared import get_field_paths

FIELD_NAMES: dict[str, tuple[str, ...]] = {
    "list_instrument": ("instrument", "mark_price"),
    "replace_risk_params": ("risk",),
    "settle_perpetual": ("instrument", "price"),
    "set_instrument_status": ("instrument", "status"),
    "add_venue": ("venue", "pubkey"),
    "remove_venue": ("venue",),
    "add_external_bridge": ("bridge", "pubkey", "chains"),
    "remove_external_bridge": ("bridge",),
    "add_listing_template": ("template",),
    "remove_listing_template": ("template",),
    "set_funding": ("instrument", "funding_interval_ms", "funding_interest_ppm"),
    "set_fee": ("instrument", "fee_bps"),
    "set_fee_split": ("insurance_fund_bps",),
    "set_default_fund": ("cover", "stress_multiple", "assessment_cap_bps"),
    "set_collateral_haircut": ("chain_id", "token", "haircut_bps"),
    "add_validator": ("name", "pubkey", "power", "evm_address", "peer_id"),
    "remove_validator": ("pubkey",),
    "set_validator_power": ("pubkey", "power"),
    "rotate_validator_keys": ("pubkey", "new_pubkey", "new_evm_address"),
    "unjail_validator": ("pubkey",),
    "admit_clearing_member": ("member",),
    "remove_clearing_member": ("member",),
    "schedule_upgrade": ("name", "height", "version", "release_hash"),
    "cancel_upgrade": ("name",),
}
OPTIONAL = {("schedule_upgrade", "release_hash")}
"""Fields a change file may leave out: they are null."""
DOCUMENTS = {
    ("list_instrument", "instrument"),
    ("replace_risk_params", "risk"),
    ("add_listing_template", "template"),
}
HEX_FIELDS = {
    "pubkey", "evm_address", "new_pubkey", "new_evm_address", "token", "member", "release_hash",
}  # fmt: skip


def get_field_names(kind: str) -> tuple[str, ...] | None:
    return FIELD_NAMES.get(kind)


def to_plain(change: Change) -> dict[str, Any]:
    kind, *values = change.to_fields()
    assert isinstance(kind, str)
    names = FIELD_NAMES.get(kind)
    if names is None:
        return {"kind": kind, "fields": [_show(v) for v in values]}
    plain: dict[str, Any] = {"kind": kind}
    for name, value in zip(names, values, strict=True):
        document = (kind, name) in DOCUMENTS
        plain[name] = decode_document(value, name) if document else _show(value)
    return plain


def from_plain(obj: object) -> Change:
    """The change ``obj`` names; ``DecodeError`` naming the field that is wrong."""
    if not isinstance(obj, dict):
        raise DecodeError("change", "expected a table of named fields")
    kind = obj.get("kind")
    if not isinstance(kind, str) or kind not in CHANGE_TYPES:
        raise DecodeError("kind", f"{kind!r} is not one of {sorted(CHANGE_TYPES)}")
    names = FIELD_NAMES.get(kind, ("fields",))
    extra = sorted(set(obj) - {"kind", *names})
    if extra:
        raise DecodeError(extra[0], f"is not a field of {kind} (fields: {list(names)})")
    missing = [name for name in names if name not in obj and (kind, name) not in OPTIONAL]
    if missing:
        raise DecodeError(missing[0], f"missing: {kind} needs {list(names)}")
    if names == ("fields",):
        values = obj["fields"]
        if not isinstance(values, list):
            raise DecodeError("fields", "expected a list")
        return decode_change([kind, *values])
    values = [_read(kind, name, obj.get(name)) for name in names]
    try:
        return decode_change([kind, *values])
    except DecodeError as exc:
        raise DecodeError(get_plain_name(kind, exc.what), exc.reason) from None


def get_plain_name(kind: str, what: str) -> str:
    """The plain field a refusal of the change's record names: its field at the same
    place (`pubkey` for add_venue's `venue.pubkey`, `instrument` for `instrument_id`),
    with what follows it (`chains[1]`)."""
    names = FIELD_NAMES[kind]
    paths = get_field_paths(CHANGE_TYPES[kind])
    for path, name in zip(paths, names, strict=True):
        if what == path or what.startswith((f"{path}.", f"{path}[")):
            return name + what[len(path) :]
    return what


def _read(kind: str, name: str, value: object) -> object:
    if (kind, name) in DOCUMENTS:
        if not isinstance(value, dict):
            raise DecodeError(name, "expected a table (the genesis entry itself)")
        return encode_document(value)
    if value is None and (kind, name) in OPTIONAL:
        return None
    if name in HEX_FIELDS:
        if not isinstance(value, str) or not value.startswith("0x"):
            raise DecodeError(name, "expected 0x-hex")
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            raise DecodeError(name, "expected 0x-hex") from None
    return value


def _show(value: object) -> object:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list):
        return [_show(v) for v in value]
    return value

"""An instrument's and a listing template's entry in a genesis document, which a
governance change carries too: parsed and checked (``GenesisError`` naming the key),
and written back in the same form (the configuration a report carries,
clearing/governance/configuration.py).
"""

from __future__ import annotations

from clearing.errors import GenesisError
from clearing.genesis_reader import DocumentReader
from clearing.instruments import (
    DEFAULT_INTEREST_PPM,
    PPM,
    Instrument,
    InstrumentKind,
    OptionType,
    SettlementStyle,
)
from clearing.listing_template import (
    MAX_SERIES,
    MAX_STRIKES_EACH_SIDE,
    Cycle,
    ListingTemplate,
    StrikeLadder,
)
from clearing.units import BPS_DENOMINATOR

INSTRUMENT_KEYS = {
    "id", "kind", "underlying", "index_feed", "contract_size", "tick_size", "price_band_bps",
    "fee_bps", "settlement", "expiry_ms", "strike", "option_type", "funding_interval_ms",
    "funding_interest_ppm",
}  # fmt: skip


OPTIONAL_INSTRUMENT_KEYS = {
    "funding_interval_ms", "expiry_ms", "strike", "option_type",
}  # fmt: skip


def parse_instrument(item: object, path: str) -> Instrument:
    r = DocumentReader(item, path, INSTRUMENT_KEYS)
    kind = r.get_enum("kind", InstrumentKind)
    needs = {
        InstrumentKind.PERPETUAL: {"funding_interval_ms"},
        InstrumentKind.FUTURE: {"expiry_ms"},
        InstrumentKind.OPTION: {"expiry_ms", "strike", "option_type"},
    }[kind]
    for name in sorted(OPTIONAL_INSTRUMENT_KEYS):
        if (name in needs) != r.has(name):
            expected = "present" if name in needs else "absent"
            raise GenesisError(r.key(name), f"{expected} for a {kind.value}", r.obj.get(name))
    contract_size = r.get_str("contract_size")
    if not _is_positive_decimal(contract_size):
        raise GenesisError(r.key("contract_size"), "a positive decimal string", contract_size)
    return Instrument(
        id=r.get_str("id"),
        kind=kind,
        underlying=r.get_str("underlying"),
        index_feed=r.get_str("index_feed"),
        contract_size=contract_size,
        tick_size=r.get_int("tick_size", 1),
        price_band_bps=r.get_int("price_band_bps", 1, BPS_DENOMINATOR),
        fee_bps=r.get_int("fee_bps", 0, BPS_DENOMINATOR),
        settlement=r.get_enum("settlement", SettlementStyle),
        expiry_ms=r.get_int("expiry_ms") if "expiry_ms" in needs else None,
        strike=r.get_int("strike", 1) if "strike" in needs else None,
        option_type=r.get_enum("option_type", OptionType) if "option_type" in needs else None,
        funding_interval_ms=r.get_int("funding_interval_ms", 1)
        if "funding_interval_ms" in needs
        else None,
        funding_interest_ppm=_parse_funding_interest(r, kind),
    )


def get_instrument_doc(instrument: Instrument) -> dict[str, object]:
    """The genesis entry ``parse_instrument`` reads back as ``instrument``."""
    doc: dict[str, object] = {
        "id": instrument.id,
        "kind": instrument.kind.value,
        "underlying": instrument.underlying,
        "index_feed": instrument.index_feed,
        "contract_size": instrument.contract_size,
        "tick_size": instrument.tick_size,
        "price_band_bps": instrument.price_band_bps,
        "fee_bps": instrument.fee_bps,
        "settlement": instrument.settlement.value,
    }
    optional = {
        "expiry_ms": instrument.expiry_ms,
        "strike": instrument.strike,
        "option_type": None if instrument.option_type is None else instrument.option_type.value,
        "funding_interval_ms": instrument.funding_interval_ms,
        "funding_interest_ppm": instrument.funding_interest_ppm,
    }
    doc.update((k, v) for k, v in optional.items() if v is not None)
    return doc


TEMPLATE_KEYS = {"id", "prefix", "cycle", "first_expiry_ms", "period_ms", "series", "future",
                 "ladder"}  # fmt: skip
PERIODIC_KEYS = ("first_expiry_ms", "period_ms")
SERIES_TERMS = ("underlying", "index_feed", "contract_size", "tick_size", "price_band_bps",
                "fee_bps", "settlement")  # fmt: skip
LADDER_KEYS = {"strikes_each_side", "spacing", "strike_unit", "tick_size", "price_band_bps",
               "fee_bps", "settlement"}  # fmt: skip


def parse_listing_template(item: object, path: str) -> ListingTemplate:
    """A ``listing_templates`` entry: the future's terms are an instrument entry's but
    ``id``, ``kind`` and ``expiry_ms`` (derived), validated as one; expiries of a
    periodic cycle fall on whole seconds (series ids name them to the second)."""
    r = DocumentReader(item, path, TEMPLATE_KEYS)
    template_id, prefix = r.get_str("id"), r.get_str("prefix")
    cycle = r.get_enum("cycle", Cycle)
    for name in PERIODIC_KEYS:
        if (cycle is Cycle.PERIODIC) != r.has(name):
            expected = "present" if cycle is Cycle.PERIODIC else "absent"
            got = r.obj.get(name)
            raise GenesisError(r.key(name), f"{expected} for a {cycle.value} cycle", got)
    first_expiry_ms = period_ms = 0
    if cycle is Cycle.PERIODIC:
        first_expiry_ms, period_ms = r.get_int("first_expiry_ms"), r.get_int("period_ms", 1000)
        for name, value in (("first_expiry_ms", first_expiry_ms), ("period_ms", period_ms)):
            if value % 1000:
                raise GenesisError(r.key(name), "a whole number of seconds", value)
    terms = DocumentReader(r.get_raw("future"), r.key("future"), set(SERIES_TERMS))
    future = parse_instrument(
        {**terms.obj, "id": prefix, "kind": "future", "expiry_ms": 0}, r.key("future")
    )
    ladder = (
        _parse_strike_ladder(
            DocumentReader(r.get_raw("ladder"), r.key("ladder"), LADDER_KEYS), future
        )
        if r.has("ladder")
        else None
    )
    return ListingTemplate(
        template_id, prefix, future, cycle, first_expiry_ms, period_ms,
        r.get_int("series", 1, MAX_SERIES), ladder,
    )  # fmt: skip


def _parse_strike_ladder(r: DocumentReader, future: Instrument) -> StrikeLadder:
    strike_unit = r.get_int("strike_unit", 1)
    spacing = r.get_int("spacing", 1)
    if spacing % strike_unit:
        raise GenesisError(r.key("spacing"), f"a multiple of strike_unit {strike_unit}", spacing)
    terms: dict[str, object] = {
        k: r.obj[k] for k in ("tick_size", "price_band_bps", "fee_bps", "settlement") if k in r.obj
    }
    option = parse_instrument(
        {
            **terms, "id": future.id, "kind": "option", "underlying": future.id,
            "index_feed": future.index_feed, "contract_size": future.contract_size,
            "expiry_ms": 0, "strike": strike_unit, "option_type": "call",
        },
        r.path,
    )  # fmt: skip
    return StrikeLadder(
        r.get_int("strikes_each_side", 0, MAX_STRIKES_EACH_SIDE), spacing, strike_unit, option
    )


def get_listing_template_doc(template: ListingTemplate) -> dict[str, object]:
    """The ``listing_templates`` entry ``parse_listing_template`` reads back as ``template``."""
    future = get_instrument_doc(template.future)
    doc: dict[str, object] = {
        "id": template.id,
        "prefix": template.prefix,
        "cycle": template.cycle.value,
        "series": template.series,
        "future": {k: future[k] for k in SERIES_TERMS},
    }
    if template.cycle is Cycle.PERIODIC:
        doc.update(first_expiry_ms=template.first_expiry_ms, period_ms=template.period_ms)
    if template.ladder is not None:
        option = get_instrument_doc(template.ladder.option)
        doc["ladder"] = {
            "strikes_each_side": template.ladder.strikes_each_side,
            "spacing": template.ladder.spacing,
            "strike_unit": template.ladder.strike_unit,
            **{k: option[k] for k in ("tick_size", "price_band_bps", "fee_bps", "settlement")},
        }
    return doc


def _parse_funding_interest(r: DocumentReader, kind: InstrumentKind) -> int | None:
    """A perpetual's interest component per 8 hours (default 0.01%); None for other kinds."""
    name = "funding_interest_ppm"
    if kind is not InstrumentKind.PERPETUAL:
        if r.has(name):
            raise GenesisError(r.key(name), f"absent for a {kind.value}", r.obj.get(name))
        return None
    return r.get_int(name, -PPM, PPM) if r.has(name) else DEFAULT_INTEREST_PPM


def _is_positive_decimal(text: str) -> bool:
    whole, _, frac = text.partition(".")
    digits = whole + frac
    return (
        digits.isdigit()
        and whole.isdigit()
        and (frac == "" or frac.isdigit())
        and (int(digits) > 0)
    )

from collections.abc import Callable
from typing import Any

import pytest

from clearing.assets import MAX_VAULT_QUANTA, get_min_quantum
from clearing.errors import GenesisError
from clearing.genesis import (
    DEFAULT_MIN_PUBLIC_CONTRIBUTORS,
    DEFAULT_WITHDRAWAL_TTL_S,
    parse_external_bridge,
    parse_genesis,
)
from clearing.governance.configuration import encode_configuration
from clearing.instruments import InstrumentKind, OptionType
from clearing.risk.engine import compute_risk_setup
from clearing.state import initialize_state
from clearing.transition.root import compute_state_root
from tests.clearing.support import genesis_doc


def test_example_genesis_parses_into_typed_records() -> None:
    g = parse_genesis(genesis_doc())
    assert g.chain_id == 4242
    assert [i.kind for i in g.instruments] == [
        InstrumentKind.PERPETUAL,
        InstrumentKind.PERPETUAL,
        InstrumentKind.FUTURE,
        InstrumentKind.OPTION,
    ]
    option = g.instruments[3]
    assert option.option_type is OptionType.CALL and option.strike == 65_000_000
    assert g.instruments[0].funding_interval_ms == 3_600_000 and g.instruments[0].expiry_ms is None
    assert (
        g.instruments[0].funding_interest_ppm == 100
        and g.instruments[2].funding_interest_ppm is None
    )
    assert sum(v.power for v in g.validators) == 40
    assert g.collateral[1].quantum == 10**12
    setup = compute_risk_setup(g)  # the example margins: a copy of it gets a margined network
    assert setup is not None and setup.params.k_num * 2 == setup.params.k_den


def _set(path: list[Any], value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return mutate


CASES = [
    (_delete(["chain_id"]), "chain_id", "present"),
    (_set(["version"], 2), "version", "1"),
    (_set(["chain_id"], "4242"), "chain_id", "an integer in [1, 18446744073709551615]"),
    (_set(["chain_id"], True), "chain_id", "an integer in [1, 18446744073709551615]"),
    (_set(["typo"], 1), "typo", "one of"),
    (_set(["collateral", 0, "token"], "0x12"), "collateral[0].token", "0x-hex of 20 bytes"),
    (_set(["collateral", 0, "haircut_bps"], 10_000), "collateral[0].haircut_bps", "an integer"),
    (_set(["collateral", 0, "quantum"], 0), "collateral[0].quantum", "an integer"),
    # 1 wei of an 18-decimal token: 2^64-1 quanta are 18 tokens, and the 19th stops clearing
    (_set(["collateral", 1, "quantum"], 1), "collateral[1].quantum", "at least 54210109"),
    (_set(["instruments", 0, "kind"], "swap"), "instruments[0].kind", "one of"),
    (
        _delete(["instruments", 0, "funding_interval_ms"]),
        "instruments[0].funding_interval_ms",
        "present",
    ),
    (_set(["instruments", 0, "funding_cap_bps"], 75), "instruments[0].funding_cap_bps", "one of"),
    (
        _set(["instruments", 0, "funding_interest_ppm"], 1_000_001),
        "instruments[0].funding_interest_ppm",
        "an integer in [-1000000, 1000000]",
    ),
    (
        _set(["instruments", 0, "funding_interest_ppm"], 1.5),
        "instruments[0].funding_interest_ppm",
        "an integer",
    ),
    (
        _set(["instruments", 2, "funding_interest_ppm"], 100),
        "instruments[2].funding_interest_ppm",
        "absent for a future",
    ),
    (_set(["instruments", 2, "strike"], 5), "instruments[2].strike", "absent for a future"),
    (_set(["instruments", 0, "contract_size"], "1e-3"), "instruments[0].contract_size", "decimal"),
    (_set(["instruments", 3, "underlying"], "BTC-PERP"), "instruments[3].underlying", "future"),
    (_set(["instruments", 1, "id"], "BTC-PERP"), "instruments[1]", "a unique id"),
    (_set(["validators"], []), "validators", "1 to 1000 validators"),
    (
        lambda doc: doc["validators"][2].update(evm_address=doc["validators"][0]["evm_address"]),
        "validators[2]",
        "a unique evm_address",
    ),
    # CometBFT refuses a set of more power: the chain could not start on it
    (_set(["validators", 1, "power"], 2**60 - 10), "validators", "a total power of at most"),
    (_set(["validators", 0, "pubkey"], "583703"), "validators[0].pubkey", "0x-hex of 32 bytes"),
    (_set(["validators", 0, "pubkey"], "0x" + "zz" * 32), "validators[0].pubkey", "0x-hex of 32"),
    (_set(["clearing_members"], ["0x12"]), "clearing_members[0]", "0x-hex of 20 bytes"),
    (_set(["clearing_members"], [20]), "clearing_members[0]", "0x-hex of 20 bytes"),
    (_set(["validators", 1, "power"], 0), "validators[1].power", "an integer"),
    (_set(["venues", 0], "alpha"), "venues[0]", "an object"),
    # no longer than the records a snapshot and a governance change decode them with
    (_set(["venues", 0, "id"], "v" * 65), "venues[0].id", "at most 64 characters"),
    (_set(["validators", 0, "name"], "n" * 257), "validators[0].name", "at most 256"),
    (_set(["validators", 0, "peer_id"], "p" * 257), "validators[0].peer_id", "at most 256"),
    (_set(["oracle", "max_move_bps"], 0), "oracle.max_move_bps", "an integer"),
    (_set(["index_prices", "DOGE"], 1), "index_prices.DOGE", "one of"),
    (_set(["index_prices", "ETH/0.01"], 0), "index_prices.ETH/0.01", "a positive integer"),
    (_set(["mark_prices", "NOPE"], 1), "mark_prices.NOPE", "one of"),
    (_delete(["mark_prices", "ETH-PERP"]), "mark_prices.ETH-PERP", "a starting price"),
    (_delete(["index_prices", "ETH/quantum"]), "index_prices.ETH/quantum", "a starting price"),
    (_set(["risk"], []), "risk", "an object"),
    (_set(["instruments"], {}), "instruments", "a list"),
    (_set(["withdrawal_ttl_s"], 0), "withdrawal_ttl_s", "an integer in [1, 31536000]"),
    (_set(["withdrawal_ttl_s"], "1d"), "withdrawal_ttl_s", "an integer in [1, 31536000]"),
    (_set(["withdrawal_ttl_s"], 366 * 86400), "withdrawal_ttl_s", "an integer in [1, 31536000]"),
    (
        _set(["settled_instrument_retention_ms"], -1),
        "settled_instrument_retention_ms",
        "an integer in [0, 18446744073709551615]",
    ),
    # an aggregate of one member is its figure: no network may publish that
    (_set(["min_public_contributors"], 1), "min_public_contributors", "an integer in [2, 1000]"),
    # a genesis figure would be cash no vault holds: the fund is seeded by a deposit
    (_set(["insurance_fund"], 10**12), "insurance_fund", "depositing the settlement token"),
    (_set(["insurance_fund"], False), "insurance_fund", "0 (seed the fund"),
]


@pytest.mark.parametrize(("mutate", "key", "expected"), CASES)
def test_bad_genesis_names_the_key_and_expectation(
    mutate: Callable[[dict[str, Any]], None], key: str, expected: str
) -> None:
    doc = genesis_doc()
    mutate(doc)
    with pytest.raises(GenesisError) as info:
        parse_genesis(doc)
    assert info.value.key == key
    assert expected in info.value.expected
    assert key in str(info.value)


def test_comment_keys_are_ignored() -> None:
    doc = genesis_doc()
    doc["instruments"][0]["_note"] = "hello"
    assert parse_genesis(doc).instruments[0].id == "BTC-PERP"


def test_funding_interest_defaults_to_one_basis_point_per_8_hours() -> None:
    doc = genesis_doc()
    del doc["instruments"][0]["funding_interest_ppm"]
    doc["instruments"][1]["funding_interest_ppm"] = -50
    perps = parse_genesis(doc).instruments[:2]
    assert [i.funding_interest_ppm for i in perps] == [100, -50]


def test_root_must_be_an_object() -> None:
    with pytest.raises(GenesisError, match="<root>"):
        parse_genesis([])


def test_withdrawal_ttl_is_optional() -> None:
    doc = genesis_doc()
    doc.pop("withdrawal_ttl_s", None)
    assert parse_genesis(doc).withdrawal_ttl_s == DEFAULT_WITHDRAWAL_TTL_S == 7 * 24 * 3600
    doc["withdrawal_ttl_s"] = 60
    assert parse_genesis(doc).withdrawal_ttl_s == 60


def test_the_settled_instrument_retention_is_optional() -> None:
    doc = genesis_doc()
    assert parse_genesis(doc).settled_instrument_retention_ms == 7 * 24 * 3_600_000
    doc["settled_instrument_retention_ms"] = 0
    assert parse_genesis(doc).settled_instrument_retention_ms == 0


def test_min_public_contributors_is_optional_and_outside_the_configuration() -> None:
    """A public views' policy, not a clearing rule: the state root does not commit to it."""
    doc = genesis_doc()
    assert parse_genesis(doc).min_public_contributors == DEFAULT_MIN_PUBLIC_CONTRIBUTORS == 3
    doc["min_public_contributors"] = 5
    genesis = parse_genesis(doc)
    assert genesis.min_public_contributors == 5
    assert encode_configuration(genesis) == encode_configuration(parse_genesis(genesis_doc()))


def test_the_engine_is_ours_unless_set_and_outside_the_state_root() -> None:
    """A network runs one engine; the same blocks give the same root on either."""
    doc = genesis_doc()
    assert parse_genesis(doc).engine == "clearnode"
    doc["engine"] = "cometbft"
    assert parse_genesis(doc).engine == "cometbft"
    root = compute_state_root(initialize_state(parse_genesis(doc)))
    assert root == compute_state_root(initialize_state(parse_genesis(genesis_doc())))
    doc["engine"] = "tendermint"
    with pytest.raises(GenesisError) as refused:
        parse_genesis(doc)
    assert (refused.value.key, refused.value.got) == ("engine", "tendermint")


def test_the_insurance_fund_starts_empty_and_may_say_so() -> None:
    doc = genesis_doc()
    assert "insurance_fund" not in doc
    doc["insurance_fund"] = 0
    assert initialize_state(parse_genesis(doc)).insurance_fund == 0


def test_an_external_bridge_id_is_no_longer_than_its_snapshot_record_holds() -> None:
    bridge = {"id": "b" * 64, "pubkey": "0x" + "11" * 32, "chains": [2, 1]}
    assert parse_external_bridge(bridge, "external_bridges[0]").chains == (1, 2)
    with pytest.raises(GenesisError) as info:
        parse_external_bridge({**bridge, "id": "b" * 65}, "external_bridges[0]")
    assert (info.value.key, info.value.got) == ("external_bridges[0].id", 65)


def test_the_finest_quantum_lets_a_vault_hold_a_billion_tokens() -> None:
    doc = genesis_doc()
    doc["collateral"][1]["quantum"] = get_min_quantum(18)
    assert parse_genesis(doc).collateral[1].quantum * MAX_VAULT_QUANTA >= 10**9 * 10**18
    assert (get_min_quantum(6), get_min_quantum(8)) == (1, 1)  # USDC, WBTC: any quantum

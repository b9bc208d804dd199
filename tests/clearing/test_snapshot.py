import pytest

from clearing.governance.configuration import CONFIGURATION_FIELDS
from clearing.transition.root import (
    ACCOUNT_VERSION,
    compute_state_root,
    compute_state_root_from_scratch,
)
from clearing.transition.snapshot import decode_member, decode_snapshot, encode_snapshot
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.validator_set import VALIDATOR_FIELDS
from clearnode.client.sandbox_keys import derive_ed25519_key
from devnet.sandbox import Sandbox
from records.codec import DecodeError, pack, unpack
from tests.clearing.support import ALICE, BOB, USDC, WETH, new_sandbox, snapshot


def _busy() -> Sandbox:
    box = new_sandbox()
    box.apply(
        [
            box.credit(ALICE.address, USDC, 10**12),
            box.credit(BOB.address, WETH, 10**7, sub_account=2),
            box.authorise(ALICE, "alpha"),
            box.authorise(BOB, "alpha"),
        ]
    )
    trade = Trade(1, "BTC-PERP", ALICE.address, 0, BOB.address, 2, 60_000_000, 3)
    venue = derive_ed25519_key("venue-alpha")
    box.apply([sign_trade_batch(venue, box.chain_id, "alpha", 1, (trade,), *box.get_times())])
    box.apply([box.prices({"BTC/0.001": 61_000_000}, {"BTC-PERP": 60_500_000})])
    box.apply([box.withdraw(ALICE, USDC, 5)])
    return box


def test_snapshot_restores_the_same_state_and_root() -> None:
    box = _busy()
    root = compute_state_root(box.state)
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert compute_state_root(restored) == root == compute_state_root_from_scratch(restored)
    assert snapshot(restored) == snapshot(box.state)
    assert restored.members[BOB.address].sub_accounts[2].positions["BTC-PERP"].quantity == -3


def test_a_restored_node_continues_in_lockstep() -> None:
    box = _busy()
    twin = Sandbox(
        box.genesis, decode_snapshot(box.genesis, encode_snapshot(box.state)), box.validator_keys
    )
    txs = [
        box.prices({"BTC/0.001": 62_000_000}, {"BTC-PERP": 62_000_000}),
        box.transfer(ALICE, 0, 1, 1, USDC),
    ]
    assert box.apply(txs) == twin.apply(txs)


def test_account_bytes_decode_to_the_member() -> None:
    box = _busy()
    member = box.state.members[ALICE.address]
    from clearing.transition.root import encode_account

    assert decode_member(encode_account(member)) == member


# the snapshot's globals: what each vault holds, then the configuration; the validator
# fields end with the newest observation applied
_VAULT_QUANTA = 19
_LAST_OBSERVED = _VAULT_QUANTA + 1 + CONFIGURATION_FIELDS + VALIDATOR_FIELDS - 1


def _tampered(mutate: object) -> bytes:
    box = _busy()
    fields = unpack(encode_snapshot(box.state), "test")
    mutate(fields)  # type: ignore[operator]
    return pack(fields)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda f: f.__setitem__(0, 1), "version 1"),  # the unbounded format
        (lambda f: f[1].__setitem__(0, 1), "chain id 1"),
        (lambda f: f[1].__setitem__(3, "x"), "integer"),
        (lambda f: f[2].append(["alpha"]), "expected 3 fields"),
        (lambda f: f[2][0].__setitem__(2, b"\x01"), "expected 131072 bytes"),  # not the window
        (lambda f: f[3][0][3].append(f[3][0][2] + 1), "outside"),  # no gap below it
        (lambda f: f[3][0][3].extend([9, 9]), "outside"),  # not increasing
        (lambda f: f[4].append(5), "must be bytes"),
        (
            lambda f: f[4].append(
                pack([ACCOUNT_VERSION, b"\x00" * 19, [], [], [], 0, 0, 0, False])
            ),
            "20 bytes",
        ),
        (lambda f: f[4].append(pack([9, b"\x00" * 20, [], [], [], 0, 0])), "version 9"),
        (lambda f: f[1][_LAST_OBSERVED].append([b"\x07" * 32, 1]), "is not a validator"),
        (lambda f: f[1][_VAULT_QUANTA][0].__setitem__(2, 0), "quanta"),  # zero is left out
        (lambda f: f[1][_VAULT_QUANTA - 1].append([1, bytes(20), -1]), "below 0"),  # paid
    ],
)
def test_bad_snapshots_are_decode_errors(mutate: object, reason: str) -> None:
    box = new_sandbox()
    with pytest.raises(DecodeError, match=reason):
        decode_snapshot(box.genesis, _tampered(mutate))


def test_a_cumulative_funding_index_beyond_64_bits_encodes_and_restores() -> None:
    box = _busy()
    box.state.funding_indices["BTC-PERP"] = 2**70
    position = box.state.members[BOB.address].sub_accounts[2].positions["BTC-PERP"]
    position.funding_index = -(2**70)
    box.state.dirty.add(BOB.address)
    root = compute_state_root(box.state)
    restored = decode_snapshot(box.genesis, encode_snapshot(box.state))
    assert compute_state_root(restored) == root
    assert restored.members[BOB.address].sub_accounts[2].positions["BTC-PERP"].funding_index == -(
        2**70
    )

"""Value conservation across credits, transfers and withdrawals (trading's
properties live in test_properties_trading.py).

For every token: quanta held by all sub-accounts + quanta withdrawn == quanta
credited == what the state keeps as the vault's, never past MAX_VAULT_QUANTA (a
deposit beyond it is consumed uncredited). Total cash never changes (transfers
move it, nothing else here creates it). The incremental state root equals one
rebuilt from scratch. A rejected transaction changes nothing, so the invariant
holds whatever mix of valid and invalid requests a block carries.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.assets import MAX_VAULT_QUANTA
from clearing.collateral import count_vault_quanta, get_collateral_quanta, get_credited_quanta
from clearing.state import get_sub_account_for_write
from clearing.transition.root import compute_state_root_from_scratch
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox
from tests.clearing.support import USDC, WETH, get_cash_supply, new_sandbox

MEMBERS = [derive_member_key(name) for name in ("p", "q", "r")]
TOKENS = [USDC, WETH]
SETTLEMENT_TOKENS = [USDC]

member = st.integers(0, len(MEMBERS) - 1)
sub = st.integers(0, 2)
token = st.integers(0, len(TOKENS) - 1)
amount = st.integers(1, 2_000)
ops = st.one_of(
    st.tuples(st.just("credit"), member, sub, token, amount),
    # near a vault's room: credited until the token's total would pass MAX_VAULT_QUANTA
    st.tuples(
        st.just("credit"), member, sub, token, st.integers(MAX_VAULT_QUANTA // 3, MAX_VAULT_QUANTA)
    ),
    st.tuples(st.just("transfer"), member, sub, sub, st.integers(-1, 1), amount),
    st.tuples(st.just("withdraw"), member, sub, token, amount),
)


def _build(box: Sandbox, op: tuple) -> object:  # type: ignore[type-arg]
    kind, m, *rest = op
    key = MEMBERS[m]
    if kind == "credit":
        s, t, q = rest
        return box.credit(key.address, TOKENS[t], q, sub_account=s)
    if kind == "transfer":
        a, b, t, q = rest
        return box.transfer(key, a, b, q, (0, bytes(20)) if t < 0 else TOKENS[t])
    s, t, q = rest
    return box.withdraw(key, TOKENS[t], q, sub_account=s)


def _held(box: Sandbox, key: tuple[int, bytes]) -> int:
    return sum(
        account.collateral.get(key, 0)
        for m in box.state.members.values()
        for account in m.sub_accounts.values()
    )


@settings(max_examples=40)
@given(st.lists(ops, max_size=12), st.integers(-3_000, 3_000))
def test_value_is_conserved(operations: list[tuple], cash_shift: int) -> None:  # type: ignore[type-arg]
    box = new_sandbox()
    for n, key in enumerate(MEMBERS):  # some cash to move, summing to zero
        get_sub_account_for_write(box.state, key.address, 0).cash = (n - 1) * cash_shift
    block = box.apply([_build(box, op) for op in operations])
    credited = {t: 0 for t in TOKENS}
    for result in block.tx_results:
        for event in result.events:
            if event.kind == "collateral_credited":
                credited[(event.get("chain_id"), event.get("token"))] += event.get("quanta")  # type: ignore[index, operator]
    for t in TOKENS:
        withdrawn = sum(
            r.quanta for r in box.state.pending_withdrawals.values() if (r.chain_id, r.token) == t
        )
        reserve = box.state.settlement_reserves.get(t[0], 0) if t in SETTLEMENT_TOKENS else 0
        assert _held(box, t) + withdrawn + reserve == credited[t]  # what the vault holds
    assert box.state.vault_quanta == count_vault_quanta(box.state)
    assert get_credited_quanta(box.state) == get_collateral_quanta(box.state)
    assert all(q <= MAX_VAULT_QUANTA for q in box.state.vault_quanta.values())
    assert block.state_root == compute_state_root_from_scratch(box.state)
    assert get_cash_supply(box.state) == 0
    assert all(
        c >= 0
        for m in box.state.members.values()
        for a in m.sub_accounts.values()
        for c in a.collateral.values()
    )

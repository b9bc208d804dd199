"""A fixed script of ledger blocks; prints one state root per block.

Run in-process and as ``python -m tests.clearing.scenario`` under another
PYTHONHASHSEED: the roots must be identical (no dict/set order, clock or
randomness leaks into state)."""

from __future__ import annotations

from clearing.sandbox import derive_member_key
from clearing.state import get_sub_account_for_write
from tests.clearing.support import USDC, USDC_B, WETH, new_sandbox


def compute_scenario_roots() -> list[str]:
    box = new_sandbox()
    members = [derive_member_key(f"m{n}") for n in range(6)]
    roots = []
    block = box.apply(
        [
            box.credit(m.address, (USDC, WETH, USDC_B)[n % 3], 1_000 + n)
            for n, m in enumerate(members)
        ]
        + [box.authorise(m, "alpha") for m in members]
    )
    roots.append(block.state_root.hex())
    for n, m in enumerate(members):  # stand-in for trading PnL until trades are wired in
        get_sub_account_for_write(box.state, m.address, 0).cash = (n - 2) * 1_000
    block = box.apply(
        [box.transfer(m, 0, 1 + n % 2, 10 * (n + 1)) for n, m in enumerate(members[2:])]
        + [box.prices({"BTC/0.001": 61_000_000, "ETH/quantum": 3_100}, {"BTC-PERP": 61_000_000})]
    )
    roots.append(block.state_root.hex())
    block = box.apply(
        [box.withdraw(m, (USDC, WETH, USDC_B)[n % 3], 7) for n, m in enumerate(members)]
    )
    roots.append(block.state_root.hex())
    return roots


if __name__ == "__main__":
    print("\n".join(compute_scenario_roots()))

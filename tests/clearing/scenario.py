"""A fixed script of ledger blocks; prints one state root per block.

Ends with a governance proposal and its ballots (an emergency halt). Run in-process
and as ``python -m tests.clearing.scenario`` under another PYTHONHASHSEED: the roots
must be identical (no dict/set order, clock or randomness leaks into state)."""

from __future__ import annotations

from clearing.governance.submit import sign_proposal
from clearing.governance.vote import sign_vote
from clearing.governance_changes import SetInstrumentStatus
from clearing.governance_proposal import VoteChoice
from clearing.instruments import InstrumentStatus
from clearing.transition.trade import Trade, sign_trade_batch
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
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
    trades = tuple(
        Trade(n, ("BTC-PERP", "ETH-PERP")[n % 2], a.address, 0, b.address, n % 2, price, n + 1)
        for n, (a, b, price) in enumerate(
            zip(members, members[1:] + members[:1], [60_000_000, 30_000_000] * 3, strict=True)
        )
    )
    venue = derive_ed25519_key("venue-alpha")
    block = box.apply([sign_trade_batch(venue, box.chain_id, "alpha", 1, trades, *box.get_times())])
    roots.append(block.state_root.hex())
    block = box.apply(
        [
            box.transfer(m, 0, 1 + n % 2, 10 * (n + 1), (USDC, WETH, USDC_B)[n % 3])
            for n, m in enumerate(members)
        ]
        + [box.prices({"BTC/0.001": 61_000_000, "ETH/quantum": 3_100}, {"BTC-PERP": 61_000_000})]
    )
    roots.append(block.state_root.hex())
    block = box.apply(
        [box.withdraw(m, (USDC, WETH, USDC_B)[n % 3], 7) for n, m in enumerate(members)]
    )
    roots.append(block.state_root.hex())
    halt = SetInstrumentStatus("ETH-PERP", InstrumentStatus.HALTED)
    proposal = sign_proposal(box.validator_keys[0], box.chain_id, (halt,), box.state.height + 3)
    roots.append(box.apply([proposal]).state_root.hex())
    votes = [
        sign_vote(k, box.chain_id, box.state.proposals[1], VoteChoice.YES)
        for k in box.validator_keys
    ]
    roots.append(box.apply(votes).state_root.hex())
    return roots


if __name__ == "__main__":
    print("\n".join(compute_scenario_roots()))

"""The in-process ledger demo (`clearnode devnet --ledger-demo`): no chains, no
proofs, six scripted blocks on one ledger. Members deposit through
validator-attested credits, authorise a venue, the venue trades perpetuals, a
future and an option, prices move and variation margin settles, funding accrues,
a member withdraws. Each block prints its transactions, events and state root;
the run fails (exit 1) if value is not conserved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from clearing.errors import GenesisError
from clearing.events import Event
from clearing.transition.trade import Trade, sign_trade_batch
from clearing.tx_kind import TxRecord
from clearnode.client.sandbox_keys import derive_ed25519_key, derive_member_key
from configs import EXAMPLE_GENESIS
from devnet.conservation import Ledger
from devnet.sandbox import Sandbox

DEFAULT_GENESIS = EXAMPLE_GENESIS
BTC = "BTC/0.001"
HOUR_MS = 3_600_000


def run_ledger_demo(genesis: Path) -> int:
    try:
        box = Sandbox.from_genesis_doc(json.loads(genesis.read_text()))
    except (OSError, ValueError, GenesisError) as error:
        print(f"devnet: cannot load genesis {genesis}: {error}")
        return 2
    demo = Demo(box)
    for title, txs in demo.script():
        demo.apply(title, txs)
        broken = demo.check_conservation()
        if broken:
            print(f"CONSERVATION BROKEN: {broken}")
            return 1
    demo.print_accounts()
    print("value conserved in every block")
    return 0


class Demo:
    """The scripted blocks, and the ledger totals that must not change."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.alice, self.bob, self.carol = (derive_member_key(n) for n in ("alice", "bob", "carol"))
        self.usdc = next(t.key for t in box.genesis.collateral if t.symbol == "USDC")
        self.weth = next(t.key for t in box.genesis.collateral if t.symbol == "WETH")
        self.venue = box.genesis.venues[0].id
        self.venue_key = derive_ed25519_key(f"venue-{self.venue}")
        self.names = {
            m.address: n
            for m, n in ((self.alice, "alice"), (self.bob, "bob"), (self.carol, "carol"))
        }
        self.names.update({k[1]: t.symbol for t in box.genesis.collateral for k in [t.key]})
        self.ledger = Ledger()
        self.ledger.start(box.state)
        self.batches = 0

    def trade(
        self, trade_id: int, instrument: str, buyer: Any, seller: Any, price: int, lots: int
    ) -> Trade:
        return Trade(trade_id, instrument, buyer.address, 0, seller.address, 0, price, lots)

    def batch(self, *trades: Trade) -> TxRecord:
        self.batches += 1
        return sign_trade_batch(
            self.venue_key, self.box.chain_id, self.venue, self.batches, trades,
            *self.box.get_times(),
        )  # fmt: skip

    def script(self) -> Iterator[tuple[str, Sequence[TxRecord]]]:
        """Blocks built lazily, so signed times follow the ledger's clock."""
        b, a, c, d = self.box, self.alice, self.bob, self.carol
        deposits: list[TxRecord] = [
            b.credit(a.address, self.usdc, 100_000_000_000, signers=3),
            b.credit(c.address, self.usdc, 100_000_000_000),
            b.credit(d.address, self.weth, 20_000_000),
        ]
        deposits += [b.authorise(m, self.venue) for m in (a, c, d)]
        yield "deposits (attested by 3 of 4 validators) and venue authorisations", deposits
        trades = self.batch(
            self.trade(1, "BTC-PERP", a, c, 60_000_000, 10),
            self.trade(2, "BTC-26DEC26", d, a, 60_300_000, 5),
            self.trade(3, "BTC-26DEC26-65000-C", c, d, 1_500_000, 2),
            self.trade(4, "BTC-PERP", a, c, 70_000_000, 1),
        )
        yield "venue trades: perp, dated future, option; one outside the price band", [trades]
        marks = {
            "BTC-PERP": 61_250_000,
            "BTC-26DEC26": 61_500_000,
            "BTC-26DEC26-65000-C": 1_900_000,
        }
        yield "prices up 2%: variation margin settles", [b.prices({BTC: 61_200_000}, marks)]
        crash = b.prices({BTC: 45_000_000}, {"BTC-PERP": 45_000_000})
        yield "a 25% crash is clamped to the 10% circuit breaker", [crash]
        b.block_interval_ms = HOUR_MS
        later: list[TxRecord] = [
            b.prices({BTC: 55_100_000}, {"BTC-PERP": 55_200_000}),
            b.withdraw(c, self.usdc, 1_000_000_000),
        ]
        yield "an hour later: funding accrues on the perpetual, bob withdraws", later
        b.block_interval_ms = 1000
        (paid,) = b.state.pending_withdrawals.values()
        payout = b.paid(paid.member, paid.nonce, paid.chain_id)
        yield "the vault paid bob: validators attest its Withdrawn log", [payout]

    def apply(self, title: str, txs: Sequence[TxRecord]) -> None:
        result = self.box.apply(txs)
        print(f"block {result.height} (t={self.box.state.time_ms}): {title}")
        for n, (tx, tx_result) in enumerate(zip(txs, result.tx_results, strict=True)):
            print(f"  tx {n} {type(tx).__name__}: {tx_result.code} {tx_result.detail}".rstrip())
            for event in tx_result.events:
                self._note(event)
        if result.events:
            print("  end of block:")
        for event in result.events:
            self._note(event)
        print(f"  state root {result.state_root.hex()}")
        self.ledger.record(result)

    def print_accounts(self) -> None:
        s = self.box.state
        print(f"fee pool {s.fee_pool}, insurance fund {s.insurance_fund}")
        for address, member in sorted(s.members.items()):
            for sub_id, account in sorted(member.sub_accounts.items()):
                collateral = {self._show(t): q for (_, t), q in sorted(account.collateral.items())}
                positions = {i: p.quantity for i, p in sorted(account.positions.items())}
                print(
                    f"{self._show(address)}/{sub_id}: cash {account.cash}"
                    f" collateral {collateral} positions {positions}"
                )

    def _note(self, event: Event) -> None:
        fields = " ".join(f"{k}={self._show(v)}" for k, v in event.data)
        print(f"    {event.kind}: {fields}")

    def check_conservation(self) -> str:
        """'' if settlement money and every collateral token balance are conserved."""
        return self.ledger.check(self.box.state)

    def _show(self, value: object) -> str:
        if not isinstance(value, bytes):
            return str(value)
        return self.names.get(value, "0x" + value.hex()[:12] + "..")

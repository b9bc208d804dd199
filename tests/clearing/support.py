"""Shared builders for the ledger tests: the example genesis and devnet keys."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from clearing.collateral import count_vault_quanta
from clearing.member_authorisation import spend_refused_nonce
from clearing.replay_protection import get_replay_fields
from clearing.request_schema import SignedRequest
from clearing.state import ClearingState
from clearing.transition.block import BlockResult
from clearing.transition.root import encode_account
from clearing.transition.trade import TradeBatch, spend_refused_trade_ids
from clearing.tx_kind import TxRecord
from clearnode.client.sandbox_keys import derive_member_key
from devnet.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
_GENESIS_DOC: dict[str, Any] = json.loads((ROOT / "configs" / "genesis.example.json").read_text())

USDC = (31337, bytes.fromhex("00000000000000000000000000000000000000a1"))
WETH = (31337, bytes.fromhex("00000000000000000000000000000000000000e1"))
USDC_B = (31338, bytes.fromhex("00000000000000000000000000000000000000a2"))
ALICE = derive_member_key("alice")
BOB = derive_member_key("bob")
CAROL = derive_member_key("carol")


def genesis_doc() -> dict[str, Any]:
    """A fresh deep copy of configs/genesis.example.json, safe to mutate."""
    return copy.deepcopy(_GENESIS_DOC)


def new_sandbox() -> Sandbox:
    return Sandbox.from_genesis_doc(genesis_doc())


def fund_vaults(state: ClearingState) -> None:
    """The vaults' figure (``vault_quanta``) made what the accounts hold, as if each
    quantum a fixture wrote into an account had come in by a deposit: a state the chain
    can reach, whose published ledger the root takes from that figure."""
    state.vault_quanta = {key: q for key, q in count_vault_quanta(state).items() if q}


def collected_fees(state: ClearingState) -> int:
    """Clearing fees taken so far: the fee pool and the insurance fund's share (in tests
    with no default, the insurance fund grows by fees only: it starts at 0)."""
    return state.fee_pool + state.insurance_fund


def get_cash_supply(state: ClearingState) -> int:
    """Every cash balance (sub-accounts, default fund, pools) less the settlement tokens the
    vaults hold for cash: 0 as the ledger runs (genesis holds no cash that no vault holds)."""
    held = sum(a.cash for m in state.members.values() for a in m.sub_accounts.values())
    funds = sum(m.default_fund for m in state.members.values())
    reserves = sum(state.settlement_reserves.values())
    return held + funds + state.fee_pool + state.insurance_fund - reserves


def only_result(block: BlockResult) -> tuple[str, str]:
    (result,) = block.tx_results
    return result.code, result.detail


def snapshot(state: ClearingState) -> tuple[object, ...]:
    """Everything a transaction may change, as comparable values."""
    return (
        {address: encode_account(m) for address, m in state.members.items()},
        state.fee_pool,
        state.insurance_fund,
        dict(state.mark_prices),
        dict(state.index_prices),
        dict(state.pending_withdrawals),
        get_replay_fields(state.trade_windows, state.deposit_nonces),
    )


def assert_rejected(box: Sandbox, tx: TxRecord | bytes, code: str) -> str:
    """Apply ``tx`` alone in a block; it must fail with ``code`` and change nothing but
    what a refusal spends (a member request's nonce: ``spend_refused_nonce``; a batch's
    trade ids: ``spend_refused_trade_ids``)."""
    expected, ctx = copy.deepcopy(box.state), box.next_context()
    got, detail = only_result(box.apply([tx]))
    assert got == code, detail
    if isinstance(tx, SignedRequest):
        spend_refused_nonce(expected, ctx, tx)
    elif isinstance(tx, TradeBatch):
        spend_refused_trade_ids(expected, ctx, tx)
    assert snapshot(box.state) == snapshot(expected)
    return detail

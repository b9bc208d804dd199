"""The node at a glance, as JSON-ready dicts: what the status page shows.

To anyone: the validators in force, recent blocks, prices and open interest, vault balances beside
the ledger's collateral, governance (open votes, what executes at which height, recent
outcomes), how many accounts stand below their requirements, per block
how many waterfall events clearing emitted and what they moved (never whose, nor which
lots), the latest solvency report's verdict, what the integers' units are, and the
recent history the page charts (heights, latencies, marks, default fund totals). A sum
over fewer than the genesis `min_public_contributors` members is withheld, saying so
(node/api/disclosure.py). The operator's view (`detailed`) shows every sum exactly and
adds each sub-account's margin health (equity against its requirements, never its
positions) and the default fund's sizing losses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from bridge.rotation import get_consensus_set
from clearing.collateral import get_credited_quanta, get_pending_withdrawal_quanta
from clearing.risk.engine import INSURANCE_MEMBER, get_member_risk
from clearing.state import ClearingState, is_settlement_token
from node.api.bodies import hex0x
from node.api.disclosure import get_min_contributors, get_withheld
from node.api.house import get_clearing_house_status
from node.api.node_interface import get_upgrade_status
from node.status.governance import get_governance
from node.status.history import History
from node.status.journal import Journal
from node.status.vaults import VaultView

MAX_MEMBER_ROWS = 100
NOT_WATCHED = "not watched by this node"
ReportStatus = Callable[[], dict[str, Any] | None]


def get_validators(state: ClearingState, journal: Journal) -> list[dict[str, Any]]:
    """The validators in force (governance's changes and jailings included), in set order,
    and whether each signed the last block this node committed."""
    last = journal.blocks[0].signers if journal.blocks else ()
    return [
        {
            "name": v.name,
            "power": v.power,
            "pubkey": hex0x(v.pubkey),
            "jailed": v.pubkey in state.jailed,
            "signed_last_block": v.pubkey in last,
        }
        for v in state.validators.values()
    ]


def get_blocks(journal: Journal) -> list[dict[str, Any]]:
    return [
        {
            "height": b.height,
            "round": b.round,
            "time_ms": b.time_ms,
            "txs": b.txs,
            "rejected": b.rejected,
            "signers": len(b.signers),
            "state_root": hex0x(b.state_root),
            "commit_ms": b.commit_ms,
        }
        for b in journal.blocks
    ]


def get_chains(state: ClearingState, vaults: Mapping[int, VaultView]) -> list[dict[str, Any]]:
    """Per chain and token: the vault's on-chain balance beside what the ledger credits.

    Both in token units; the ledger's figure excludes withdrawals debited but
    not yet paid (they are still in the vault) and, for the settlement token,
    what the vault holds for cash (``for_cash``).
    """
    held = get_credited_quanta(state)  # not a walk over every account: the route is public
    pending = get_pending_withdrawal_quanta(state)
    chains = []
    for chain_id in sorted({t.chain_id for t in state.collateral_tokens.values()}):
        view = vaults.get(chain_id)
        tokens = []
        for token in sorted(state.collateral_tokens.values(), key=lambda t: t.symbol):
            if token.chain_id != chain_id:
                continue
            on_chain = None if view is None else view.balances.get(token.symbol)
            tokens.append(
                {
                    "symbol": token.symbol,
                    "decimals": token.decimals,
                    "token": hex0x(token.token),
                    "ledger": held.get(token.key, 0) * token.quantum,
                    "pending_withdrawals": pending.get(token.key, 0) * token.quantum,
                    "for_cash": state.settlement_reserves.get(chain_id, 0) * token.quantum
                    if is_settlement_token(state, token.key)
                    else 0,
                    "vault": on_chain,
                }
            )
        chains.append(
            {
                "chain_id": chain_id,
                "name": "" if view is None else view.name,
                "vault": "" if view is None else view.vault,
                "error": NOT_WATCHED if view is None else view.error,
                "tokens": tokens,
                "validator_set": get_vault_set_view(state, view),
            }
        )
    return chains


def get_vault_set_view(state: ClearingState, view: VaultView | None) -> dict[str, Any] | None:
    """The vault's validator set (latest block) against the consensus set: `in_sync`, or
    `rotating` while the validators move it there; None if not read."""
    if view is None or view.validators is None:
        return None
    consensus = sorted(get_consensus_set(state))
    in_sync = list(view.validators.members) == consensus
    return {
        "epoch": view.validators.epoch,
        "validators": len(view.validators.members),
        "consensus_validators": len(consensus),
        "status": "in_sync" if in_sync else "rotating",
    }


def get_health(state: ClearingState) -> list[dict[str, Any]]:
    """Margin health per sub-account, least healthy first.

    `health_pct` is equity over maintenance margin in whole percent (floor);
    below 100 the sub-account is liquidated at the next block.
    """
    rows = []
    for address, member in state.members.items():
        if address == INSURANCE_MEMBER:
            continue
        for sub in sorted(member.sub_accounts):
            risk = get_member_risk(state, address, sub, with_prices=False)
            if risk is None:
                continue
            mm = risk.maintenance_margin
            health = None if mm <= 0 else risk.equity * 100 // mm
            rows.append(
                {
                    "member": hex0x(address),
                    "sub_account": sub,
                    "equity": risk.equity,
                    "initial_margin": risk.initial_margin,
                    "maintenance_margin": mm,
                    "health_pct": health,
                    "status": get_health_status(risk.equity, mm, risk.initial_margin),
                    "reduce_only": member.default_fund < member.default_fund_required,
                }
            )
    rows.sort(key=lambda r: (r["health_pct"] is None, r["health_pct"] or 0, r["member"]))
    return rows


def get_open_interest(state: ClearingState, detailed: bool) -> dict[str, int | None]:
    """Per instrument, the lots held long over all accounts (as many are held short);
    None while fewer than `min_public_contributors` accounts hold either side (the total
    would be their own positions), unless `detailed` (the operator's view)."""
    k = get_min_contributors(state)
    longs: Counter[str] = Counter()
    shorts: Counter[str] = Counter()
    for member in state.members.values():
        for account in member.sub_accounts.values():
            for iid, position in account.positions.items():
                if position.quantity > 0:
                    longs[iid] += 1
                elif position.quantity < 0:
                    shorts[iid] += 1
    return {
        iid: lots if detailed or lots == 0 or min(longs[iid], shorts[iid]) >= k else None
        for iid, lots in sorted(state.open_interest.items())
    }


def get_margin_summary(health: list[dict[str, Any]]) -> dict[str, int]:
    """How many sub-accounts hold risk, and how many of them stand below each requirement
    or are reduce-only: counts that name no one."""
    statuses = [row["status"] for row in health]
    return {
        "accounts": len(health),
        "below_maintenance": statuses.count("below MM"),
        "below_initial": statuses.count("below IM") + statuses.count("below MM"),
        "reduce_only": sum(1 for row in health if row["reduce_only"]),
    }


def get_health_status(equity: int, maintenance_margin: int, initial_margin: int) -> str:
    if maintenance_margin <= 0:
        return "no risk"
    if equity < maintenance_margin:
        return "below MM"
    if equity < initial_margin:
        return "below IM"
    return "ok"


def get_units(state: ClearingState) -> dict[str, Any]:
    """What the integers mean: the settlement asset (cash, fees, funds, margins, and
    prices, which are settlement units per lot) and each instrument's lot."""
    asset = state.genesis.settlement_asset
    return {
        "settlement": {"symbol": asset.symbol, "decimals": asset.decimals},
        "lots": {
            iid: {"contract_size": i.contract_size, "underlying": i.underlying}
            for iid, i in sorted(state.instruments.items())
        },
    }


def get_defaults(journal: Journal, k: int, detailed: bool) -> list[dict[str, Any]]:
    """Per block and kind, the waterfall events' count and total; the total None in the
    public view when fewer than `k` members' events make it (`withheld` says so)."""
    lines = []
    for line in journal.defaults:
        withheld = None if detailed else get_withheld(line.members, k)
        lines.append(
            {
                "height": line.height,
                "kind": line.kind,
                "events": line.count,
                "amount": line.amount if withheld is None else None,
                "withheld": withheld,
            }
        )
    return lines


def build_overview(
    moniker: str,
    state: ClearingState,
    journal: Journal,
    vaults: Mapping[int, VaultView],
    report: ReportStatus | None,
    *,
    detailed: bool,
    failures: Mapping[int, str] | None = None,
    history: History | None = None,
) -> dict[str, Any]:
    """The network at a glance; `detailed` (the operator listener) adds the members;
    `failures`: why proposals this node saw fail failed (proposal id -> refusal code);
    `history`: the recent samples the page charts."""
    latencies = sorted(b.commit_ms for b in journal.blocks)
    health = get_health(state)
    overview: dict[str, Any] = {
        "moniker": moniker,
        "chain_id": state.chain_id,
        "height": state.height,
        "time_ms": state.time_ms,
        "units": get_units(state),
        "commit_ms_p50": latencies[len(latencies) // 2] if latencies else None,
        "clearing_house": get_clearing_house_status(state, detailed),
        "prices": dict(sorted(state.mark_prices.items())),
        "open_interest": get_open_interest(state, detailed),
        "validators": get_validators(state, journal),
        "blocks": get_blocks(journal),
        "chains": get_chains(state, vaults),
        "margin": get_margin_summary(health),
        "defaults": get_defaults(journal, get_min_contributors(state), detailed),
        "report": None if report is None else report(),
        "governance": get_governance(state, failures or {}),
        "upgrade": get_upgrade_status(state),
        "history": (history or History()).to_columns(detailed),
        "min_public_contributors": get_min_contributors(state),
    }
    if detailed:
        overview["members"] = health[:MAX_MEMBER_ROWS]
    return overview

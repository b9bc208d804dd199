/** Reserves on chain (proofs/reserves.py): the report's collateral is the ledger's under
 * the state root, and each vault, with the payouts clearing had not yet seen, holds at
 * least what the ledger says it holds, per chain and token, in the same words. The
 * balances and payouts are read by chainread.ts; this module only compares numbers. */

import { DecodeError } from "./errors";
import { type ReserveTotal, decodeLedger, getHeld } from "./ledger";
import { type Report, getTotal } from "./report";
import { GenesisError } from "./recompute/errors.js";
import { Section } from "./recompute/section.js";
import type { Verdict } from "./verify";

const COLLATERAL_PREFIX = "collateral:";

/** What one chain's vault held of each collateral token (lowercase hex, no 0x), read at
 * `block`, and what its Withdrawn logs paid out of each up to that block. */
export interface VaultReading {
  kind: "reading";
  chainId: bigint;
  vault: string;
  block: bigint;
  balances: Map<string, bigint>;
  withdrawn: Map<string, bigint>;
}

/** A chain the verifier was asked to read and could not, and why. */
export interface Unreadable {
  kind: "unreadable";
  chainId: bigint;
  reason: string;
}

export interface ReserveToken {
  chainId: bigint;
  token: string; // lowercase hex without 0x
  symbol: string;
  quantum: bigint;
}

/** What the reserves check needs of a genesis: its collateral tokens and its vaults. */
export interface ReserveGenesis {
  collateral: ReserveToken[];
  vaults: Map<bigint, string>; // chain id -> vault address, lowercase hex without 0x
}

/** The tokens and vaults of a genesis readFormGenesis accepted; a malformed vault is
 * parse_genesis's GenesisError. */
export function readReserveGenesis(genesis: unknown): ReserveGenesis {
  // readFormGenesis has checked the keys of the genesis and of each token: any are allowed here
  const anyKey = (obj: unknown): Set<string> => new Set(typeof obj === "object" && obj !== null ? Object.keys(obj) : []);
  const top = new Section(genesis, "", anyKey(genesis));
  const collateral = top.sequence("collateral").map((item, n): ReserveToken => {
    const r = new Section(item, `collateral[${n}]`, anyKey(item));
    return { chainId: r.integer("chain_id", 1n), token: r.hex("token", 20), symbol: r.text("symbol"), quantum: r.integer("quantum", 1n, 10n ** 36n) };
  });
  const vaults = new Map<bigint, string>();
  const chains = new Set(collateral.map((t) => t.chainId));
  if (top.has("vaults")) {
    top.sequence("vaults").forEach((item, n) => {
      const r = new Section(item, `vaults[${n}]`, new Set(["chain_id", "address"]));
      const chainId = r.integer("chain_id", 1n);
      if (!chains.has(chainId)) {
        throw new GenesisError(`vaults[${n}].chain_id`, `a collateral chain [${[...chains].sort((a, b) => (a < b ? -1 : 1)).join(", ")}]`, chainId);
      }
      if (vaults.has(chainId)) throw new GenesisError(`vaults[${n}].chain_id`, "one vault per chain", chainId);
      vaults.set(chainId, r.hex("address", 20));
    });
  }
  return { collateral, vaults };
}

/** (chain id, token hex) of `collateral:<chain>:0x<token>`; null for any other. */
export function parseCollateralLabel(label: string): [bigint, string] | null {
  if (!label.startsWith(COLLATERAL_PREFIX)) return null;
  const rest = label.slice(COLLATERAL_PREFIX.length);
  const colon = rest.indexOf(":");
  const chain = colon < 0 ? rest : rest.slice(0, colon);
  const token = colon < 0 ? "" : rest.slice(colon + 1);
  if (!/^[0-9]+$/.test(chain) || !token.startsWith("0x")) return null;
  if (!/^([0-9a-fA-F]{2})*$/.test(token.slice(2))) return null;
  return [BigInt(chain), token.slice(2).toLowerCase()];
}

/** Quanta of each (chain, token) over every account: proven plus in default, in
 * (chain, token) order. An aggregate whose label the statement lacks, or that names no
 * chain and token, is left out: the aggregates check fails such a report, naming it. */
export function getCollateralQuanta(report: Report): { chainId: bigint; token: string; quanta: bigint }[] {
  const totals = new Map<string, { chainId: bigint; token: string; quanta: bigint }>();
  for (const entry of report.aggregates) {
    const key = parseCollateralLabel(entry.label);
    const quanta = getTotal(report, entry.label);
    if (key === null || quanta === null) continue;
    totals.set(`${key[0]}:${key[1]}`, { chainId: key[0], token: key[1], quanta });
  }
  return [...totals.values()].sort((a, b) => (a.chainId !== b.chainId ? (a.chainId < b.chainId ? -1 : 1) : a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
}

/** The report's accounts hold, per (chain, token), the collateral the ledger holds (compare_collateral). */
function compareCollateral(report: Report, totals: Map<string, ReserveTotal>): string[] {
  const quanta = new Map(getCollateralQuanta(report).map((q) => [`${q.chainId}:${q.token}`, q]));
  const keys = new Map<string, [bigint, string]>();
  for (const q of quanta.values()) keys.set(`${q.chainId}:${q.token}`, [q.chainId, q.token]);
  for (const t of totals.values()) keys.set(`${t.chainId}:${t.token}`, [t.chainId, t.token]);
  const sorted = [...keys.entries()].sort(([, a], [, b]) => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const failures: string[] = [];
  for (const [key, [chainId, token]] of sorted) {
    const held = quanta.get(key)?.quanta ?? 0n;
    const committed = totals.get(key)?.collateral ?? 0n;
    if (held !== committed) {
      failures.push(`${COLLATERAL_PREFIX}${chainId}:0x${token}: the report's accounts hold ${held} quanta, the ledger under the state root ${committed}`);
    }
  }
  return failures;
}

/** One token of one vault (check_vault): its balance, with the payouts clearing had not
 * yet seen, against what the ledger says it holds. */
function checkVault(verdict: Verdict, where: string, symbol: string, quantum: bigint, total: ReserveTotal, held: bigint, withdrawn: bigint): void {
  const seen = total.paid * quantum;
  if (withdrawn < seen) {
    verdict.failures.push(`${where}: its Withdrawn logs pay out ${withdrawn} ${symbol} units, less than the ${seen} the ledger under the state root saw paid`);
    return;
  }
  const unseen = withdrawn - seen;
  const owed = getHeld(total) * quantum;
  const parts = `members' collateral ${total.collateral}, pending withdrawals ${total.pending}, settlement cash ${total.cashReserve} quanta`;
  if (held + unseen < owed) {
    verdict.failures.push(
      `${where} holds ${held} ${symbol} units and paid ${unseen} that clearing had not seen paid, less than the ${owed} ` +
        `the ledger under the state root says it holds (${parts}): short by ${owed - held - unseen}`,
    );
  } else {
    verdict.passed.push(
      `${where} holds ${held} ${symbol} units and paid ${unseen} that clearing had not seen paid, >= the ${owed} ` +
        `the ledger under the state root says it holds (${parts}; the ${held + unseen - owed} more is deposits not yet ` +
        "credited or was sent to the vault directly)",
    );
  }
}

/** The report's collateral against the ledger's under its root, then each read vault
 * against the ledger's reserves on its chain; chains not read (or unreadable), or all of
 * them without a genesis to name the vaults, are said, not passed. */
export function checkReserves(report: Report, genesis: ReserveGenesis | null, readings: Map<bigint, VaultReading | Unreadable>): Verdict {
  const verdict: Verdict = { passed: [], failures: [], notChecked: [], unreadable: [] };
  let reserves: ReserveTotal[];
  try {
    reserves = decodeLedger(report.marketProof.ledger).reserves;
  } catch (exc) {
    if (!(exc instanceof DecodeError)) throw exc;
    verdict.notChecked.push(`reserves: the published ledger does not decode: ${exc.message}`);
    return verdict;
  }
  const totals = new Map(reserves.map((r) => [`${r.chainId}:${r.token}`, r]));
  verdict.failures.push(...compareCollateral(report, totals));
  if (verdict.failures.length === 0) {
    verdict.passed.push(`the report's collateral totals are the ledger's under the state root (${totals.size} tokens)`);
  }
  if (genesis === null) {
    verdict.notChecked.push("reserves: without --genesis the vaults are not known");
    return verdict;
  }
  const tokens = new Map(genesis.collateral.map((t) => [`${t.chainId}:${t.token}`, t]));
  const chains = [...new Set(reserves.map((r) => r.chainId))].sort((a, b) => (a < b ? -1 : 1));
  for (const chainId of chains) {
    const reading = readings.get(chainId);
    if (reading === undefined) {
      verdict.notChecked.push(`reserves on chain ${chainId}: not read (give --rpc ${chainId}=URL)`);
      continue;
    }
    if (reading.kind === "unreadable") {
      verdict.unreadable.push(`reserves on chain ${chainId}: ${reading.reason}`);
      continue;
    }
    const where = `chain ${chainId} vault 0x${reading.vault} at block ${reading.block}`;
    for (const total of reserves) {
      if (total.chainId !== chainId) continue;
      const spec = tokens.get(`${total.chainId}:${total.token}`);
      if (spec === undefined) {
        verdict.failures.push(`${where}: token 0x${total.token} is not in genesis`);
        continue;
      }
      const held = reading.balances.get(total.token);
      if (held === undefined) {
        verdict.unreadable.push(`${where}: ${spec.symbol} balance not read`);
        continue;
      }
      checkVault(verdict, where, spec.symbol, spec.quantum, total, held, reading.withdrawn.get(total.token) ?? 0n);
    }
  }
  return verdict;
}

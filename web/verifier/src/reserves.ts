/** Reserves on chain (proofs/reserves.py): each vault holds at least the collateral the
 * report says members hold, per chain and token, in the same words. The balances are
 * read by chainread.ts; this module only compares numbers. */

import type { Report } from "./report";
import { GenesisError } from "./recompute/errors.js";
import { Section } from "./recompute/section.js";
import type { Verdict } from "./verify";

const COLLATERAL_PREFIX = "collateral:";

/** What one chain's vault held of each collateral token (lowercase hex, no 0x), read at `block`. */
export interface VaultReading {
  kind: "reading";
  chainId: bigint;
  vault: string;
  block: bigint;
  balances: Map<string, bigint>;
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
  const labels = report.statement.inputLabels;
  const totals = new Map<string, { chainId: bigint; token: string; quanta: bigint }>();
  for (const entry of report.aggregates) {
    const key = parseCollateralLabel(entry.label);
    const index = labels.indexOf(entry.label);
    if (key === null || index < 0) continue;
    const quanta = entry.total + report.inDefault.reduce((sum, d) => sum + d.inputs[index]!, 0n);
    totals.set(`${key[0]}:${key[1]}`, { chainId: key[0], token: key[1], quanta });
  }
  return [...totals.values()].sort((a, b) => (a.chainId !== b.chainId ? (a.chainId < b.chainId ? -1 : 1) : a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
}

/** Each read vault against the report's collateral on its chain; chains not read (or
 * unreadable), or all of them without a genesis to name the vaults, are said, not passed. */
export function checkReserves(report: Report, genesis: ReserveGenesis | null, readings: Map<bigint, VaultReading | Unreadable>): Verdict {
  const verdict: Verdict = { passed: [], failures: [], notChecked: [], unreadable: [] };
  if (genesis === null) {
    verdict.notChecked.push("reserves: without --genesis the vaults are not known");
    return verdict;
  }
  const quanta = getCollateralQuanta(report);
  const tokens = new Map(genesis.collateral.map((t) => [`${t.chainId}:${t.token}`, t]));
  const chains = [...new Set(quanta.map((q) => q.chainId))].sort((a, b) => (a < b ? -1 : 1));
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
    for (const { chainId: chain, token, quanta: heldQuanta } of quanta) {
      if (chain !== chainId) continue;
      const spec = tokens.get(`${chain}:${token}`);
      if (spec === undefined) {
        verdict.failures.push(`${where}: token 0x${token} is not in genesis`);
        continue;
      }
      const owed = heldQuanta * spec.quantum;
      const held = reading.balances.get(token);
      if (held === undefined) {
        verdict.unreadable.push(`${where}: ${spec.symbol} balance not read`);
      } else if (held < owed) {
        verdict.failures.push(
          `${where} holds ${held} ${spec.symbol} units, less than the ${owed} ` +
            `(${heldQuanta} quanta) the report's accounts hold: short by ${owed - held}`,
        );
      } else {
        verdict.passed.push(
          `${where} holds ${held} ${spec.symbol} units >= the ${owed} the report's ` +
            `accounts hold (the ${held - owed} more backs pending withdrawals, ` +
            "members' cash or was sent to the vault directly)",
        );
      }
    }
  }
  return verdict;
}

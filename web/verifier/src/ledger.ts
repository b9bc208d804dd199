/** The published ledger (clearing/published_ledger.py), a leaf of the state root the
 * market proof carries: the epoch's defaults, the insurance fund, per chain and token
 * what the ledger says that chain's vault holds, and the cash of every account a report
 * covers. */

import { compare, equal, toHex } from "./bytes";
import { decodeError, expectBigInt, expectBytes, expectInt, expectList } from "./codec";
import { type Value, decodeMsgpack, encodeMsgpack } from "./msgpack";
import { type DefaultRecord, decodeDefaultRecord } from "./report";

const PUBLISHED_LEDGER_VERSION = 3n;
const MIN_INT64 = -(1n << 63n);
const MAX_INT64 = (1n << 63n) - 1n;
const MAX_UINT64 = (1n << 64n) - 1n;

/** What the ledger says one chain's vault holds of one token, in quanta (ReserveTotal). */
export interface ReserveTotal {
  chainId: bigint;
  token: string; // lowercase hex without 0x
  collateral: bigint;
  pending: bigint;
  cashReserve: bigint;
  paid: bigint;
}

export interface PublishedLedger {
  defaults: DefaultRecord[];
  insuranceFund: bigint;
  reserves: ReserveTotal[];
  /** The cash a report commits to, over every account it covers. */
  reportedCash: bigint;
}

/** ReserveTotal.get_held: the least the vault holds once every payout is seen. */
export const getHeld = (r: ReserveTotal): bigint => r.collateral + r.pending + r.cashReserve;

export const defaultKey = (r: DefaultRecord): string => `${r.height}/${toHex(r.member)}/${r.subAccount}`;
const recordFields = (r: DefaultRecord): Value[] => [r.height, r.member, r.subAccount, r.deficit, ...r.layers];

function decodeReserve(obj: Value): ReserveTotal {
  const f = expectList(obj, "reserve", 6);
  return {
    chainId: expectInt(f[0]!, "chain_id", 1n),
    token: toHex(expectBytes(f[1]!, "token", 20)),
    collateral: expectInt(f[2]!, "collateral"),
    pending: expectInt(f[3]!, "pending"),
    cashReserve: expectInt(f[4]!, "cash_reserve"),
    paid: expectBigInt(f[5]!, "paid", 0n), // only grows: past 64 bits after enough payouts
  };
}

/** PublishedLedger.decode: canonical bytes only. */
export function decodeLedger(data: Uint8Array): PublishedLedger {
  const [version, defaults, fund, reservesObj, cash] = expectList(decodeMsgpack(data), "ledger", 5);
  if (expectInt(version!, "ledger.version") !== PUBLISHED_LEDGER_VERSION) {
    throw decodeError("ledger.version", `${String(version)}, expected ${PUBLISHED_LEDGER_VERSION}`);
  }
  const records = expectList(defaults!, "defaults").map(decodeDefaultRecord);
  for (let i = 1; i < records.length; i++) {
    const a = records[i - 1]!;
    const b = records[i]!;
    const c = a.height !== b.height ? (a.height < b.height ? -1 : 1) : compare(a.member, b.member);
    if (c > 0 || (c === 0 && a.subAccount >= b.subAccount)) {
      throw decodeError("defaults", "must be strictly sorted by (height, member, sub)");
    }
  }
  const reserves = expectList(reservesObj!, "reserves").map(decodeReserve);
  for (let i = 1; i < reserves.length; i++) {
    const a = reserves[i - 1]!;
    const b = reserves[i]!;
    if (a.chainId > b.chainId || (a.chainId === b.chainId && a.token >= b.token)) {
      throw decodeError("reserves", "must be strictly sorted by (chain, token)");
    }
  }
  const insuranceFund = expectInt(fund!, "insurance_fund", MIN_INT64, MAX_INT64);
  const reportedCash = expectInt(cash!, "reported_cash", MIN_INT64, MAX_UINT64);
  const again = [version!, records.map(recordFields), insuranceFund, reservesObj as Value[], reportedCash];
  if (!equal(encodeMsgpack(again), data)) throw decodeError("published ledger", "not canonical");
  return { defaults: records, insuranceFund, reserves, reportedCash };
}

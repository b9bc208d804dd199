/** The market the statement is computed from, and its proof under the state root with
 * the configuration in force (clearing/risk/solvency.py SolvencyMarket, clearing/root.py
 * MarketProof). */

import { sha256 } from "@noble/hashes/sha2.js";
import { concat, utf8 } from "./bytes";
import { MAX_UINT64, clearingError, expectBytes, expectInt, expectList, expectStr, typeName } from "./codec";
import { compareCodePoints } from "./recompute/pyrepr.js";
import { encodeMsgpack } from "./msgpack";
import type { Value } from "./msgpack";
import type { PriceList, SolvencyMarket } from "./recompute/solvency.js";

const MARKET_DOMAIN = utf8("clearnode-market-v1");
const CONFIGURATION_DOMAIN = utf8("clearnode-configuration-v1");
/** clearing/governance/configuration.py MAX_CONFIGURATION_BYTES. */
export const MAX_CONFIGURATION_BYTES = 4 * 1024 * 1024;
const ROOT_PREFIX = Uint8Array.of(0x03);
const GLOBALS_PREFIX = Uint8Array.of(0x04);

/** Field 9: the clearing state at the epoch's last block. */
export type Market = SolvencyMarket;

/** Field 10: with the market, gives the state root. */
export interface MarketProof {
  accountsRoot: Uint8Array;
  /** The configuration in force: canonical JSON, hashed and parsed as given. */
  configuration: Uint8Array;
  recordsHash: Uint8Array;
}

/** [[id, price], ...] with ids strictly increasing and prices in [1, 2^64). */
function decodePriceList(obj: Value, what: string): PriceList {
  const items = expectList(obj, what).map((pair) => expectList(pair, what, 2));
  const prices: [string, bigint][] = items.map(([k, v]) => [expectStr(k!, what), expectInt(v!, what, 1n, MAX_UINT64)]);
  for (let i = 1; i < prices.length; i++) {
    if (compareCodePoints(prices[i - 1]![0], prices[i]![0]) >= 0) throw clearingError(what, "ids must be strictly increasing");
  }
  return prices;
}

export function decodeMarket(obj: Value): Market {
  const f = expectList(obj, "SolvencyMarket", 4);
  return {
    height: expectInt(f[0]!, "height"),
    timeMs: expectInt(f[1]!, "time_ms", 0n, MAX_UINT64),
    markPrices: decodePriceList(f[2]!, "mark_prices"),
    indexPrices: decodePriceList(f[3]!, "index_prices"),
  };
}

export function decodeMarketProof(obj: Value): MarketProof {
  const f = expectList(obj, "MarketProof", 3);
  const configuration = f[1]!;
  if (!(configuration instanceof Uint8Array)) {
    throw clearingError("configuration", `expected bytes, got ${typeName(configuration)}`);
  }
  if (configuration.length > MAX_CONFIGURATION_BYTES) {
    throw clearingError("configuration", `${configuration.length} bytes exceed ${MAX_CONFIGURATION_BYTES}`);
  }
  return {
    accountsRoot: expectBytes(f[0]!, "accounts_root", 32),
    configuration,
    recordsHash: expectBytes(f[2]!, "records_hash", 32),
  };
}

export function hashMarket(market: Market): Uint8Array {
  const fields = [market.height, market.timeMs, market.markPrices, market.indexPrices];
  return sha256(concat(MARKET_DOMAIN, encodeMsgpack(fields)));
}

export function hashConfiguration(configuration: Uint8Array): Uint8Array {
  return sha256(concat(CONFIGURATION_DOMAIN, configuration));
}

/** The state root under which `proof` proves `market` and its configuration. */
export function getMarketRoot(proof: MarketProof, market: Market): Uint8Array {
  const globalsHash = sha256(
    concat(GLOBALS_PREFIX, hashMarket(market), hashConfiguration(proof.configuration), proof.recordsHash),
  );
  return sha256(concat(ROOT_PREFIX, proof.accountsRoot, globalsHash));
}

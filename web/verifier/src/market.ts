/** The market the statement is computed from, and its proof under the state root with
 * the configuration in force, the published roles and the published ledger
 * (clearing/risk/solvency.py SolvencyMarket, clearing/transition/root.py MarketProof). */

import { sha256 } from "@noble/hashes/sha2.js";
import { concat, utf8 } from "./bytes";
import { MAX_UINT64, decodeError, expectBytes, expectInt, expectList, expectStr, typeName } from "./codec";
import { compareCodePoints } from "./recompute/pyrepr.js";
import { encodeMsgpack } from "./msgpack";
import type { Value } from "./msgpack";
import type { PriceList, SolvencyMarket } from "./recompute/solvency.js";

const MARKET_DOMAIN = utf8("clearnode-market-v2");
const CONFIGURATION_DOMAIN = utf8("clearnode-configuration-v1");
const PUBLISHED_ROLES_DOMAIN = utf8("clearnode-published-roles-v1");
const PUBLISHED_LEDGER_DOMAIN = utf8("clearnode-published-ledger-v1");
const REPORTED_ACCOUNTS_DOMAIN = utf8("clearnode-reported-accounts-v1");
/** clearing/governance/configuration.py MAX_CONFIGURATION_BYTES. */
export const MAX_CONFIGURATION_BYTES = 4 * 1024 * 1024;
/** clearing/published_roles.py MAX_PUBLISHED_ROLES_BYTES. */
export const MAX_PUBLISHED_ROLES_BYTES = 8 * 1024 * 1024;
/** clearing/published_ledger.py MAX_PUBLISHED_LEDGER_BYTES. */
export const MAX_PUBLISHED_LEDGER_BYTES = 8 * 1024 * 1024;
/** clearing/transition/reported_accounts.py MAX_REPORTED_ACCOUNTS_BYTES. */
export const MAX_REPORTED_ACCOUNTS_BYTES = 8 * 1024 * 1024;
const ROOT_PREFIX = Uint8Array.of(0x03);
const GLOBALS_PREFIX = Uint8Array.of(0x07);

/** Field 9: the clearing state at the epoch's last block. */
export type Market = SolvencyMarket;

/** Field 10: with the market, gives the state root. */
export interface MarketProof {
  accountsRoot: Uint8Array;
  /** The configuration in force: canonical JSON, hashed and parsed as given. */
  configuration: Uint8Array;
  /** Who clears through whom (clearing/published_roles.py), decoded by clearing.ts. */
  roles: Uint8Array;
  /** The epoch's defaults, the insurance fund, the reserves and the reported cash
   * (clearing/published_ledger.py), decoded by ledger.ts. */
  ledger: Uint8Array;
  /** Every account a report must cover (clearing/transition/reported_accounts.py), decoded
   * by coverage.ts. */
  reportedAccounts: Uint8Array;
  recordsHash: Uint8Array;
}

/** [[id, price], ...] with ids strictly increasing and prices in [1, 2^64). */
function decodePriceList(obj: Value, what: string): PriceList {
  const items = expectList(obj, what).map((pair) => expectList(pair, what, 2));
  const prices: [string, bigint][] = items.map(([k, v]) => [expectStr(k!, what), expectInt(v!, what, 1n, MAX_UINT64)]);
  for (let i = 1; i < prices.length; i++) {
    if (compareCodePoints(prices[i - 1]![0], prices[i]![0]) >= 0) throw decodeError(what, "ids must be strictly increasing");
  }
  return prices;
}

export function decodeMarket(obj: Value): Market {
  const f = expectList(obj, "SolvencyMarket", 3);
  return {
    pricingTimeMs: expectInt(f[0]!, "pricing_time_ms", 0n, MAX_UINT64),
    markPrices: decodePriceList(f[1]!, "mark_prices"),
    indexPrices: decodePriceList(f[2]!, "index_prices"),
  };
}

/** root.py _expect_document: bytes of at most `maxBytes`. */
function expectDocument(obj: Value, what: string, maxBytes: number): Uint8Array {
  if (!(obj instanceof Uint8Array)) throw decodeError(what, `expected bytes, got ${typeName(obj)}`);
  if (obj.length > maxBytes) throw decodeError(what, `${obj.length} bytes exceed ${maxBytes}`);
  return obj;
}

export function decodeMarketProof(obj: Value): MarketProof {
  const f = expectList(obj, "MarketProof", 6);
  return {
    accountsRoot: expectBytes(f[0]!, "accounts_root", 32),
    configuration: expectDocument(f[1]!, "configuration", MAX_CONFIGURATION_BYTES),
    roles: expectDocument(f[2]!, "roles", MAX_PUBLISHED_ROLES_BYTES),
    ledger: expectDocument(f[3]!, "ledger", MAX_PUBLISHED_LEDGER_BYTES),
    reportedAccounts: expectDocument(f[4]!, "reported_accounts", MAX_REPORTED_ACCOUNTS_BYTES),
    recordsHash: expectBytes(f[5]!, "records_hash", 32),
  };
}

export function hashMarket(market: Market): Uint8Array {
  const fields = [market.pricingTimeMs, market.markPrices, market.indexPrices];
  return sha256(concat(MARKET_DOMAIN, encodeMsgpack(fields)));
}

export function hashConfiguration(configuration: Uint8Array): Uint8Array {
  return sha256(concat(CONFIGURATION_DOMAIN, configuration));
}

const hashPublishedRoles = (roles: Uint8Array): Uint8Array => sha256(concat(PUBLISHED_ROLES_DOMAIN, roles));
const hashPublishedLedger = (ledger: Uint8Array): Uint8Array => sha256(concat(PUBLISHED_LEDGER_DOMAIN, ledger));
const hashReportedAccounts = (accounts: Uint8Array): Uint8Array => sha256(concat(REPORTED_ACCOUNTS_DOMAIN, accounts));

/** The state root under which `proof` proves `market`, its configuration, the published
 * roles, the published ledger and the reported accounts. */
export function getMarketRoot(proof: MarketProof, market: Market): Uint8Array {
  const globalsHash = sha256(
    concat(
      GLOBALS_PREFIX,
      hashMarket(market),
      hashConfiguration(proof.configuration),
      hashPublishedRoles(proof.roles),
      hashPublishedLedger(proof.ledger),
      hashReportedAccounts(proof.reportedAccounts),
      proof.recordsHash,
    ),
  );
  return sha256(concat(ROOT_PREFIX, proof.accountsRoot, globalsHash));
}

/**
 * The parts of a genesis document the solvency rows depend on, validated by
 * the rules of `clearing/genesis.py` `parse_genesis` in its order: the chain
 * id, the epoch length, the settlement tokens, the collateral tokens, the
 * instruments and the `risk` object (parsed by `params.ts`). What the rows do
 * not read (validators, venues, oracle, starting prices, fees, clearing members and
 * their clients) is left to the verifier parts that read it.
 */

import { GenesisError } from "./errors.js";
import { isObject } from "./json.js";
import { PyRepr, reprBytes } from "./pyrepr.js";
import { BPS } from "./rational.js";
import { MAX_UINT64, Section } from "./section.js";

const GENESIS_VERSION = 1n;
const PPM = 1_000_000n;

export type InstrumentKind = "perpetual" | "future" | "option";
const KINDS: readonly InstrumentKind[] = ["perpetual", "future", "option"];

export interface Instrument {
  readonly id: string;
  readonly kind: InstrumentKind;
  readonly underlying: string; // an option's: the id of its future
  readonly indexFeed: string;
  readonly expiryMs: bigint | null;
  readonly strike: bigint | null;
  readonly isCall: boolean | null;
}

export interface CollateralToken {
  readonly chainId: bigint;
  readonly token: string; // 20 bytes, lowercase hex without 0x
  readonly haircutBps: bigint;
  readonly priceFeed: string;
}

export interface FormGenesis {
  readonly chainId: bigint;
  readonly epochLengthBlocks: bigint;
  readonly settlementTokens: ReadonlySet<string>; // collateralKey of each
  readonly collateral: readonly CollateralToken[];
  readonly instruments: readonly Instrument[];
  readonly risk: Record<string, unknown>; // empty: margining is off
}

export function collateralKey(chainId: bigint, token: string): string {
  return `${chainId}:${token}`;
}

const TOP_KEYS = new Set([
  "version", "chain_id", "genesis_time_ms", "epoch_length_blocks", "settlement_asset",
  "collateral", "instruments", "validators", "venues", "oracle", "index_prices",
  "mark_prices", "insurance_fund", "risk", "trade_id_window", "fees",
  "withdrawal_ttl_s", "vaults", "governance", "external_bridges", "listing_templates",
  "clearing_members", "clients", "porting_window_blocks", "settled_instrument_retention_ms",
  "min_public_contributors", "max_request_lifetime_ms", "engine",
]);

/** The genesis as the rows read it; `GenesisError` naming the first bad key. */
export function readFormGenesis(doc: unknown): FormGenesis {
  const top = new Section(doc, "", TOP_KEYS);
  if (top.integer("version") !== GENESIS_VERSION) {
    throw new GenesisError("version", String(GENESIS_VERSION), top.raw("version"));
  }
  const asset = new Section(top.raw("settlement_asset"), "settlement_asset",
    new Set(["symbol", "decimals", "tokens", "conversion_threshold"]));
  const collateral = top.sequence("collateral").map((item, n) => parseCollateral(item, `collateral[${n}]`));
  const instruments = top.sequence("instruments").map((item, n) => parseInstrument(item, `instruments[${n}]`));
  const risk = top.raw("risk");
  if (!isObject(risk)) throw new GenesisError("risk", "an object with string keys", risk);
  const engine = (doc as Record<string, unknown>)["engine"];
  if (engine !== undefined && engine !== null && engine !== "clearnode" && engine !== "cometbft") {
    throw new GenesisError("engine", "clearnode or cometbft", engine);
  }
  const chainId = top.integer("chain_id", 1n);
  top.integer("genesis_time_ms");
  const genesis: FormGenesis = {
    chainId,
    epochLengthBlocks: top.integer("epoch_length_blocks", 1n),
    settlementTokens: parseSettlementTokens(asset),
    collateral,
    instruments,
    risk,
  };
  checkCrossReferences(genesis);
  return genesis;
}

function parseSettlementTokens(asset: Section): Set<string> {
  const tokens = new Set<string>();
  if (asset.has("tokens")) {
    asset.sequence("tokens").forEach((item, n) => {
      const r = new Section(item, asset.key(`tokens[${n}]`), new Set(["chain_id", "token"]));
      tokens.add(collateralKey(r.integer("chain_id", 1n), r.hex("token", 20)));
    });
  }
  if (asset.has("conversion_threshold")) asset.integer("conversion_threshold");
  asset.text("symbol");
  asset.integer("decimals", 0n, 30n);
  return tokens;
}

function parseCollateral(item: unknown, path: string): CollateralToken {
  const r = new Section(item, path,
    new Set(["chain_id", "token", "symbol", "decimals", "quantum", "haircut_bps", "price_feed"]));
  const chainId = r.integer("chain_id", 1n);
  const token = r.hex("token", 20);
  r.text("symbol");
  r.integer("decimals", 0n, 36n);
  r.integer("quantum", 1n, 10n ** 36n);
  return { chainId, token, haircutBps: r.integer("haircut_bps", 0n, BPS - 1n), priceFeed: r.text("price_feed") };
}

const INSTRUMENT_KEYS = new Set([
  "id", "kind", "underlying", "index_feed", "contract_size", "tick_size", "price_band_bps",
  "fee_bps", "settlement", "expiry_ms", "strike", "option_type", "funding_interval_ms",
  "funding_interest_ppm",
]);
const OPTIONAL_KEYS = ["expiry_ms", "funding_interval_ms", "option_type", "strike"]; // sorted
const NEEDS: Record<InstrumentKind, ReadonlySet<string>> = {
  perpetual: new Set(["funding_interval_ms"]),
  future: new Set(["expiry_ms"]),
  option: new Set(["expiry_ms", "strike", "option_type"]),
};

function parseInstrument(item: unknown, path: string): Instrument {
  const r = new Section(item, path, INSTRUMENT_KEYS);
  const kind = r.choice("kind", KINDS);
  const needs = NEEDS[kind];
  for (const name of OPTIONAL_KEYS) {
    if (needs.has(name) !== r.has(name)) {
      const expected = needs.has(name) ? "present" : "absent";
      throw new GenesisError(r.key(name), `${expected} for a ${kind}`, r.data[name] ?? null);
    }
  }
  r.text("contract_size"); // its decimal form is descriptive: the rows never read it
  const id = r.text("id");
  const underlying = r.text("underlying");
  const indexFeed = r.text("index_feed");
  r.integer("tick_size", 1n);
  r.integer("price_band_bps", 1n, BPS);
  r.integer("fee_bps", 0n, BPS);
  r.choice("settlement", ["cash", "physical"]);
  const expiryMs = needs.has("expiry_ms") ? r.integer("expiry_ms") : null;
  const strike = needs.has("strike") ? r.integer("strike", 1n, MAX_UINT64) : null;
  const isCall = needs.has("option_type") ? r.choice("option_type", ["call", "put"]) === "call" : null;
  if (needs.has("funding_interval_ms")) r.integer("funding_interval_ms", 1n);
  const interest = "funding_interest_ppm";
  if (kind !== "perpetual" && r.has(interest)) {
    throw new GenesisError(r.key(interest), `absent for a ${kind}`, r.data[interest]);
  }
  if (kind === "perpetual" && r.has(interest)) r.integer(interest, -PPM, PPM);
  return { id, kind, underlying, indexFeed, expiryMs, strike, isCall };
}

function checkCrossReferences(g: FormGenesis): void {
  checkUnique(g.collateral.map((t) => collateralKey(t.chainId, t.token)), "collateral",
    (n) => new PyRepr(`(${g.collateral[n]?.chainId}, ${reprBytes(g.collateral[n]?.token ?? "")})`));
  checkUnique(g.instruments.map((i) => i.id), "instruments", (n) => g.instruments[n]?.id);
  const byId = new Map(g.instruments.map((i) => [i.id, i]));
  g.instruments.forEach((inst, n) => {
    if (inst.kind === "option" && byId.get(inst.underlying)?.kind !== "future") {
      throw new GenesisError(`instruments[${n}].underlying`, "a listed future", inst.underlying);
    }
  });
}

function checkUnique(keys: readonly string[], path: string, shown: (n: number) => unknown): void {
  const seen = new Set<string>();
  keys.forEach((key, n) => {
    if (seen.has(key)) throw new GenesisError(`${path}[${n}]`, "a unique id", shown(n));
    seen.add(key);
  });
}

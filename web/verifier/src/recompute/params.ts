/**
 * The genesis `risk` section validated into `RiskParams`: a port of
 * `clearing/risk/params.py` `parse_risk_params`, key for key and in its order,
 * so a bad section fails with the Python's `GenesisError`. Only the parameters
 * the solvency rows depend on are kept; the rest are validated and dropped.
 */

import { GenesisError } from "./errors.js";
import { reprList, sortedStrings } from "./pyrepr.js";
import { BPS } from "./rational.js";
import { checkInteger, fromHex, Section } from "./section.js";

const MAX_SCENARIOS_LIMIT = 4096n;
const MAX_MARGIN_CALL_DEADLINE_BLOCKS = 10n ** 6n;
const INSURANCE_MEMBER = "00".repeat(20);

export interface UnderlyingParams {
  readonly name: string;
  readonly group: string;
  readonly scanBps: bigint;
  readonly volBps: bigint;
  readonly volScanBps: bigint;
  readonly floorBps: bigint;
}

export interface StressDay {
  readonly label: string;
  readonly movesBps: ReadonlyMap<string, bigint>;
}

export interface RiskParams {
  readonly kNum: bigint;
  readonly kDen: bigint;
  readonly priceSteps: bigint;
  readonly extremeMultiple: bigint;
  readonly extremeCoverBps: bigint;
  readonly maxScenarios: bigint;
  readonly rateBps: bigint;
  readonly underlyings: readonly UnderlyingParams[]; // sorted by name
  readonly stressDays: readonly StressDay[];
  readonly pricingIntervalMs: bigint; // options priced at the block time floored to it
}

/** `clearing.risk.params.DEFAULT_PRICING_INTERVAL_MS` and `MAX_PRICING_INTERVAL_MS`. */
const DEFAULT_PRICING_INTERVAL_MS = 1n;
const MAX_PRICING_INTERVAL_MS = 86_400_000n;

const TOP_KEYS = new Set([
  "k_num", "k_den", "price_steps", "extreme_multiple", "extreme_cover_bps", "max_scenarios",
  "rate_bps", "underlyings", "stress_days", "liquidation", "default_fund", "backstops",
  "margin_call", "auction", "pricing_interval_ms",
]);

export function parseRiskParams(section: Record<string, unknown>): RiskParams {
  const top = new Section(section, "risk", TOP_KEYS);
  const kNum = top.integer("k_num", 1n);
  const kDen = top.integer("k_den", 1n);
  if (!(kNum < kDen)) throw new GenesisError("risk.k_num", `less than k_den=${kDen} (0 < k < 1)`, kNum);
  const names = top.mapping("underlyings");
  if (Object.keys(names).length === 0) throw new GenesisError("risk.underlyings", "at least one underlying", {});
  const underlyings = sortedStrings(Object.keys(names)).map((n) => parseUnderlying(n, names[n]));
  const known = new Set(underlyings.map((u) => u.name));
  const stressDays = top
    .sequence("stress_days")
    .map((item, n) => parseStressDay(item, `risk.stress_days[${n}]`, known));
  const liq = new Section(top.raw("liquidation"), "risk.liquidation",
    new Set(["penalty_bps", "fee_bps", "max_per_block", "partial_steps"]));
  const penalty = liq.integer("penalty_bps", 0n, BPS);
  const df = new Section(top.raw("default_fund"), "risk.default_fund",
    new Set(["cover", "stress_multiple", "assessment_cap_bps"]));
  const extremeMultiple = top.integer("extreme_multiple", 1n, 100n);
  checkExtremeMoves(underlyings, extremeMultiple);
  const params: RiskParams = {
    kNum,
    kDen,
    priceSteps: top.integer("price_steps", 1n, 100n),
    extremeMultiple,
    extremeCoverBps: top.integer("extreme_cover_bps", 0n, BPS),
    maxScenarios: top.integer("max_scenarios", 2n, MAX_SCENARIOS_LIMIT),
    rateBps: top.integer("rate_bps", 0n, BPS),
    underlyings,
    stressDays,
    pricingIntervalMs: top.contains("pricing_interval_ms")
      ? top.integer("pricing_interval_ms", 1n, MAX_PRICING_INTERVAL_MS)
      : DEFAULT_PRICING_INTERVAL_MS,
  };
  liq.integer("fee_bps", 0n, penalty);
  liq.integer("max_per_block", 1n, 10n ** 6n);
  liq.integer("partial_steps", 1n, 1000n);
  df.integer("cover", 1n, 100n);
  df.integer("stress_multiple", 1n, 100n);
  if (df.contains("assessment_cap_bps")) df.integer("assessment_cap_bps", 0n, 10n * BPS);
  checkBackstops(top.contains("backstops") ? top.sequence("backstops") : []);
  checkMarginCall(top.contains("margin_call") ? top.raw("margin_call") : {});
  checkAuction(top.contains("auction") ? top.raw("auction") : {});
  return params;
}

/** The extreme down move (`multiple` scan ranges) must leave every price above zero,
 * as `clearing.risk.params._check_extreme_moves` refuses otherwise. */
function checkExtremeMoves(underlyings: readonly UnderlyingParams[], multiple: bigint): void {
  for (const u of underlyings) {
    if (multiple * u.scanBps >= BPS) {
      const limit = (BPS + multiple - 1n) / multiple - 1n;
      throw new GenesisError(
        `risk.underlyings.${u.name}.scan_bps`,
        `at most ${limit}: extreme_multiple ${multiple} times it is the extreme down move, ` +
          "which must leave the price above zero",
        u.scanBps,
      );
    }
  }
}

function parseUnderlying(name: string, obj: unknown): UnderlyingParams {
  const r = new Section(obj, `risk.underlyings.${name}`,
    new Set(["group", "scan_bps", "vol_bps", "vol_scan_bps", "floor_bps"]));
  return {
    name,
    group: r.text("group"),
    scanBps: r.integer("scan_bps", 1n, BPS - 1n),
    volBps: r.integer("vol_bps", 1n, 100n * BPS),
    volScanBps: r.integer("vol_scan_bps", 0n, 100n * BPS),
    floorBps: r.integer("floor_bps", 0n, BPS),
  };
}

function parseStressDay(obj: unknown, path: string, known: ReadonlySet<string>): StressDay {
  const r = new Section(obj, path, new Set(["label", "moves_bps"]));
  const moves = r.mapping("moves_bps");
  const movesBps = new Map<string, bigint>();
  for (const name of sortedStrings(Object.keys(moves))) {
    if (!known.has(name)) {
      throw new GenesisError(`${path}.moves_bps.${name}`, `one of ${reprList(sortedStrings(known))}`, name);
    }
    movesBps.set(name, checkInteger(moves[name], `${path}.moves_bps.${name}`, -9999n, 10n ** 6n));
  }
  return { label: r.text("label"), movesBps };
}

function checkBackstops(items: readonly unknown[]): void {
  const backstops = items.map((item, n) => parseBackstop(item, `risk.backstops[${n}]`));
  backstops.forEach(([member, subAccount], n) => {
    if (member === INSURANCE_MEMBER) {
      throw new GenesisError(`risk.backstops[${n}].member`, "not the clearing house", "0x" + member);
    }
    if (backstops.slice(0, n).some(([m, s]) => m === member && s === subAccount)) {
      throw new GenesisError(`risk.backstops[${n}]`, "listed once", ["0x" + member, subAccount]);
    }
  });
}

function parseBackstop(obj: unknown, path: string): [string, bigint] {
  const r = new Section(obj, path, new Set(["member", "sub_account"]));
  const text = r.text("member");
  let member = "";
  if (text.startsWith("0x")) member = fromHex(text.slice(2)) ?? "";
  if (member.length !== 40) throw new GenesisError(`${path}.member`, "0x-hex of 20 bytes", text);
  return [member, r.integer("sub_account", 0n, 2n ** 32n - 1n)];
}

function checkMarginCall(obj: unknown): void {
  const r = new Section(obj, "risk.margin_call", new Set(["deadline_blocks"]));
  if (r.contains("deadline_blocks")) r.integer("deadline_blocks", 1n, MAX_MARGIN_CALL_DEADLINE_BLOCKS);
}

function checkAuction(obj: unknown): void {
  const r = new Section(obj, "risk.auction", new Set(["window_blocks", "rounds", "split"]));
  if (r.contains("window_blocks")) r.integer("window_blocks", 1n, 10_000n);
  if (r.contains("rounds")) r.integer("rounds", 1n, 10n);
  if (r.contains("split")) r.integer("split", 1n, 100n);
}

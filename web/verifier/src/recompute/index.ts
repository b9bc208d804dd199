/**
 * The solvency statement recomputed from the genesis and the report's market,
 * with the arithmetic of the Python clearing code (`proofs/recompute.py`):
 * a report whose rows differ from these is wrong, whoever signed it.
 */

export { compareStatement, describeDifferences, getScenarioNames, MAX_LISTED, recomputeStatement } from "./compare.js";
export type { RecomputedStatement } from "./compare.js";
export { GenesisError, MarketMismatch, OptionValueUndefined, StatementError } from "./errors.js";
export { JsonSyntaxError, parseJson, PyFloat } from "./json.js";
export type { JsonValue } from "./json.js";
export type { PriceList, SolvencyMarket, Statement } from "./solvency.js";

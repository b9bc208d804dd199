/**
 * The configuration in force a report carries (its market proof's bytes), put in the
 * genesis document in place of the genesis's instruments and risk section: what the statement is
 * recomputed from once governance listed instruments or changed risk parameters
 * (`clearing/governance/configuration.py` `decode_configuration_doc`,
 * `apply_configuration`). The bytes are parsed as given, never re-encoded: their hash
 * is what the state root holds.
 */

import { MAX_CONFIGURATION_BYTES } from "./market";
import { GenesisError } from "./recompute/errors.js";
import { collateralKey, readFormGenesis } from "./recompute/genesis.js";
import { asInt, isObject, parseJson } from "./recompute/json.js";
import { sortedStrings } from "./recompute/pyrepr.js";

const CONFIGURATION_KEYS = [
  "collateral_haircuts", "external_bridges", "instruments", "insurance_fund_bps", "listing_templates", "risk", "venues",
];
const BPS = 10_000n;
const MAX_DOCUMENT_DEPTH = 16; // clearing/governance_documents.py: checked before parsing,
// so that the parser's recursion never meets a stack limit

/** The deepest nesting of arrays and objects in JSON `text` (brackets inside strings do not count). */
function getNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  let escaped = false;
  for (const char of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (char === "\\") escaped = true;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === "[" || char === "{") {
      depth += 1;
      deepest = Math.max(deepest, depth);
    } else if (char === "]" || char === "}") {
      depth -= 1;
    }
  }
  return deepest;
}

/** The configuration's sections; `GenesisError` naming what is wrong. */
export function decodeConfiguration(data: Uint8Array): Record<string, unknown> {
  if (data.length > MAX_CONFIGURATION_BYTES) {
    throw new GenesisError("configuration", `at most ${MAX_CONFIGURATION_BYTES} bytes`, BigInt(data.length));
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch {
    throw new GenesisError("configuration", "UTF-8 text", null);
  }
  const depth = getNestingDepth(text);
  if (depth > MAX_DOCUMENT_DEPTH) {
    throw new GenesisError("configuration", `nested at most ${MAX_DOCUMENT_DEPTH} deep`, BigInt(depth));
  }
  let doc: unknown;
  try {
    doc = parseJson(text);
  } catch {
    throw new GenesisError("configuration", "JSON", null);
  }
  const keys = isObject(doc) ? sortedStrings(Object.keys(doc)) : null;
  if (keys === null || keys.join("\u0000") !== CONFIGURATION_KEYS.join("\u0000")) {
    const expected = "[" + CONFIGURATION_KEYS.map((k) => `'${k}'`).join(", ") + "]";
    throw new GenesisError("configuration", `an object with keys ${expected}`, keys);
  }
  return doc as Record<string, unknown>;
}

/** The genesis document `genesis` with the instruments, the risk section and the
 * collateral haircuts of the configuration `data` in place of the genesis's: what the
 * statement is recomputed from (the other sections are proven with them, and no check of
 * a report reads them). `GenesisError` for a configuration that is not one; the
 * instruments and risk section are validated where the genesis's are (`readFormGenesis`),
 * the haircuts here, as `apply_configuration` validates them. */
export function applyConfiguration(genesis: unknown, data: Uint8Array): Record<string, unknown> {
  const config = decodeConfiguration(data);
  const doc = isObject(genesis) ? genesis : {};
  const haircuts = applyHaircuts(genesis, config["collateral_haircuts"]);
  const collateral = Array.isArray(doc["collateral"]) ? doc["collateral"] : [];
  return {
    ...doc,
    instruments: config["instruments"],
    risk: config["risk"],
    collateral: collateral.map((entry, n) => ({ ...(isObject(entry) ? entry : {}), haircut_bps: haircuts[n] })),
  };
}

/** The haircut of each of the genesis's collateral tokens, in its order: one entry
 * `[chain_id, token, haircut_bps]` per token (governance changes haircuts, never the
 * tokens); `apply_haircuts`' checks and words. */
function applyHaircuts(genesis: unknown, haircuts: unknown): bigint[] {
  const form = readFormGenesis(genesis); // the genesis was checked before any report
  const count = form.collateral.length;
  if (!Array.isArray(haircuts) || haircuts.length !== count) {
    throw new GenesisError("collateral_haircuts", `a list of ${count} entries`, null);
  }
  return form.collateral.map((token, n) => {
    const path = `collateral_haircuts[${n}]`;
    const entry: unknown = haircuts[n];
    if (
      !Array.isArray(entry) ||
      entry.length !== 3 ||
      asInt(entry[0]) !== token.chainId ||
      entry[1] !== "0x" + token.token
    ) {
      throw new GenesisError(path, "[chain_id, token, haircut_bps] of the genesis's token", null);
    }
    const haircut = asInt(entry[2]);
    if (haircut === null || haircut < 0n || haircut >= BPS) {
      throw new GenesisError(path, `a haircut_bps in [0, ${BPS - 1n}]`, null);
    }
    if (haircut !== 0n && form.settlementTokens.has(collateralKey(token.chainId, token.token))) {
      throw new GenesisError(path, "haircut_bps 0 for a settlement token", null);
    }
    return haircut;
  });
}

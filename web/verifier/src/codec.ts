/** Field checks of lightclient/codec.py with its error wording (`cannot decode what:
 * reason`), for the report fields that clearing decodes (market, defaults). */

import { DecodeError } from "./errors";
import type { Value } from "./msgpack";
import { toHex } from "./bytes";
import { reprBytes, reprStr } from "./recompute/pyrepr.js";

export const MAX_UINT64 = (1n << 64n) - 1n;

export function typeName(v: Value): string {
  if (typeof v === "bigint") return "int";
  if (typeof v === "string") return "str";
  if (v instanceof Uint8Array) return "bytes";
  if (Array.isArray(v)) return "list";
  if (v === null) return "NoneType";
  if (typeof v === "boolean") return "bool";
  return v.kind;
}

/** Python's `repr` of a decoded value, for errors that quote one. */
export function reprValue(v: Value): string {
  if (typeof v === "bigint") return String(v);
  if (typeof v === "string") return reprStr(v);
  if (v instanceof Uint8Array) return reprBytes(toHex(v));
  if (Array.isArray(v)) return `[${v.map(reprValue).join(", ")}]`;
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  return v.kind;
}

/** A failure of the codec's decoding, worded as its `DecodeError`'s `str()`. */
export function decodeError(what: string, reason: string): DecodeError {
  return new DecodeError(`cannot decode ${what}: ${reason}`);
}

export function expectList(obj: Value, what: string, length?: number): Value[] {
  if (!Array.isArray(obj)) throw decodeError(what, `expected a list, got ${typeName(obj)}`);
  if (length !== undefined && obj.length !== length) {
    throw decodeError(what, `expected ${length} fields, got ${obj.length}`);
  }
  return obj;
}

export function expectInt(obj: Value, what: string, lo = 0n, hi = MAX_UINT64): bigint {
  if (typeof obj !== "bigint") throw decodeError(what, `expected an integer, got ${typeName(obj)}`);
  if (obj < lo || obj > hi) throw decodeError(what, `${obj} outside [${lo}, ${hi}]`);
  return obj;
}

export function expectBytes(obj: Value, what: string, length: number): Uint8Array {
  if (!(obj instanceof Uint8Array)) throw decodeError(what, `expected bytes, got ${typeName(obj)}`);
  if (obj.length !== length) throw decodeError(what, `expected ${length} bytes, got ${obj.length}`);
  return obj;
}

export function expectStr(obj: Value, what: string, maxLength = 64): string {
  if (typeof obj !== "string" || obj.length === 0 || [...obj].length > maxLength) {
    const shown = typeof obj === "string" ? reprStr(obj) : typeName(obj);
    throw decodeError(what, `expected a string of 1..${maxLength} chars, got ${shown.slice(0, 80)}`);
  }
  return obj;
}

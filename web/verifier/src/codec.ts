/** Field checks of records/codec.py with its error wording (`cannot decode what:
 * reason`), for the report fields that clearing decodes (market, defaults). */

import { DecodeError } from "./errors";
import type { Value } from "./msgpack";
import { fromBigEndian, toHex } from "./bytes";
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

const MIN_INT64 = -(1n << 63n);

/** expect_big_int: an int where msgpack holds one, past 64 bits a sign byte (0 or 1) and
 * its minimal big-endian magnitude; at least `lo` if given. */
export function expectBigInt(obj: Value, what: string, lo?: bigint): bigint {
  let value: bigint;
  if (typeof obj === "bigint") {
    value = obj;
  } else if (!(obj instanceof Uint8Array) || obj.length < 2 || obj[0]! > 1 || obj[1] === 0) {
    throw decodeError(what, `expected an integer, got ${reprValue(obj).slice(0, 40)}`);
  } else {
    const magnitude = fromBigEndian(obj.subarray(1));
    value = obj[0] ? -magnitude : magnitude;
    if (value >= MIN_INT64 && value <= MAX_UINT64) throw decodeError(what, "a small integer must be encoded as an int");
  }
  if (lo !== undefined && value < lo) throw decodeError(what, `${value} is below ${lo}`);
  return value;
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

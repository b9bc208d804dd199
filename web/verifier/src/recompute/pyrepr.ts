/**
 * Python's `repr` of the values a genesis JSON holds, and its string order.
 *
 * The failure lines must be worded exactly like `proofs.recompute`'s, which
 * print labels, ids and genesis values with `repr`: single quotes unless the
 * text holds one and no double quote, `True`/`None`, floats in Python's
 * shortest form (`1e+16`, `1.0`).
 */

import { KEY_ORDER, PyFloat } from "./json.js";

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

export function reprStr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && NOT_PRINTABLE.test(ch)) out += escapeCode(code);
    else out += ch;
  }
  return out + quote;
}

function escapeCode(code: number): string {
  if (code < 0x100) return "\\x" + code.toString(16).padStart(2, "0");
  if (code < 0x10000) return "\\u" + code.toString(16).padStart(4, "0");
  return "\\U" + code.toString(16).padStart(8, "0");
}

/** `repr(float)`: the shortest digits that read back, fixed between 1e-4 and 1e16. */
export function reprFloat(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  const sign = value < 0 || Object.is(value, -0) ? "-" : "";
  const [mantissa = "0", exponent = "0"] = Math.abs(value).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(exponent);
  if (exp < -4 || exp >= 16) {
    const rest = digits.length > 1 ? "." + digits.slice(1) : "";
    const e = Math.abs(exp).toString().padStart(2, "0");
    return `${sign}${digits[0]}${rest}e${exp < 0 ? "-" : "+"}${e}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  const frac = digits.slice(exp + 1);
  return `${sign}${whole}.${frac || "0"}`;
}

/** A value whose Python `repr` is already written (a tuple holding bytes). */
export class PyRepr {
  constructor(readonly text: string) {}
}

/** `repr(bytes.fromhex(hex))`: `b'\\x00...'`, printable ASCII as itself. */
export function reprBytes(hex: string): string {
  const bytes = (hex.match(/../g) ?? []).map((h) => parseInt(h, 16));
  const quote = bytes.includes(0x27) && !bytes.includes(0x22) ? '"' : "'";
  let out = "b" + quote;
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (b >= 0x20 && b < 0x7f) out += ch;
    else out += "\\x" + b.toString(16).padStart(2, "0");
  }
  return out + quote;
}

/** `repr` of a JSON value as Python's `json` module would have loaded it. */
export function repr(value: unknown): string {
  if (typeof value === "string") return reprStr(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : reprFloat(value);
  if (value instanceof PyFloat) return reprFloat(value.value);
  if (value instanceof PyRepr) return value.text;
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null || value === undefined) return "None";
  if (Array.isArray(value)) return "[" + value.map(repr).join(", ") + "]";
  if (typeof value === "object") {
    const record = value as Record<string, unknown> & { [KEY_ORDER]?: readonly string[] };
    const keys = record[KEY_ORDER] ?? Object.keys(record);
    const items = keys.map((k) => `${reprStr(k)}: ${repr(record[k])}`);
    return "{" + items.join(", ") + "}";
  }
  return String(value);
}

/** `repr(list_of_str)`. */
export function reprList(items: readonly string[]): string {
  return "[" + items.map(reprStr).join(", ") + "]";
}

/** `repr(tuple_of_str)`: a one-element tuple keeps its comma. */
export function reprTuple(items: readonly string[]): string {
  return items.length === 1 ? `(${reprStr(items[0] ?? "")},)` : "(" + items.map(reprStr).join(", ") + ")";
}

/** Python's `str` order: by code point (JavaScript's sort compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let n = 0; n < Math.min(x.length, y.length); n++) {
    const d = (x[n] ?? 0) - (y[n] ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

export function sortedStrings(items: Iterable<string>): string[] {
  return Array.from(items).sort(compareCodePoints);
}

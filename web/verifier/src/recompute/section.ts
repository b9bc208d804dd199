/**
 * Typed access to one JSON object of the genesis, remembering its dotted path:
 * the rules of `clearing.genesis._Reader` and `clearing.risk.params._Section`
 * (unknown keys are errors, keys starting with `_` are comments), raising the
 * same `GenesisError(key, expected, got)`.
 */

import { GenesisError } from "./errors.js";
import { asInt, isObject } from "./json.js";
import { reprList, sortedStrings } from "./pyrepr.js";

export const MAX_UINT64 = 2n ** 64n - 1n;

export function joinPath(path: string, name: string): string {
  return path ? `${path}.${name}` : name;
}

/** `value` as an int in [lo, hi], else `GenesisError(key, "an integer in [lo, hi]", value)`. */
export function checkInteger(value: unknown, key: string, lo: bigint, hi: bigint): bigint {
  const n = asInt(value);
  if (n === null || n < lo || n > hi) throw new GenesisError(key, `an integer in [${lo}, ${hi}]`, value);
  return n;
}

export class Section {
  readonly data: Record<string, unknown>;

  constructor(
    obj: unknown,
    readonly path: string,
    allowed: ReadonlySet<string>,
  ) {
    if (!isObject(obj)) throw new GenesisError(path || "<root>", "an object", obj);
    const unknown = sortedStrings(Object.keys(obj).filter((k) => !k.startsWith("_") && !allowed.has(k)));
    if (unknown.length > 0) {
      const expected = `one of ${reprList(sortedStrings(allowed))}`;
      throw new GenesisError(joinPath(path, unknown[0] ?? ""), expected, "unknown key");
    }
    this.data = obj;
  }

  key(name: string): string {
    return joinPath(this.path, name);
  }

  /** The key is there (with any value, even null): Python's `name in obj`. */
  contains(name: string): boolean {
    return Object.hasOwn(this.data, name);
  }

  /** The key is there and not null: `_Reader.has`. */
  has(name: string): boolean {
    return this.contains(name) && this.data[name] !== null;
  }

  raw(name: string): unknown {
    if (!this.contains(name)) throw new GenesisError(this.key(name), "present", "missing");
    return this.data[name];
  }

  integer(name: string, lo = 0n, hi = MAX_UINT64): bigint {
    return checkInteger(this.raw(name), this.key(name), lo, hi);
  }

  text(name: string): string {
    const value = this.raw(name);
    if (typeof value !== "string" || value === "") throw new GenesisError(this.key(name), "a non-empty string", value);
    return value;
  }

  mapping(name: string): Record<string, unknown> {
    const value = this.raw(name);
    if (!isObject(value)) throw new GenesisError(this.key(name), "an object", value);
    return value;
  }

  sequence(name: string): unknown[] {
    const value = this.raw(name);
    if (!Array.isArray(value)) throw new GenesisError(this.key(name), "a list", value);
    return value;
  }

  /** Lowercase hex of `0x`-prefixed bytes of `length` bytes: `_Reader.get_hex`. */
  hex(name: string, length: number): string {
    const value = this.raw(name);
    const data = typeof value === "string" && value.startsWith("0x") ? fromHex(value.slice(2)) : null;
    if (data === null || data.length !== length * 2) {
      throw new GenesisError(this.key(name), `0x-hex of ${length} bytes`, value);
    }
    return data;
  }

  choice<T extends string>(name: string, choices: readonly T[]): T {
    const value = this.raw(name);
    const found = choices.find((c) => c === value);
    if (found === undefined) throw new GenesisError(this.key(name), `one of ${reprList(choices)}`, value);
    return found;
  }
}

/** Python's `bytes.fromhex(text).hex()`: pairs of hex digits, ASCII whitespace allowed
 * between pairs; null where Python raises `ValueError`. */
export function fromHex(text: string): string | null {
  let out = "";
  let at = 0;
  for (;;) {
    while (at < text.length && " \t\n\r\v\f".includes(text[at] ?? "")) at++;
    if (at >= text.length) return out;
    const pair = text.slice(at, at + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) return null;
    out += pair.toLowerCase();
    at += 2;
  }
}

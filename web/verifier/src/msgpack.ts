/** msgpack as the Python side writes it (`msgpack.packb(..., use_bin_type=True)`).

Decoding goes through @msgpack/msgpack; every integer comes out as a bigint. The
encoder is our own: it must give Python's bytes exactly (smallest int format, str8,
bin for bytes), since hashes, signatures and the canonical-encoding check all
depend on them. A float whose value is an integer decodes as that integer; the
canonical check (re-encode and compare) still refuses it, as Python refuses a float. */

import { decode } from "@msgpack/msgpack";
import { DecodeError } from "./errors";
import { concat, toBigEndian, utf8 } from "./bytes";

/** A decoded value: ints, strings, bytes, booleans, lists, nil; anything else is `Other`. */
export type Value = bigint | string | Uint8Array | boolean | Value[] | null | Other;

/** A value no report field holds (a map, a float, an extension). */
export class Other {
  constructor(readonly kind: string) {}
}

export function decodeMsgpack(data: Uint8Array): Value {
  let raw: unknown;
  try {
    raw = decode(data, { useBigInt64: true });
  } catch (exc) {
    throw new DecodeError(`report is not msgpack: ${exc instanceof Error ? exc.message : exc}`);
  }
  // The library replaces bytes that are not UTF-8; Python's msgpack refuses them.
  if (!hasValidStrings(data)) throw new DecodeError("report is not msgpack: a string is not UTF-8");
  return normalize(raw);
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Every str of well-formed msgpack `data` is UTF-8 (a walk over its items' heads). */
function hasValidStrings(data: Uint8Array): boolean {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  let pending = 1; // items still to read
  const skip = (n: number): void => void (at += n);
  const str = (start: number, n: number): boolean => {
    try {
      STRICT_UTF8.decode(data.subarray(start, start + n));
      return true;
    } catch {
      return false;
    }
  };
  while (pending > 0) {
    pending -= 1;
    const b = data[at++]!;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
    if (b >= 0x80 && b <= 0x8f) pending += 2 * (b & 0x0f);
    else if (b >= 0x90 && b <= 0x9f) pending += b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf) {
      if (!str(at, b & 0x1f)) return false;
      skip(b & 0x1f);
    } else if (b >= 0xd9 && b <= 0xdb) {
      const size = 1 << (b - 0xd9);
      const n = size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at) : view.getUint32(at);
      if (!str(at + size, n)) return false;
      skip(size + n);
    } else if (b >= 0xc4 && b <= 0xc6) {
      const size = 1 << (b - 0xc4);
      skip(size + (size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at) : view.getUint32(at)));
    } else if (b >= 0xc7 && b <= 0xc9) {
      const size = 1 << (b - 0xc7);
      skip(size + 1 + (size === 1 ? view.getUint8(at) : size === 2 ? view.getUint16(at) : view.getUint32(at)));
    } else if (b === 0xca || b === 0xcb) skip(b === 0xca ? 4 : 8);
    else if (b >= 0xcc && b <= 0xd3) skip(1 << ((b - 0xcc) & 3));
    else if (b >= 0xd4 && b <= 0xd8) skip(1 + (1 << (b - 0xd4)));
    else if (b === 0xdc || b === 0xdd) {
      pending += b === 0xdc ? view.getUint16(at) : view.getUint32(at);
      skip(b === 0xdc ? 2 : 4);
    } else if (b === 0xde || b === 0xdf) {
      pending += 2 * (b === 0xde ? view.getUint16(at) : view.getUint32(at));
      skip(b === 0xde ? 2 : 4);
    }
  }
  return true;
}

function normalize(raw: unknown): Value {
  if (typeof raw === "bigint" || typeof raw === "string" || raw instanceof Uint8Array) return raw;
  if (typeof raw === "number") return Number.isInteger(raw) ? BigInt(raw) : new Other("float");
  if (Array.isArray(raw)) return raw.map(normalize);
  if (raw === null) return null;
  if (typeof raw === "boolean") return raw;
  return new Other(raw instanceof Map || typeof raw === "object" ? "dict" : typeof raw);
}

/** What the encoder takes: the report's own field types. */
export type Packable = bigint | number | string | Uint8Array | boolean | null | Other | readonly Packable[];

export function encodeMsgpack(value: Packable): Uint8Array {
  const parts: Uint8Array[] = [];
  pack(value, parts);
  return concat(...parts);
}

function head(byte: number, length: bigint, size: number): Uint8Array {
  return concat(Uint8Array.of(byte), toBigEndian(length, size));
}

function pack(value: Packable, out: Uint8Array[]): void {
  if (value === null) {
    out.push(Uint8Array.of(0xc0));
  } else if (typeof value === "boolean") {
    out.push(Uint8Array.of(value ? 0xc3 : 0xc2));
  } else if (typeof value === "number") {
    pack(BigInt(value), out);
  } else if (typeof value === "bigint") {
    out.push(packInt(value));
  } else if (typeof value === "string") {
    const body = utf8(value);
    const n = body.length;
    if (n < 32) out.push(Uint8Array.of(0xa0 | n));
    else if (n < 0x100) out.push(head(0xd9, BigInt(n), 1));
    else if (n < 0x10000) out.push(head(0xda, BigInt(n), 2));
    else out.push(head(0xdb, BigInt(n), 4));
    out.push(body);
  } else if (value instanceof Other) {
    throw new DecodeError(`a ${value.kind} has no place in a report`);
  } else if (value instanceof Uint8Array) {
    const n = value.length;
    if (n < 0x100) out.push(head(0xc4, BigInt(n), 1));
    else if (n < 0x10000) out.push(head(0xc5, BigInt(n), 2));
    else out.push(head(0xc6, BigInt(n), 4));
    out.push(value);
  } else {
    const n = value.length;
    if (n < 16) out.push(Uint8Array.of(0x90 | n));
    else if (n < 0x10000) out.push(head(0xdc, BigInt(n), 2));
    else out.push(head(0xdd, BigInt(n), 4));
    for (const item of value) pack(item, out);
  }
}

function packInt(v: bigint): Uint8Array {
  if (v >= 0n) {
    if (v < 0x80n) return Uint8Array.of(Number(v));
    if (v < 0x100n) return head(0xcc, v, 1);
    if (v < 0x10000n) return head(0xcd, v, 2);
    if (v < 0x100000000n) return head(0xce, v, 4);
    if (v < 1n << 64n) return head(0xcf, v, 8);
    throw new DecodeError(`integer ${v} does not fit msgpack`);
  }
  const twos = (bits: number): bigint => (1n << BigInt(bits)) + v;
  if (v >= -32n) return Uint8Array.of(Number(twos(8)));
  if (v >= -0x80n) return head(0xd0, twos(8), 1);
  if (v >= -0x8000n) return head(0xd1, twos(16), 2);
  if (v >= -0x80000000n) return head(0xd2, twos(32), 4);
  if (v >= -(1n << 63n)) return head(0xd3, twos(64), 8);
  throw new DecodeError(`integer ${v} does not fit msgpack`);
}

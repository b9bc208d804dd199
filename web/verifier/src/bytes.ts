/** Byte strings: hex, concatenation, big-endian integers, ordering. */

import { DecodeError } from "./errors";

export function toHex(data: Uint8Array): string {
  let out = "";
  for (const b of data) out += b.toString(16).padStart(2, "0");
  return out;
}

export function fromHex(text: string): Uint8Array {
  const clean = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new DecodeError(`not hex: ${clean.slice(0, 40)}`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic order, as Python orders bytes. */
export function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** `value` as `length` bytes big-endian (value >= 0 and fits). */
export function toBigEndian(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function fromBigEndian(data: Uint8Array): bigint {
  let v = 0n;
  for (const b of data) v = (v << 8n) | BigInt(b);
  return v;
}

export const u16be = (v: bigint | number): Uint8Array => toBigEndian(BigInt(v), 2);
export const u32be = (v: bigint | number): Uint8Array => toBigEndian(BigInt(v), 4);
export const u64be = (v: bigint | number): Uint8Array => toBigEndian(BigInt(v), 8);

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

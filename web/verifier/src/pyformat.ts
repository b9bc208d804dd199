/** Values written as the Python verifier writes them (`repr`, `Fraction`, `#x`), so that
 * a failure line reads the same in the browser as in `clearnode verify`. */

export function reprStr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += "\\" + quote;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + quote;
}

/** `repr` of a list of strings: ['a', 'b']. */
export function reprList(items: readonly string[]): string {
  return `[${items.map(reprStr).join(", ")}]`;
}

/** `repr` of a tuple of strings or ints: ('a',) and (1, 2). */
export function reprTuple(items: readonly (string | bigint)[]): string {
  const parts = items.map((x) => (typeof x === "string" ? reprStr(x) : String(x)));
  return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(", ")})`;
}

/** `str(Fraction(num, den))`: reduced, the sign on the numerator, no "/1". */
export function formatFraction(num: bigint, den: bigint): string {
  const abs = (x: bigint): bigint => (x < 0n ? -x : x);
  let a = abs(num);
  let b = abs(den);
  while (b) [a, b] = [b, a % b];
  const g = a === 0n ? 1n : a;
  let n = num / g;
  let d = den / g;
  if (d < 0n) [n, d] = [-n, -d];
  return d === 1n ? String(n) : `${n}/${d}`;
}

/** `f"{k:#x}"`. */
export function formatHexInt(k: bigint): string {
  return k < 0n ? `-0x${(-k).toString(16)}` : `0x${k.toString(16)}`;
}

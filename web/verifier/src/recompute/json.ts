/**
 * JSON read as Python's `json.loads` reads it: integers exact (as bigint, so a
 * strike or a price of 2^64 - 1 keeps every digit), other numbers as `PyFloat`,
 * which no integer check accepts (Python's `1.0` is a float, not an int).
 *
 * `JSON.parse` output is accepted too, its safe integers counting as ints; a
 * genesis read with it loses any integer beyond 2^53, so read files with `parseJson`.
 */

/** The keys of an object `parseJson` read, in the text's order (JavaScript lists
 * integer-like keys first, Python's `dict` keeps them where they were). */
export const KEY_ORDER: unique symbol = Symbol("keyOrder");

export class PyFloat {
  constructor(readonly value: number) {}
}

export class JsonSyntaxError extends Error {
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {
    super(`invalid JSON at character ${position}: ${reason}`);
    this.name = "JsonSyntaxError";
  }
}

export type JsonValue =
  | null
  | boolean
  | string
  | bigint
  | PyFloat
  | JsonValue[]
  | { [key: string]: JsonValue };

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const SPACE = /[ \t\n\r]*/y;

export function parseJson(text: string): JsonValue {
  const reader = new Reader(text);
  const value = reader.value();
  reader.space();
  if (reader.at < text.length) throw new JsonSyntaxError(reader.at, "text after the value");
  return value;
}

class Reader {
  at = 0;
  constructor(private readonly text: string) {}

  space(): void {
    SPACE.lastIndex = this.at;
    SPACE.exec(this.text);
    this.at = SPACE.lastIndex;
  }

  value(): JsonValue {
    this.space();
    const ch = this.text[this.at];
    if (ch === "{") return this.object();
    if (ch === "[") return this.array();
    if (ch === '"') return this.string();
    for (const [word, value] of [["true", true], ["false", false], ["null", null]] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (match === null) throw new JsonSyntaxError(this.at, "a value expected");
    this.at = NUMBER.lastIndex;
    const isInteger = match[1] === undefined && match[2] === undefined;
    return isInteger ? BigInt(match[0]) : new PyFloat(Number(match[0]));
  }

  string(): string {
    STRING.lastIndex = this.at;
    const match = STRING.exec(this.text);
    if (match === null) throw new JsonSyntaxError(this.at, "an unterminated or invalid string");
    this.at = STRING.lastIndex;
    return JSON.parse(match[0]) as string;
  }

  expect(ch: string): void {
    this.space();
    if (this.text[this.at] !== ch) throw new JsonSyntaxError(this.at, `${JSON.stringify(ch)} expected`);
    this.at++;
  }

  array(): JsonValue[] {
    this.expect("[");
    const out: JsonValue[] = [];
    this.space();
    if (this.text[this.at] === "]") {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.space();
      if (this.text[this.at] === "]") {
        this.at++;
        return out;
      }
      this.expect(",");
    }
  }

  object(): { [key: string]: JsonValue } {
    this.expect("{");
    const out: { [key: string]: JsonValue } = {};
    const order: string[] = [];
    Object.defineProperty(out, KEY_ORDER, { value: order, enumerable: false });
    this.space();
    if (this.text[this.at] === "}") {
      this.at++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') throw new JsonSyntaxError(this.at, "a string key expected");
      const key = this.string();
      if (!Object.hasOwn(out, key)) order.push(key);
      this.expect(":");
      // defineProperty: a "__proto__" key is a key like any other, as in Python
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.space();
      if (this.text[this.at] === "}") {
        this.at++;
        return out;
      }
      this.expect(",");
    }
  }
}

/** A JSON object (Python's `dict`). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof PyFloat);
}

/** The value as a Python `int` would be, or null (floats, booleans, unsafe JS numbers). */
export function asInt(value: unknown): bigint | null {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value);
  return null;
}

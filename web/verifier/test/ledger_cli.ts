/**
 * Test driver of the published ledger's decoding (tests/web/verifier/test_ledger.py):
 * reads `{"ledgers": ["<hex>", ...]}` from stdin and answers
 * `{"results": [{"paid": ["<decimal>", ...]} | {"error": "<DecodeError message>"}, ...]}`.
 */

import { fromHex } from "../src/bytes";
import { decodeLedger } from "../src/ledger";

declare const process: {
  stdin: { setEncoding(e: string): void; on(event: string, f: (chunk?: string) => void): void };
  stdout: { write(text: string): void };
};

function decode(hex: string): { paid: string[] } | { error: string } {
  try {
    return { paid: decodeLedger(fromHex(hex)).reserves.map((r) => String(r.paid)) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk ?? ""));
process.stdin.on("end", () => {
  const request = JSON.parse(input) as { ledgers: string[] };
  process.stdout.write(JSON.stringify({ results: request.ledgers.map(decode) }));
});

/**
 * Test driver of the verifier (tests/web/verifier/test_agreement.py): reads
 * `{"genesis_json": "<the genesis file's text>", "now_ms": <the clock>, "reports": ["<hex>", ...]}`
 * from stdin
 * and answers
 * `{"results": [{"outcome", "headline", "failures", "printed"}, ...]}` on stdout (printed:
 * the lines `clearnode verify` would print): many reports
 * through one process, the generators derived once.
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { fromHex, utf8 } from "../src/bytes";
import { parseJson } from "../src/recompute/index.js";
import { formatResult, verifyReportBytes } from "../src/verify";

declare const process: {
  stdin: { setEncoding(e: string): void; on(event: string, f: (chunk?: string) => void): void };
  stdout: { write(text: string): void };
};

async function main(text: string): Promise<void> {
  const request = JSON.parse(text) as { genesis_json: string; now_ms: number; reports: string[] };
  const genesis = parseJson(request.genesis_json);
  const inputs = { genesis, genesisHash: sha256(utf8(request.genesis_json)), nowMs: BigInt(request.now_ms) };
  const results = [];
  for (const hex of request.reports) {
    const result = await verifyReportBytes(fromHex(hex), inputs);
    const failures = result.sections.flatMap((s) => s.verdict.failures);
    results.push({ outcome: result.outcome, headline: result.headline, failures, printed: formatResult(result) });
  }
  process.stdout.write(JSON.stringify({ results }));
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk ?? ""));
process.stdin.on("end", () => void main(input));

/** The page: read a report (and optionally a genesis), verify it here, show the verdict,
 * each check, then what was not checked and why. `window.clearnodeVerifier` lets a
 * script (the Chromium test) drive the same path. */

import { fromHex, utf8 } from "./bytes";
import { DecodeError } from "./errors";
import { JsonSyntaxError, parseJson } from "./recompute/index.js";
import { type Inputs, type Result, UsageError, formatResult, verifyReportBytes } from "./verify";

/** A report as `clearnode verify` reads it: the API's JSON {report: hex}, hex, or bytes. */
export function readReportBytes(data: Uint8Array): Uint8Array {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(data).trim();
  if (text.startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (exc) {
      throw new DecodeError(`JSON without a hex 'report' field: ${(exc as Error).message}`);
    }
    const hex = (obj as Record<string, unknown>)["report"];
    if (typeof hex !== "string") throw new DecodeError("JSON without a hex 'report' field");
    return fromHex(hex);
  }
  if (/^(0x)?[0-9a-fA-F]*$/.test(text) && text.length % 2 === 0 && text.length > 0) return fromHex(text);
  return data;
}

/** JSON read exactly (integers as bigints, Python's key order), as the CLI reads it. */
function parseJsonFile(what: string, text: string): unknown {
  try {
    return parseJson(text);
  } catch (exc) {
    if (exc instanceof JsonSyntaxError) throw new UsageError(`${what}: not JSON: ${exc.message}`);
    throw exc;
  }
}

/** `CHAIN_ID=URL` lines (blank ones skipped) as {chain id: URL}: `--rpc` options. */
export function parseRpcLines(text: string): Map<bigint, string> {
  const urls = new Map<bigint, string>();
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (line === "") continue;
    const sep = line.indexOf("=");
    const chain = sep < 0 ? "" : line.slice(0, sep).trim();
    const url = sep < 0 ? "" : line.slice(sep + 1).trim();
    if (!/^[0-9]+$/.test(chain) || url === "") throw new UsageError(`chain RPC ${JSON.stringify(line)}: expected CHAIN_ID=URL`);
    urls.set(BigInt(chain), url);
  }
  return urls;
}

/** What goes with a report: the genesis, the chains to read the vaults on, and a
 * member's address with its openings. */
function makeInputs(genesisJson?: string, member?: string, openingsJson?: string, rpcLines?: string): Inputs {
  const inputs: Inputs = {};
  if (genesisJson !== undefined) inputs.genesis = parseJsonFile("genesis", genesisJson);
  const rpc = parseRpcLines(rpcLines ?? "");
  if (rpc.size > 0) inputs.rpc = rpc;
  if ((member ?? "") === "" && openingsJson === undefined) return inputs;
  if ((member ?? "") === "" || openingsJson === undefined) {
    throw new UsageError("give your member address and your openings together");
  }
  let address: Uint8Array;
  try {
    address = fromHex(member!.trim());
  } catch {
    throw new UsageError(`member ${member} is not hex`);
  }
  if (address.length !== 20) throw new UsageError(`member must be a 20-byte address, got ${address.length} bytes`);
  inputs.member = { member: address, openings: parseJsonFile("openings", openingsJson) };
  return inputs;
}

const $ = (id: string): HTMLElement => document.getElementById(id)!;

function list(items: [string, string][]): HTMLUListElement {
  const ul = document.createElement("ul");
  for (const [cls, text] of items) {
    const li = document.createElement("li");
    li.className = cls;
    li.textContent = text;
    ul.append(li);
  }
  return ul;
}

function heading(text: string): HTMLHeadingElement {
  const h = document.createElement("h2");
  h.textContent = text;
  return h;
}

function show(result: Result, ms: number): void {
  const verdict = $("verdict");
  verdict.className = result.outcome;
  verdict.dataset["outcome"] = result.outcome;
  verdict.textContent = result.headline;
  const checks = $("checks");
  checks.replaceChildren();
  for (const { title, verdict: v } of result.sections) {
    checks.append(heading(title), list([...v.passed.map((l): [string, string] => ["ok", l]), ...v.failures.map((l): [string, string] => ["fail", l])]));
  }
  const unreadable = result.sections.flatMap((s) => s.verdict.unreadable);
  const notChecked = result.sections.flatMap((s) => s.verdict.notChecked);
  const rest = $("not-checked");
  rest.replaceChildren();
  if (unreadable.length || notChecked.length) {
    rest.append(heading("not checked"), list([...unreadable.map((l): [string, string] => ["could-not", l]), ...notChecked.map((l): [string, string] => ["not-asked", l])]));
  }
  $("as-text").textContent = formatResult(result);
  $("timing").textContent = `verified in this browser in ${Math.round(ms)} ms`;
  $("result").hidden = false;
}

function showError(message: string): void {
  const verdict = $("verdict");
  verdict.className = "ERROR";
  verdict.dataset["outcome"] = "ERROR";
  verdict.textContent = message;
  $("checks").replaceChildren();
  $("not-checked").replaceChildren();
  $("as-text").textContent = "";
  $("timing").textContent = "";
  $("result").hidden = false;
}

/** Verify and show; bad inputs or an internal error are shown, never thrown. */
async function verifyAndShow(report: Uint8Array, makeIt: () => Inputs): Promise<Result | { outcome: "ERROR"; headline: string }> {
  $("status").textContent = "verifying…";
  // The checks hold the main thread for seconds: let the browser paint the status first.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const start = performance.now();
  try {
    const result = await verifyReportBytes(readReportBytes(report), makeIt());
    show(result, performance.now() - start);
    return result;
  } catch (exc) {
    const headline = exc instanceof UsageError ? exc.message : `could not verify: ${exc instanceof Error ? exc.message : String(exc)}`;
    showError(headline);
    return { outcome: "ERROR", headline };
  } finally {
    $("status").textContent = "";
  }
}

async function readFile(id: string): Promise<Uint8Array | null> {
  const file = ($(id) as HTMLInputElement).files?.[0];
  return file ? new Uint8Array(await file.arrayBuffer()) : null;
}

async function readText(id: string): Promise<string | undefined> {
  const data = await readFile(id);
  return data === null ? undefined : new TextDecoder().decode(data);
}

/** The form's genesis, member, openings and chain RPCs, read now. */
async function readForm(): Promise<() => Inputs> {
  const genesis = await readText("genesis-file");
  const openings = await readText("openings-file");
  const member = ($("member") as HTMLInputElement).value;
  const rpc = ($("rpc") as HTMLTextAreaElement).value;
  return () => makeInputs(genesis, member, openings, rpc);
}

async function onVerify(): Promise<void> {
  const report = await readFile("report-file");
  if (report === null) {
    showError("choose a report file first");
    return;
  }
  await verifyAndShow(report, await readForm());
}

/** Same origin only: the node that served this page. */
async function onLoadLatest(): Promise<void> {
  $("status").textContent = "fetching this node's latest report…";
  let answer: Response;
  try {
    answer = await fetch("/v1/reports/latest", { headers: { accept: "application/json" } });
  } catch (exc) {
    showError(`could not fetch /v1/reports/latest: ${(exc as Error).message}`);
    return;
  }
  if (!answer.ok) {
    showError(`this node has no report to give: HTTP ${answer.status}`);
    return;
  }
  await verifyAndShow(new Uint8Array(await answer.arrayBuffer()), await readForm());
}

declare global {
  interface Window {
    clearnodeVerifier: {
      verify(report: string, genesisJson?: string, member?: string, openingsJson?: string, rpcLines?: string): Promise<unknown>;
    };
  }
}

window.clearnodeVerifier = {
  /** `report` as hex (or the API's JSON); the genesis and the openings as JSON text;
   * the chain RPCs as the form's `CHAIN_ID=URL` lines. */
  verify: (report: string, genesisJson?: string, member?: string, openingsJson?: string, rpcLines?: string) =>
    verifyAndShow(utf8(report), () => makeInputs(genesisJson, member, openingsJson, rpcLines)),
};

$("verify").addEventListener("click", () => void onVerify());
if (location.protocol === "http:" || location.protocol === "https:") {
  const button = $("load-latest");
  button.hidden = false;
  button.addEventListener("click", () => void onLoadLatest());
}

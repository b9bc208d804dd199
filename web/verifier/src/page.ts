/** The page: read a report and the genesis (a file, or fetched from the node that served
 * the page and pinned by the genesis hash the member gives or the URL's `#genesis=HEX`),
 * verify it here, show the verdict and the genesis hash, each check, then what was not
 * checked and why. A partial check is the member's explicit choice, named in the headline.
 * `window.clearnodeVerifier` lets a script (the Chromium test) drive the same path. */

import { sha256 } from "@noble/hashes/sha2.js";
import type { Checkpoint } from "./anchor";
import { equal, fromHex, toHex, utf8 } from "./bytes";
import { DecodeError } from "./errors";
import { JsonSyntaxError, parseJson } from "./recompute/index.js";
import { type Inputs, type Result, SKIPPABLE, UsageError, formatResult, verifyReportBytes } from "./verify";

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

/** A 32-byte hash typed or pasted (0x optional), or UsageError naming the field. */
function parseHash(text: string, what: string): Uint8Array {
  let found: Uint8Array;
  try {
    found = fromHex(text.trim());
  } catch {
    throw new UsageError(`${what} ${JSON.stringify(text)} is not hex`);
  }
  if (found.length !== 32) throw new UsageError(`${what} must be 32 bytes, got ${found.length}`);
  return found;
}

/** HEIGHT:TIME_MS:HASH, as `clearnode verify --checkpoint` reads it. */
export function parseCheckpoint(text: string): Checkpoint {
  const [height, time, hash, ...rest] = text.trim().split(":");
  if (rest.length > 0 || !/^[0-9]+$/.test(height ?? "") || !/^[0-9]+$/.test(time ?? "") || BigInt(height!) < 1n) {
    throw new UsageError(`checkpoint ${JSON.stringify(text)}: expected HEIGHT:TIME_MS:HASH (the block's height, its header's time_ms and validators_hash)`);
  }
  return { height: BigInt(height!), timeMs: BigInt(time!), validatorsHash: parseHash(hash ?? "", "the checkpoint's hash") };
}

/** How much to check: the checks to skip (a partial check, chosen by name), a checkpoint
 * to follow the root from, the genesis hash to pin, and the clock. */
export interface Options {
  skip?: string[];
  checkpoint?: string;
  genesisHash?: string;
  genesisSource?: string;
  nowMs?: number;
}

/** What goes with a report: the genesis (its file's bytes, pinned by the hash given), the
 * chains to read the vaults on, and a member's address with its openings. */
function makeInputs(genesisData?: Uint8Array, member?: string, openingsJson?: string, rpcLines?: string, options: Options = {}): Inputs {
  const inputs: Inputs = { nowMs: BigInt(options.nowMs ?? Date.now()) };
  if (options.skip !== undefined && options.skip.length > 0) inputs.skip = options.skip;
  if ((options.checkpoint ?? "").trim() !== "") inputs.checkpoint = parseCheckpoint(options.checkpoint!);
  if (genesisData !== undefined) {
    const found = sha256(genesisData);
    const pinned = (options.genesisHash ?? "").trim() === "" ? null : parseHash(options.genesisHash!, "genesis hash");
    if (pinned !== null && !equal(found, pinned)) {
      throw new UsageError(`the genesis given is genesis 0x${toHex(found)}, not 0x${toHex(pinned)} as the genesis hash says: not the network's genesis`);
    }
    inputs.genesis = parseJsonFile("genesis", new TextDecoder().decode(genesisData));
    inputs.genesisHash = found;
    inputs.genesisSource = options.genesisSource ?? (pinned === null ? "the file given" : "the file given, as the genesis hash pins");
  }
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
  $("genesis-used").textContent = result.genesis;
  const checks = $("checks");
  checks.replaceChildren();
  for (const { title, verdict: v } of result.sections) {
    if (title === "") continue; // the checks skipped: listed under "not checked"
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
  $("genesis-used").textContent = "";
  $("checks").replaceChildren();
  $("not-checked").replaceChildren();
  $("as-text").textContent = "";
  $("timing").textContent = "";
  $("result").hidden = false;
}

/** Verify and show; bad inputs or an internal error are shown, never thrown. */
async function verifyAndShow(report: Uint8Array, makeIt: () => Promise<Inputs> | Inputs): Promise<Result | { outcome: "ERROR"; headline: string }> {
  $("status").textContent = "verifying…";
  // The checks hold the main thread for seconds: let the browser paint the status first.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const start = performance.now();
  try {
    const result = await verifyReportBytes(readReportBytes(report), await makeIt());
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

/** The genesis this page's node serves (same origin only), pinned by `hash`. */
async function fetchGenesis(hash: string): Promise<Uint8Array> {
  if ((hash ?? "").trim() === "") {
    throw new UsageError("a genesis fetched from this node needs the genesis hash the network publishes: a node could serve any genesis");
  }
  let answer: Response;
  try {
    answer = await fetch("/v1/genesis", { headers: { accept: "application/json" } });
  } catch (exc) {
    throw new UsageError(`could not fetch /v1/genesis: ${(exc as Error).message}`);
  }
  if (!answer.ok) throw new UsageError(`this node serves no genesis: HTTP ${answer.status}`);
  const data = new Uint8Array(await answer.arrayBuffer());
  const found = sha256(data);
  if (!equal(found, parseHash(hash, "genesis hash"))) {
    throw new UsageError(`this node serves genesis 0x${toHex(found)}, not 0x${toHex(parseHash(hash, "genesis hash"))} as the genesis hash says`);
  }
  return data;
}

/** The checks the form's partial-check boxes skip. */
const readSkip = (): string[] =>
  Object.keys(SKIPPABLE).filter((name) => ($(`skip-${name}`) as HTMLInputElement).checked);

/** The form's genesis (its file, or this node's pinned by the hash), member, openings, chain
 * RPCs, checkpoint and partial-check choices, read when verifying. */
async function readForm(): Promise<() => Promise<Inputs>> {
  const file = await readFile("genesis-file");
  const openings = await readText("openings-file");
  const member = ($("member") as HTMLInputElement).value;
  const rpc = ($("rpc") as HTMLTextAreaElement).value;
  const genesisHash = ($("genesis-hash") as HTMLInputElement).value;
  const options: Options = { skip: readSkip(), checkpoint: ($("checkpoint") as HTMLInputElement).value, genesisHash };
  return async () => {
    if (file !== null) return makeInputs(file, member, openings, rpc, options);
    if (genesisHash.trim() === "") return makeInputs(undefined, member, openings, rpc, options);
    const fetched = await fetchGenesis(genesisHash);
    return makeInputs(fetched, member, openings, rpc, { ...options, genesisSource: `fetched from ${location.origin}, as the genesis hash pins` });
  };
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
      verify(report: string, genesisJson?: string, member?: string, openingsJson?: string, rpcLines?: string, options?: Options): Promise<unknown>;
      /** The same with the genesis fetched from this node, pinned by `options.genesisHash`. */
      verifyFetched(report: string, options: Options): Promise<unknown>;
    };
  }
}

window.clearnodeVerifier = {
  /** `report` as hex (or the API's JSON); the genesis and the openings as JSON text;
   * the chain RPCs as the form's `CHAIN_ID=URL` lines. */
  verify: (report: string, genesisJson?: string, member?: string, openingsJson?: string, rpcLines?: string, options?: Options) =>
    verifyAndShow(utf8(report), () => makeInputs(genesisJson === undefined ? undefined : utf8(genesisJson), member, openingsJson, rpcLines, options)),
  verifyFetched: (report: string, options: Options) =>
    verifyAndShow(utf8(report), async () =>
      makeInputs(await fetchGenesis(options.genesisHash ?? ""), undefined, undefined, undefined, {
        ...options,
        genesisSource: `fetched from ${location.origin}, as the genesis hash pins`,
      }),
    ),
};

// a link may carry the genesis hash the network publishes: ?genesis=HEX or #genesis=HEX
const pinned = new URLSearchParams(location.search).get("genesis") ?? new URLSearchParams(location.hash.slice(1)).get("genesis");
if (pinned !== null) ($("genesis-hash") as HTMLInputElement).value = pinned;

$("verify").addEventListener("click", () => void onVerify());
if (location.protocol === "http:" || location.protocol === "https:") {
  const button = $("load-latest");
  button.hidden = false;
  button.addEventListener("click", () => void onLoadLatest());
}

/** The page: read a report (and optionally a genesis), verify it here, show the verdict,
 * each check, then what was not checked and why. `window.clearnodeVerifier` lets a
 * script (the Chromium test) drive the same path. */

import { fromHex, utf8 } from "./bytes";
import { DecodeError } from "./errors";
import { type Result, UsageError, verifyReportBytes } from "./verify";

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

function parseGenesis(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (exc) {
    throw new UsageError(`genesis: not JSON: ${(exc as Error).message}`);
  }
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
  $("timing").textContent = "";
  $("result").hidden = false;
}

/** Verify and show; a bad genesis or an internal error is shown, never thrown. */
async function verifyAndShow(report: Uint8Array, genesis?: unknown): Promise<Result | { outcome: "ERROR"; headline: string }> {
  $("status").textContent = "verifying…";
  const start = performance.now();
  try {
    const result = await verifyReportBytes(readReportBytes(report), genesis === undefined ? {} : { genesis });
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

async function readFile(input: HTMLInputElement): Promise<Uint8Array | null> {
  const file = input.files?.[0];
  return file ? new Uint8Array(await file.arrayBuffer()) : null;
}

async function onVerify(): Promise<void> {
  const report = await readFile($("report-file") as HTMLInputElement);
  if (report === null) {
    showError("choose a report file first");
    return;
  }
  const genesisBytes = await readFile($("genesis-file") as HTMLInputElement);
  try {
    const genesis = genesisBytes === null ? undefined : parseGenesis(new TextDecoder().decode(genesisBytes));
    await verifyAndShow(report, genesis);
  } catch (exc) {
    showError((exc as Error).message);
  }
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
  const genesisBytes = await readFile($("genesis-file") as HTMLInputElement);
  try {
    const genesis = genesisBytes === null ? undefined : parseGenesis(new TextDecoder().decode(genesisBytes));
    await verifyAndShow(new Uint8Array(await answer.arrayBuffer()), genesis);
  } catch (exc) {
    showError((exc as Error).message);
  }
}

declare global {
  interface Window {
    clearnodeVerifier: { verify(report: string, genesisJson?: string): Promise<unknown> };
  }
}

window.clearnodeVerifier = {
  /** `report` as hex (or the API's JSON); the genesis as JSON text. */
  verify: (report: string, genesisJson?: string) =>
    verifyAndShow(utf8(report), genesisJson === undefined ? undefined : parseGenesis(genesisJson)),
};

$("verify").addEventListener("click", () => void onVerify());
if (location.protocol === "http:" || location.protocol === "https:") {
  const button = $("load-latest");
  button.hidden = false;
  button.addEventListener("click", () => void onLoadLatest());
}

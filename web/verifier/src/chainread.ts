/** The vaults' balances, read on chain over JSON-RPC (clearnode/client/reserves.py, which
 * `clearnode verify --rpc` reads them with): what reserves.ts compares with a report. A
 * chain that does not answer, serves another chain id, answers nonsense or lacks a vault
 * in genesis is `Unreadable` with the reason: the verifier says it could not check, never
 * throws.
 * Only public reads are sent (the chain id, block headers, balances): nothing of the
 * report or a member's openings leaves the page. */

import { keccak_256 } from "@noble/hashes/sha3.js";
import { toHex, utf8 } from "./bytes";
import type { ReserveGenesis, Unreadable, VaultReading } from "./reserves";

export const RPC_TIMEOUT_MS = 10_000;
/** `balanceOf(address)`. */
const BALANCE_OF = "70a08231";
/** bridge/payouts.py WITHDRAWN_TOPIC_HEX. */
const WITHDRAWN_TOPIC = "0x" + toHex(keccak_256(utf8("Withdrawn(uint256,address,address,uint256,address)")));
/** A vault's balance of the chain's native coin is `eth_getBalance`, not an ERC-20 call. */
const NATIVE = "00".repeat(20);

/** A failed read, named as clearnode/client/reserves.py names it (`ChainIdMismatch: …`). */
class ChainError extends Error {
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

class Chain {
  private nextId = 0;
  constructor(readonly url: string) {}

  /** One JSON-RPC call; its result as the node sent it. */
  async request(method: string, params: unknown[]): Promise<unknown> {
    let answer: Response;
    try {
      answer = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++this.nextId, method, params }),
        signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch (exc) {
      throw new ChainError("ConnectionError", `${method}: ${exc instanceof Error ? exc.message : String(exc)}`);
    }
    if (!answer.ok) throw new ChainError("HTTPError", `${method}: HTTP ${answer.status}`);
    let body: unknown;
    try {
      body = await answer.json();
    } catch {
      throw new ChainError("BadAnswer", `${method}: the answer is not JSON`);
    }
    const reply = (body ?? {}) as Record<string, unknown>;
    if (reply["error"] !== undefined) {
      const error = (reply["error"] ?? {}) as Record<string, unknown>;
      const code = typeof error["code"] === "number" ? error["code"] : -1;
      throw new ChainError("RpcError", `${method}: error ${code}: ${String(error["message"] ?? error)}`);
    }
    if (!("result" in reply)) throw new ChainError("BadAnswer", `${method}: the answer has no result`);
    return reply["result"];
  }

  /** A result that must be a hex quantity (`0x` alone, an empty call's return, is 0). */
  async quantity(method: string, params: unknown[]): Promise<bigint> {
    const result = await this.request(method, params);
    if (typeof result !== "string" || !/^0x[0-9a-fA-F]*$/.test(result)) {
      throw new ChainError("BadAnswer", `${method}: ${JSON.stringify(result)} is not a hex number`);
    }
    return result === "0x" ? 0n : BigInt(result);
  }

  async getBlockTimeMs(number: bigint): Promise<bigint> {
    const block = await this.request("eth_getBlockByNumber", ["0x" + number.toString(16), false]);
    const time = (block ?? {}) as Record<string, unknown>;
    if (typeof time["timestamp"] !== "string" || !/^0x[0-9a-fA-F]+$/.test(time["timestamp"])) {
      throw new ChainError("BadAnswer", `eth_getBlockByNumber: block ${number} has no hex timestamp`);
    }
    return BigInt(time["timestamp"]) * 1000n;
  }
}

/** clearnode/client/reserves.py NO_REPORT_TIME, but for the way out: this page takes no
 * block, the command line does. */
export const NO_REPORT_TIME =
  "the report carries no anchor, whose header's time says which block to read the chain at: read it at a block you choose with clearnode verify --block CHAIN_ID=N";

/** Each chain of `urls`: its genesis vault's balance of every genesis token on it, at the
 * chain's last block no later than `timeMs` (the report's time, its anchor's header's: a
 * withdrawal paid since left the vault after the report counted it; null without an
 * anchor, and no chain is read). */
export async function readVaults(genesis: ReserveGenesis, urls: Map<bigint, string>, timeMs: bigint | null): Promise<Map<bigint, VaultReading | Unreadable>> {
  const readings = new Map<bigint, VaultReading | Unreadable>();
  for (const [chainId, url] of [...urls].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const vault = genesis.vaults.get(chainId);
    if (vault === undefined) {
      readings.set(chainId, { kind: "unreadable", chainId, reason: "genesis names no vault on this chain" });
      continue;
    }
    if (timeMs === null) {
      readings.set(chainId, { kind: "unreadable", chainId, reason: NO_REPORT_TIME });
      continue;
    }
    const tokens = genesis.collateral.filter((t) => t.chainId === chainId).map((t) => t.token);
    try {
      readings.set(chainId, await readVault(new Chain(url), chainId, vault, tokens, timeMs));
    } catch (exc) {
      const kind = exc instanceof ChainError ? exc.kind : exc instanceof Error ? exc.name : "Error";
      const message = exc instanceof Error ? exc.message : String(exc);
      readings.set(chainId, { kind: "unreadable", chainId, reason: `${url}: ${kind}: ${message}` });
    }
  }
  return readings;
}

async function readVault(chain: Chain, chainId: bigint, vault: string, tokens: string[], timeMs: bigint): Promise<VaultReading> {
  const actual = await chain.quantity("eth_chainId", []);
  if (actual !== chainId) {
    throw new ChainError("ChainIdMismatch", `${chain.url} serves chain id ${actual}, configured ${chainId}`);
  }
  const block = await findBlockAt(chain, timeMs);
  const at = "0x" + block.toString(16);
  const balances = new Map<string, bigint>();
  for (const token of tokens) {
    const balance =
      token === NATIVE
        ? await chain.quantity("eth_getBalance", ["0x" + vault, at])
        : await chain.quantity("eth_call", [{ to: "0x" + token, data: "0x" + BALANCE_OF + "00".repeat(12) + vault }, at]);
    balances.set(token, balance);
  }
  return { kind: "reading", chainId, vault, block, balances, withdrawn: await readWithdrawn(chain, vault, tokens, at) };
}

/** What the vault's Withdrawn(nonce, member, token, amount, recipient) logs paid out of
 * each token up to block `at` (clearnode/client/reserves.py get_withdrawn). */
async function readWithdrawn(chain: Chain, vault: string, tokens: string[], at: string): Promise<Map<string, bigint>> {
  const paid = new Map(tokens.map((t): [string, bigint] => [t, 0n]));
  const filter = { address: "0x" + vault, topics: [WITHDRAWN_TOPIC], fromBlock: "0x0", toBlock: at };
  const logs = await chain.request("eth_getLogs", [filter]);
  if (!Array.isArray(logs)) throw new ChainError("BadAnswer", "eth_getLogs: the answer is not a list");
  for (const log of logs as { topics?: unknown; data?: unknown }[]) {
    const topics = log.topics;
    const data = log.data;
    if (!Array.isArray(topics) || typeof topics[3] !== "string" || typeof data !== "string" || !/^0x[0-9a-fA-F]{64}/.test(data)) {
      throw new ChainError("BadAnswer", "eth_getLogs: a Withdrawn log without its token or amount");
    }
    const token = topics[3].slice(-40).toLowerCase();
    const before = paid.get(token);
    if (before !== undefined) paid.set(token, before + BigInt(data.slice(0, 66)));
  }
  return paid;
}

/** The last block whose timestamp is at or before `timeMs` (binary search over block
 * timestamps, which never decrease); the chain's first block if all are later. */
async function findBlockAt(chain: Chain, timeMs: bigint): Promise<bigint> {
  let low = 0n;
  let high = await chain.quantity("eth_blockNumber", []);
  while (low < high) {
    const middle = (low + high + 1n) / 2n;
    if ((await chain.getBlockTimeMs(middle)) <= timeMs) low = middle;
    else high = middle - 1n;
  }
  return low;
}

/**
 * Test driver of cometbft.ts (tests/web/verifier/test_cometbft_vectors.py): reads
 * `{"cases": [{"anchor": "<msgpack hex of StateAnchor.to_wire>", "chain_id": <int>,
 * "genesis_hash": "<hex>", "validators": [["<key hex>", <power>], ...], "genesis": [...]},
 * ...]}` from stdin and
 * answers, per case, what lightclient/cometbft.py and anchor.py find of it: the header's
 * hash and the commit's block, the set's hash by CometBFT's rule, the commit's verdict
 * against `validators`, and the walk from `genesis` through the anchor's set changes to
 * the anchor's check (`{"failure"}`, or the heights the set changed at and the anchor's
 * verdict).
 */

import { fromHex, toHex } from "../src/bytes";
import { checkAnchor, decodeAnchor, followSetChanges, getChangedAt, getConsensusChainId, getSetAt } from "../src/anchor";
import { computeCometValidatorsHash } from "../src/cometbft";
import { decodeMsgpack } from "../src/msgpack";
import type { VotingPower } from "../src/signatures";

declare const process: {
  stdin: { setEncoding(e: string): void; on(event: string, f: (chunk?: string) => void): void };
  stdout: { write(text: string): void };
};

interface Case {
  anchor: string;
  chain_id: number;
  genesis_hash: string;
  validators: [string, number][];
  genesis: [string, number][];
}

const toSet = (pairs: [string, number][]): VotingPower[] => pairs.map(([key, power]) => ({ publicKey: fromHex(key), power: BigInt(power) }));

function run(c: Case): unknown {
  const anchor = decodeAnchor(decodeMsgpack(fromHex(c.anchor)))!;
  const chain = getConsensusChainId(BigInt(c.chain_id), fromHex(c.genesis_hash));
  const walk = followSetChanges(anchor.setChanges, chain, toSet(c.genesis), null, anchor.engine);
  let walked: unknown = walk;
  if (!("failure" in walk)) {
    const height = anchor.header.height;
    const outcome = checkAnchor(anchor, chain, height - 1n, anchor.prevStateRoot, getSetAt(walk, height));
    const words = outcome === null ? null : "failure" in outcome ? outcome.failure : outcome.notChecked;
    walked = { changed_at: getChangedAt(walk).map(Number), anchor: words };
  }
  return {
    header_hash: toHex(anchor.header.hash),
    block_hash: toHex(anchor.commit.blockHash),
    validators_hash: toHex(computeCometValidatorsHash(toSet(c.validators))),
    commit: anchor.commit.verify(chain, toSet(c.validators)),
    walk: walked,
  };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk ?? ""));
process.stdin.on("end", () => {
  const request = JSON.parse(input) as { cases: Case[] };
  process.stdout.write(JSON.stringify({ results: request.cases.map(run) }));
});

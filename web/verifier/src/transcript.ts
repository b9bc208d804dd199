/** Fiat–Shamir transcript (proofs/transcript.py): SHA3-256 chaining, SHA3-512 squeezes. */

import { sha3_256, sha3_512 } from "@noble/hashes/sha3.js";
import { concat, fromBigEndian, toBigEndian, u32be, u64be, utf8 } from "./bytes";
import { R } from "./group";

const TRANSCRIPT_PROTOCOL = utf8("clearnode-transcript-v1");

function framed(label: Uint8Array, data: Uint8Array): Uint8Array {
  return concat(u32be(label.length), label, u32be(data.length), data);
}

export class Transcript {
  private state: Uint8Array;

  constructor(domain: Uint8Array | string) {
    const d = typeof domain === "string" ? utf8(domain) : domain;
    this.state = sha3_256(framed(TRANSCRIPT_PROTOCOL, d));
  }

  append(label: string, data: Uint8Array): void {
    this.state = sha3_256(concat(this.state, utf8("A"), framed(utf8(label), data)));
  }

  appendU64(label: string, value: bigint | number): void {
    this.append(label, u64be(value));
  }

  appendScalar(label: string, value: bigint): void {
    this.append(label, toBigEndian(((value % R) + R) % R, 32));
  }

  private squeeze(label: string): Uint8Array {
    const out = sha3_512(concat(this.state, utf8("C"), framed(utf8(label), new Uint8Array())));
    this.state = sha3_256(concat(utf8("K"), out));
    return out;
  }

  /** A nonzero scalar mod R. */
  challenge(label: string): bigint {
    for (;;) {
      const c = fromBigEndian(this.squeeze(label)) % R;
      if (c) return c;
    }
  }

  /** A nonzero 128-bit scalar. */
  challenge128(label: string): bigint {
    for (;;) {
      const c = fromBigEndian(this.squeeze(label).slice(0, 16));
      if (c) return c;
    }
  }
}

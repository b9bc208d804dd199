"""Fiat–Shamir transcript, Merlin-style: domain separation and labelled appends.

The state is a SHA3-256 chaining value. Every append absorbs
`"A" || len(label) || label || len(data) || data` (lengths as 4-byte big-endian),
every challenge squeezes SHA3-512 over `"C" || len(label) || label`, reduces the
64 bytes mod R (bias < 2^-250) and re-keys the state with the output, so two
challenges under the same label still differ. Prover nonces come from
`nonce_stream`, which keys SHAKE-256 with the transcript state *and* the secret
witness: proving is deterministic given the blinding factors, yet the nonces are
unpredictable to anyone who does not know them.
"""

from __future__ import annotations

import hashlib

from proofs.group import POINT_BYTES, R, encode_scalar

TRANSCRIPT_PROTOCOL = b"clearnode-transcript-v1"
CHALLENGE_128_BITS = 128


def _framed(label: bytes, data: bytes) -> bytes:
    return len(label).to_bytes(4, "big") + label + len(data).to_bytes(4, "big") + data


class Transcript:
    """A running Fiat–Shamir transcript; `copy()` forks it."""

    def __init__(self, domain: bytes) -> None:
        self._state = hashlib.sha3_256(_framed(TRANSCRIPT_PROTOCOL, domain)).digest()

    @property
    def state(self) -> bytes:
        """The chaining value: all a native prover or verifier needs to continue."""
        return self._state

    def continue_from(self, state: bytes) -> None:
        """Take the state a native prover left after appending to a copy of this one."""
        assert len(state) == 32
        self._state = state

    def copy(self) -> Transcript:
        other = Transcript.__new__(Transcript)
        other._state = self._state
        return other

    def append(self, label: bytes, data: bytes) -> None:
        self._state = hashlib.sha3_256(self._state + b"A" + _framed(label, data)).digest()

    def append_u64(self, label: bytes, value: int) -> None:
        self.append(label, value.to_bytes(8, "big"))

    def append_scalar(self, label: bytes, value: int) -> None:
        self.append(label, encode_scalar(value))

    def append_point(self, label: bytes, encoded: bytes) -> None:
        assert len(encoded) == POINT_BYTES
        self.append(label, encoded)

    def _squeeze(self, label: bytes) -> bytes:
        out = hashlib.sha3_512(self._state + b"C" + _framed(label, b"")).digest()
        self._state = hashlib.sha3_256(b"K" + out).digest()
        return out

    def challenge(self, label: bytes) -> int:
        """A nonzero scalar mod R."""
        while True:
            c = int.from_bytes(self._squeeze(label), "big") % R
            if c:
                return c

    def challenge_128(self, label: bytes) -> int:
        """A nonzero 128-bit scalar: halves the prover's folding cost in the
        inner-product argument, with soundness error ~ rounds / 2^128."""
        while True:
            c = int.from_bytes(self._squeeze(label)[:16], "big")
            if c:
                return c

    def nonce_stream(self, label: bytes, witness: bytes, count: int) -> list[int]:
        """`count` secret scalars derived from the transcript so far and the witness."""
        key = hashlib.sha3_256(b"N" + self._state + _framed(label, witness)).digest()
        raw = hashlib.shake_256(key).digest(64 * count)
        return [int.from_bytes(raw[64 * i : 64 * i + 64], "big") % R for i in range(count)]

"""Aggregated range proofs (Bünz et al. 2018, §4.3) with the inner-product argument.

Proves that each of m commitments V_j = v_j·G + γ_j·H opens to v_j ∈ [0, 2^n), m a
power of two (callers pad with zero commitments, i.e. the identity point).
The caller binds the commitments to the transcript before calling (so a
statement layer can bind *input* commitments and let the verifier derive the
rest); this module binds n, m and the proof itself.

Inner-product argument, asymmetric fold without inverses (128-bit challenges u):
    a' = a_L + u·a_R,  b' = u·b_L + b_R,  G' = u·G_L + G_R,  H' = H_L + u·H_R
    L = <a_L,G_R> + <b_R,H_L> + <a_L,b_R>·Q,  R = <a_R,G_L> + <b_L,H_R> + <a_R,b_L>·Q
    P' = u·P + L + u²·R.
Unrolled: (Π u)·P + Σ_j (Π_{t>j} u_t)(L_j + u_j²·R_j) = a·G_f + b·H_f + ab·Q, where
G_f has coefficient Π(u_r over rounds where i is in the left half) on g_i and
H_f the right-half products on h_i·y^{-i}. The verifier adds both equations to
a `MsmCheck` (with random weights) and checks one multi-scalar multiplication.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic

from proofs.errors import ProverError, ReportDecodeError
from proofs.group import (
    POINT_BYTES,
    SCALAR_BYTES,
    Group,
    P,
    R,
    decode_scalar,
    encode_scalar,
)
from proofs.msm import MsmCheck, Tensor
from proofs.pedersen import Generators
from proofs.transcript import Transcript

N_BITS = 64
WEIGHT_BITS = 128


def compute_padded_count(count: int) -> int:
    """The smallest power of two >= count (and >= 1)."""
    m = 1
    while m < count:
        m *= 2
    return m


def compute_rounds(m: int, n: int) -> int:
    return (m * n).bit_length() - 1


def compute_proof_size(m: int, n: int = N_BITS) -> int:
    rounds = compute_rounds(m, n)
    return (4 + 2 * rounds) * POINT_BYTES + 5 * SCALAR_BYTES


@dataclass(frozen=True)
class RangeProof:
    """Encoded as A|S|T1|T2|tau_x|mu|t_hat|L_0|R_0|...|L_k-1|R_k-1|a|b
    (points 48-byte compressed, scalars 32-byte big-endian)."""

    A: bytes
    S: bytes
    T1: bytes
    T2: bytes
    tau_x: int
    mu: int
    t_hat: int
    L: tuple[bytes, ...]
    R: tuple[bytes, ...]
    a: int
    b: int

    def encode(self) -> bytes:
        lr = b"".join(left + right for left, right in zip(self.L, self.R, strict=True))
        return b"".join(
            [
                self.A,
                self.S,
                self.T1,
                self.T2,
                encode_scalar(self.tau_x),
                encode_scalar(self.mu),
                encode_scalar(self.t_hat),
                lr,
                encode_scalar(self.a),
                encode_scalar(self.b),
            ]
        )

    @staticmethod
    def decode(data: bytes, m: int, n: int = N_BITS) -> RangeProof:
        """Split (no curve checks yet: points are decoded by the verifier)."""
        expected = compute_proof_size(m, n)
        if len(data) != expected:
            raise ReportDecodeError(
                f"range proof for m={m}, n={n} must be {expected} bytes, got {len(data)}"
            )
        pt = POINT_BYTES
        sc = SCALAR_BYTES
        points = [data[i * pt : (i + 1) * pt] for i in range(4)]
        off = 4 * pt
        scalars = [decode_scalar(data[off + i * sc : off + (i + 1) * sc]) for i in range(3)]
        off += 3 * sc
        rounds = compute_rounds(m, n)
        lr = [data[off + i * pt : off + (i + 1) * pt] for i in range(2 * rounds)]
        off += 2 * rounds * pt
        a = decode_scalar(data[off : off + sc])
        b = decode_scalar(data[off + sc : off + 2 * sc])
        A, S, T1, T2 = points
        tau_x, mu, t_hat = scalars
        return RangeProof(A, S, T1, T2, tau_x, mu, t_hat, tuple(lr[0::2]), tuple(lr[1::2]), a, b)


def _powers(base: int, count: int) -> list[int]:
    """[base^i mod R for i < count], by doubling: each pass is one list
    comprehension (base^(i + k) = base^i · base^k), not a Python loop step per entry."""
    out = [1]
    step = base % R
    while len(out) < count:
        out += [v * step % R for v in out]
        step = step * step % R
    return out[:count]


def _inner(a: Sequence[int], b: Sequence[int]) -> int:
    return sum(x * y for x, y in zip(a, b, strict=True)) % R


def _encode_witness(values: Sequence[int], blindings: Sequence[int]) -> bytes:
    return b"".join(encode_scalar(v) for v in values) + b"".join(
        encode_scalar(g) for g in blindings
    )


def prove_range(
    gens: Generators[P],
    transcript: Transcript,
    values: Sequence[int],
    blindings: Sequence[int],
    n: int = N_BITS,
) -> RangeProof:
    """An aggregated proof that every values[j] ∈ [0, 2^n); deterministic in its inputs.

    Raises ProverError (and proves nothing) if a value is out of range."""
    for index, v in enumerate(values):
        if not 0 <= v < 1 << n:
            raise ProverError(f"cannot prove range [0, 2^{n})", index=index, value=v)
    m = compute_padded_count(len(values))
    if gens.group.proves:
        proof, state = gens.group.prove_range(transcript.state, values, blindings, n)
        transcript.continue_from(state)
        return RangeProof.decode(proof, m, n)
    vals = [*values, *[0] * (m - len(values))]
    gams = [g % R for g in blindings] + [0] * (m - len(values))
    N = m * n
    group = gens.group
    g, h = gens.vectors(N)
    transcript.append_u64(b"rangeproof/n", n)
    transcript.append_u64(b"rangeproof/m", m)
    nonces = transcript.nonce_stream(b"rangeproof/nonces", _encode_witness(vals, gams), 4 + 2 * N)
    alpha, rho, tau1, tau2 = nonces[:4]
    s_l, s_r = nonces[4 : 4 + N], nonces[4 + N :]

    a_l = [(vals[i // n] >> (i % n)) & 1 for i in range(N)]
    A = group.add(
        group.mul(gens.H, alpha),
        group.add(
            group.sum([g[i] for i in range(N) if a_l[i]]),
            group.neg(group.sum([h[i] for i in range(N) if not a_l[i]])),
        ),
    )
    S = group.msm([gens.H, *g, *h], [rho, *s_l, *s_r])
    A_bytes, S_bytes = group.encode(A), group.encode(S)
    transcript.append_point(b"rangeproof/A", A_bytes)
    transcript.append_point(b"rangeproof/S", S_bytes)
    y = transcript.challenge(b"rangeproof/y")
    z = transcript.challenge(b"rangeproof/z")

    y_pow = _powers(y, N)
    z_pow = _powers(z, m + 2)[2:]
    l0 = [(bit - z) % R for bit in a_l]
    r0 = [(y_pow[i] * (a_l[i] - 1 + z) + z_pow[i // n] * (1 << (i % n))) % R for i in range(N)]
    r1 = [y_pow[i] * s_r[i] % R for i in range(N)]
    t1 = (_inner(l0, r1) + _inner(s_l, r0)) % R
    t2 = _inner(s_l, r1)
    T1 = group.encode(group.msm([gens.G, gens.H], [t1, tau1]))
    T2 = group.encode(group.msm([gens.G, gens.H], [t2, tau2]))
    transcript.append_point(b"rangeproof/T1", T1)
    transcript.append_point(b"rangeproof/T2", T2)
    x = transcript.challenge(b"rangeproof/x")

    l_vec = [(l0[i] + s_l[i] * x) % R for i in range(N)]
    r_vec = [(r0[i] + r1[i] * x) % R for i in range(N)]
    t_hat = _inner(l_vec, r_vec)
    tau_x = (tau2 * x * x + tau1 * x + _inner(z_pow, gams)) % R
    mu = (alpha + rho * x) % R
    transcript.append_scalar(b"rangeproof/tau_x", tau_x)
    transcript.append_scalar(b"rangeproof/mu", mu)
    transcript.append_scalar(b"rangeproof/t_hat", t_hat)
    w = transcript.challenge(b"rangeproof/w")
    Q = group.mul(gens.U, w)
    y_inv = pow(y, -1, R)
    L, Rs, a, b = _prove_inner_product(gens, transcript, Q, g, h, _powers(y_inv, N), l_vec, r_vec)
    return RangeProof(A_bytes, S_bytes, T1, T2, tau_x, mu, t_hat, tuple(L), tuple(Rs), a, b)


def _prove_inner_product(
    gens: Generators[P],
    transcript: Transcript,
    Q: P,
    G: list[P],
    K: list[P],
    h_factor: list[int],
    a: list[int],
    b: list[int],
) -> tuple[list[bytes], list[bytes], int, int]:
    """IPA on generators G and H_i = h_factor[i]·K[i] (h_factor[i] = y^{-i}, so
    h_factor[i + half] / h_factor[i] = y^{-half} is one scalar per round).

    Folding is lazy: the round's generators are never built point by point.
    Invariant: with n = len(a), G'_i = Σ_s c_g[s]·G[s·n + i] and
    K'_i = Σ_s c_k[s]·K[s·n + i]; each round's L and R are multi-scalar
    multiplications over the base G, K (a scalar multiplication costs ten times
    a point of a large msm). Every `_REBASE_ROUNDS` rounds the base shrinks to
    the folded vectors themselves, one small msm per point."""
    group = gens.group
    L_out: list[bytes] = []
    R_out: list[bytes] = []
    c_g, c_k = [1], [1]
    while len(a) > 1:
        n, half = len(a), len(a) // 2
        a_lo, a_hi, b_lo, b_hi = a[:half], a[half:], b[:half], b[half:]
        bh_hi = [b_hi[i] * h_factor[i] % R for i in range(half)]
        bh_lo = [b_lo[i] * h_factor[half + i] % R for i in range(half)]
        l_points: list[P] = [Q]
        r_points: list[P] = [Q]
        l_scalars = [_inner(a_lo, b_hi)]
        r_scalars = [_inner(a_hi, b_lo)]
        for s, (cg, ck) in enumerate(zip(c_g, c_k, strict=True)):
            lo, mid, hi = s * n, s * n + half, (s + 1) * n
            l_points += [*G[mid:hi], *K[lo:mid]]
            r_points += [*G[lo:mid], *K[mid:hi]]
            l_scalars += [*(cg * x for x in a_lo), *(ck * x for x in bh_hi)]
            r_scalars += [*(cg * x for x in a_hi), *(ck * x for x in bh_lo)]
        L, Rp = group.msm_batch([(l_points, l_scalars), (r_points, r_scalars)])
        L_out.append(group.encode(L))
        R_out.append(group.encode(Rp))
        transcript.append_point(b"ipa/L", L_out[-1])
        transcript.append_point(b"ipa/R", R_out[-1])
        u = transcript.challenge_128(b"ipa/u")
        ratio = u * h_factor[half] % R  # h_factor[0] == 1
        a = [(a_lo[i] + u * a_hi[i]) % R for i in range(half)]
        b = [(u * b_lo[i] + b_hi[i]) % R for i in range(half)]
        h_factor = h_factor[:half]
        # G' = u·G_lo + G_hi and K' = K_lo + ratio·K_hi, on top of the base's own folds.
        c_g = [x for c in c_g for x in (c * u % R, c)]
        c_k = [x for c in c_k for x in (c, c * ratio % R)]
        if len(c_g) == 1 << _REBASE_ROUNDS and half > 1:
            G, c_g = _fold_base(group, G, c_g, half), [1]
            K, c_k = _fold_base(group, K, c_k, half), [1]
    return L_out, R_out, a[0], b[0]


# Rebuilding the base every 4 rounds balances the small msms that rebuild it
# against the larger L and R msms over an older base (measured on arkworks).
_REBASE_ROUNDS = 4


def _fold_base(group: Group[P], base: list[P], coeffs: list[int], n: int) -> list[P]:
    """[Σ_s coeffs[s]·base[s·n + i] for i < n]."""
    return group.msm_batch(
        [([base[s * n + i] for s in range(len(coeffs))], coeffs) for i in range(n)]
    )


@dataclass(frozen=True)
class DecodedProof(Generic[P]):
    """A range proof whose points have been decoded (checked on the curve)."""

    proof: RangeProof
    A: P
    S: P
    T1: P
    T2: P
    L: tuple[P, ...]
    R: tuple[P, ...]


def decode_proof_points(gens: Generators[P], proof: RangeProof) -> DecodedProof[P]:
    dec = gens.group.decode_point
    return DecodedProof(
        proof,
        dec(proof.A),
        dec(proof.S),
        dec(proof.T1),
        dec(proof.T2),
        tuple(dec(p) for p in proof.L),
        tuple(dec(p) for p in proof.R),
    )


def _tensor(challenges: Sequence[int], on_left: bool) -> list[int]:
    """Entry i = Π over rounds r (MSB first) of u_r where bit r of i is 0 (on_left)
    or 1 (not on_left)."""
    vec = [1]
    for u in reversed(challenges):
        if on_left:
            vec = [v * u % R for v in vec] + vec
        else:
            vec = vec + [v * u % R for v in vec]
    return vec


def _powers_of_two(base: int, count: int) -> list[int]:
    """[base^(2^k) mod R for k < count]."""
    out = [base % R]
    for _ in range(1, count):
        out.append(out[-1] * out[-1] % R)
    return out


def add_range_check(
    check: MsmCheck[P],
    transcript: Transcript,
    dp: DecodedProof[P],
    m: int,
    n: int = N_BITS,
) -> list[int]:
    """Add this proof's two equations to `check` with fresh random weights.

    Returns the coefficient the caller must put on each V_j (j < m): the
    commitments are the caller's business so that it may derive them."""
    proof = dp.proof
    N = m * n
    log_m, log_n = m.bit_length() - 1, n.bit_length() - 1
    if len(proof.L) != log_m + log_n:
        raise ReportDecodeError(f"proof has {len(proof.L)} rounds, expected {log_m + log_n}")
    transcript.append_u64(b"rangeproof/n", n)
    transcript.append_u64(b"rangeproof/m", m)
    transcript.append_point(b"rangeproof/A", proof.A)
    transcript.append_point(b"rangeproof/S", proof.S)
    y = transcript.challenge(b"rangeproof/y")
    z = transcript.challenge(b"rangeproof/z")
    transcript.append_point(b"rangeproof/T1", proof.T1)
    transcript.append_point(b"rangeproof/T2", proof.T2)
    x = transcript.challenge(b"rangeproof/x")
    transcript.append_scalar(b"rangeproof/tau_x", proof.tau_x)
    transcript.append_scalar(b"rangeproof/mu", proof.mu)
    transcript.append_scalar(b"rangeproof/t_hat", proof.t_hat)
    w = transcript.challenge(b"rangeproof/w")
    us: list[int] = []
    for left, right in zip(proof.L, proof.R, strict=True):
        transcript.append_point(b"ipa/L", left)
        transcript.append_point(b"ipa/R", right)
        us.append(transcript.challenge_128(b"ipa/u"))

    omega = secrets.randbits(WEIGHT_BITS) | 1  # weight of the inner-product equation
    c = secrets.randbits(WEIGHT_BITS) | 1  # weight of the polynomial equation
    suffix = [1] * len(us)  # suffix[j] = Π_{t>j} u_t
    for j in range(len(us) - 2, -1, -1):
        suffix[j] = suffix[j + 1] * us[j + 1] % R
    u_all = suffix[0] * us[0] % R
    wu = omega * u_all % R

    z_pow = _powers(z, m + 3)
    if y == 1:
        y_inv, sum_y = 1, N
    else:  # one inversion for both 1/y and 1/(y - 1)
        inv = pow(y * (y - 1) % R, -1, R)
        y_inv = (y - 1) * inv % R
        sum_y = (pow(y, N, R) - 1) * y * inv % R
    delta = ((z - z_pow[2]) * sum_y - sum(z_pow[3 : 3 + m]) * ((1 << n) - 1)) % R

    check.G += c * (delta - proof.t_hat)
    check.H += -wu * proof.mu - c * proof.tau_x
    check.U += omega * w * (u_all * proof.t_hat - proof.a * proof.b)
    check.add_points(
        [dp.A, dp.S, dp.T1, dp.T2, *dp.L, *dp.R],
        [
            wu,
            wu * x,
            c * x,
            c * x * x,
            *(omega * s for s in suffix),
            *(omega * s * u * u for s, u in zip(suffix, us, strict=True)),
        ],
    )
    # Vector generators: i = j·n + t, hi rounds are the first log m. The y^{-i}
    # on h_i factor as y^{-n·j}·y^{-t} and y^{-t} = Π over set bits b of t of
    # y^{-2^b}, so they fold into the challenge tensors' factors.
    u_hi, u_lo = us[:log_m], us[log_m:]
    y_inv_2k = _powers_of_two(y_inv, log_m + log_n + 1)  # y^{-2^k}
    y_inv_n = y_inv_2k[log_n]
    # Round r of a tensor over k rounds owns bit k-1-r of the index.
    hy_hi = [u * y_inv_2k[log_n + log_m - 1 - r] % R for r, u in enumerate(u_hi)]
    hy_lo = [u * y_inv_2k[log_n - 1 - r] % R for r, u in enumerate(u_lo)]
    check.g_const -= wu * z
    check.h_const += wu * z
    g_weight = -omega * proof.a % R
    h_weight = -omega * proof.b % R
    z2wu = z_pow[2] * wu % R
    g_terms: list[Tensor] = [([g_weight * v % R for v in _tensor(u_hi, True)], _tensor(u_lo, True))]
    h_terms: list[Tensor] = [
        (
            [z2wu * v % R for v in _powers(z * y_inv_n, m)],  # wu·z^{2+j}·y^{-n·j}
            _powers(2 * y_inv, n),  # 2^t·y^{-t}
        ),
        ([h_weight * v % R for v in _tensor(hy_hi, False)], _tensor(hy_lo, False)),
    ]
    check.add_vector_terms(m, g_terms, h_terms)
    return [c * z_pow[2 + j] % R for j in range(m)]


def verify_range(
    gens: Generators[P],
    transcript: Transcript,
    commitments: Sequence[P],
    proof: RangeProof,
    n: int = N_BITS,
) -> bool:
    """Check an aggregated range proof on explicit commitments (padded with O)."""
    m = compute_padded_count(len(commitments))
    group = gens.group
    if group.proves and commitments:
        # The statement whose inputs are the commitments themselves.
        encoded = b"".join(gens.group.encode(c) for c in commitments)
        claim = (transcript.state, encoded, proof.encode())
        decoded, invalid = group.verify_batch(n, [0] * len(commitments), [], [claim])
        return not isinstance(decoded[0], str) and not invalid
    try:
        dp = decode_proof_points(gens, proof)
        check = MsmCheck(gens, n)
        v_coeffs = add_range_check(check, transcript, dp, m, n)
    except ReportDecodeError:
        return False
    check.add_points(commitments, v_coeffs[: len(commitments)])
    return check.is_identity()

"""A deferred multi-scalar multiplication: verifiers add terms, then check Σ = O once.

Range-proof verifiers put coefficients on the shared generator vectors g_i, h_i.
Each proof's coefficient vector on them is a constant plus rank-1 tensors
`hi[j]·lo[t]` for i = j·n + t (the inner-product challenges and the powers of
y and 2 all factor that way), so the sum over a whole batch is a small matrix
product, done here exactly in floating point on 16-bit limbs (one numpy BLAS call;
Kronecker-packed Python ints for a single proof, and for every batch where numpy is
not installed, as in the light SDK) instead of a Python loop over every (proof,
generator) pair.

The per-proof points (A, S, T1, T2, L, R, commitments) are summed in chunks
on background threads while the caller goes on decoding and hashing the next
proofs: the fast backend releases the GIL in its msm, so on a second core the
batch's point work hides behind its Python work.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Generic

from proofs.group import P, R
from proofs.pedersen import Generators

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

HAS_NUMPY = importlib.util.find_spec("numpy") is not None
"""A node's install has numpy; clearnode-client does not (packed ints then sum every batch)."""

# Outer sums of many terms run as a float64 matrix product (BLAS) on 16-bit
# limbs: a limb product has 32 bits, so a sum of up to 2^20 of them is an exact
# double. The product's fixed cost (a 512 x 1,024 result, ~5 ms) only pays from
# a few dozen terms; fewer (one proof has 3) take Kronecker-packed Python ints.
_BLAS_TERMS = 32
_LIMB_BITS = 16
_LIMBS = 16  # 256 bits per scalar
_CHUNK_TERMS = 1 << 20
# Limbs of a sum of < 2^20 products of two reduced scalars (< 2^530), with carries.
_SUM_LIMBS = 36
# Lane of the packed ints: a sum of < 2^18 products of two reduced scalars.
_LANE_BYTES = 66
_PACKED_CHUNK_TERMS = 1 << 17
# Points per background msm: large enough for an efficient msm and to dwarf a thread's start.
_FLUSH_POINTS = 8192

Tensor = tuple[Sequence[int], Sequence[int]]


def compute_outer_sum(terms: Sequence[Tensor], rows: int, cols: int) -> list[int]:
    """Σ_k hi_k ⊗ lo_k mod R as a flat row-major list (index j·cols + t).

    Every lo_k has exactly `cols` entries, every hi_k at most `rows` (missing
    entries are 0); all entries are reduced mod R."""
    if len(terms) < _BLAS_TERMS or not HAS_NUMPY:
        compute, chunk_terms = _compute_packed_outer_sum, _PACKED_CHUNK_TERMS
    else:
        compute, chunk_terms = _compute_exact_outer_sum, _CHUNK_TERMS
    out = [0] * (rows * cols)
    for start in range(0, len(terms), chunk_terms):
        for index, value in enumerate(compute(terms[start : start + chunk_terms], rows, cols)):
            out[index] += value
    return [x % R for x in out]


def _compute_packed_outer_sum(terms: Sequence[Tensor], rows: int, cols: int) -> list[int]:
    """Σ_k hi_k ⊗ lo_k over the integers, for fewer than 2^18 terms: each lo_k
    packed into one int (a lane per entry), so a row is `rows` big products."""
    packed = [
        int.from_bytes(b"".join(v.to_bytes(_LANE_BYTES, "little") for v in lo), "little")
        for _, lo in terms
    ]
    out: list[int] = []
    for j in range(rows):
        acc = sum(hi[j] * p for (hi, _), p in zip(terms, packed, strict=True) if j < len(hi))
        raw = acc.to_bytes(_LANE_BYTES * cols, "little")
        out += [
            int.from_bytes(raw[t * _LANE_BYTES : (t + 1) * _LANE_BYTES], "little")
            for t in range(cols)
        ]
    return out


def _to_limbs(values: Iterable[int], width: int) -> npt.NDArray[np.float64]:
    import numpy as np

    raw = b"".join(v.to_bytes(_LIMBS * 2, "little") for v in values)
    return np.frombuffer(raw, dtype="<u2").reshape(-1, width * _LIMBS).astype(np.float64)


def _compute_exact_outer_sum(terms: Sequence[Tensor], rows: int, cols: int) -> list[int]:
    """Σ_k hi_k ⊗ lo_k over the integers, for fewer than 2^20 terms.

    Limb (a, b) of entry (j, t) is an exact dot product of 32-bit products;
    the limbs are then gathered along a + b and their carries propagated."""
    import numpy as np

    if not terms:
        return [0] * (rows * cols)
    zero = (0,) * rows
    hi = _to_limbs((v for h, _ in terms for v in (*h, *zero[len(h) :])), rows)
    lo = _to_limbs((v for _, low in terms for v in low), cols)
    limbs = (hi.T @ lo).astype(np.int64).reshape(rows, _LIMBS, cols, _LIMBS)
    acc = np.zeros((rows, cols, _SUM_LIMBS), dtype=np.int64)
    for a in range(_LIMBS):
        acc[:, :, a : a + _LIMBS] += limbs[:, a, :, :]
    for d in range(_SUM_LIMBS - 1):
        acc[:, :, d + 1] += acc[:, :, d] >> _LIMB_BITS
        acc[:, :, d] &= (1 << _LIMB_BITS) - 1
    raw = acc.astype("<u2").tobytes()
    size = 2 * _SUM_LIMBS
    return [int.from_bytes(raw[i * size : (i + 1) * size], "little") for i in range(rows * cols)]


class _BackgroundMsm(Generic[P]):
    """One msm on a thread of its own; `result()` joins it."""

    def __init__(self, gens: Generators[P], points: list[P], scalars: list[int]) -> None:
        self._value: list[P] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(gens, points, scalars))
        self._thread.start()

    def _run(self, gens: Generators[P], points: list[P], scalars: list[int]) -> None:
        try:
            self._value.extend(gens.group.msm_batch([(points, scalars)]))
        except BaseException as exc:  # re-raised in the joining thread
            self._error.append(exc)

    def result(self) -> P:
        self._thread.join()
        if self._error:
            raise self._error[0]
        return self._value[0]


class MsmCheck(Generic[P]):
    """Terms of one equation Σ scalar·point = identity, evaluated as one msm
    (plus the background sums of points already handed off)."""

    def __init__(self, gens: Generators[P], n: int) -> None:
        self.gens = gens
        self.n = n
        self.rows = 0
        self.G = 0
        self.H = 0
        self.U = 0
        self.g_const = 0
        self.h_const = 0
        self.g_terms: list[Tensor] = []
        self.h_terms: list[Tensor] = []
        self.points: list[P] = []
        self.scalars: list[int] = []
        self._partials: list[_BackgroundMsm[P]] = []

    def add_point(self, point: P, scalar: int) -> None:
        self.add_points([point], [scalar])

    def add_points(self, points: Sequence[P], scalars: Sequence[int]) -> None:
        self.points.extend(points)
        self.scalars.extend(s % R for s in scalars)
        if len(self.points) >= _FLUSH_POINTS:
            self._partials.append(_BackgroundMsm(self.gens, self.points, self.scalars))
            self.points, self.scalars = [], []

    def add_vector_terms(self, rows: int, g: Sequence[Tensor], h: Sequence[Tensor]) -> None:
        """Tensor terms on g_i, h_i for i < rows·n."""
        self.rows = max(self.rows, rows)
        self.g_terms.extend(g)
        self.h_terms.extend(h)

    def is_identity(self) -> bool:
        """Evaluate the whole equation: one msm, plus the background sums."""
        count = self.rows * self.n
        g, h = self.gens.vectors(count)
        g_coeffs = compute_outer_sum(self.g_terms, self.rows, self.n)
        h_coeffs = compute_outer_sum(self.h_terms, self.rows, self.n)
        scalars = [
            *((c + self.g_const) % R for c in g_coeffs),
            *((c + self.h_const) % R for c in h_coeffs),
            self.G % R,
            self.H % R,
            self.U % R,
            *self.scalars,
        ]
        points = [*g, *h, self.gens.G, self.gens.H, self.gens.U, *self.points]
        group = self.gens.group
        total = group.msm(points, scalars)
        return group.is_identity(group.sum([total, *(p.result() for p in self._partials)]))

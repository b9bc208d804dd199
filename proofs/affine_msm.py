"""BLS12-381 G1 arithmetic on plain Python ints, and Pippenger's multi-scalar
multiplication with its buckets summed in affine coordinates: the group arithmetic of
the light SDK (proofs/pure_python_group.py), held to py-ecc's reference and the native
core by tests/proofs/test_pure_python_group.py.

Python ints are arbitrary-precision: a product of two field elements and its reduction
mod p cost ~0.55 µs together, about twenty times an addition, so the cost of a sum of points is
its count of `a * b % p`. An affine addition needs a field inversion (~20 µs), but the
inversions of many independent additions share one (Montgomery's trick: three products
each), so an addition costs 6 products where a Jacobian one costs 16, or 11 with one
affine summand. Every bucket of every window is summed that way, pairwise in layers (one
inversion per layer for all buckets at once), and the windows' running sums that weigh
the buckets run in step, one inversion per step for all windows. Only the last doublings
that join the windows are Jacobian.

Digits are signed (buckets 1..2^(c-1) with the negated point for a negative digit), so
a window has half the buckets. Pippenger puts each point into one bucket per window,
whatever is precomputed, so a table of the generators' window multiples (the same
4,099 points in every report) would save only the weighing of each window's buckets:
at most a quarter of a report's msm, for 8 MB to ship (20 multiples of each) or ~4 s
to build in every process. The GLV endomorphism would halve the windows of the
generators' scalars by doubling their points: the same number of bucket additions
again; and it may not touch a decoded point, which is not checked to be in the
prime-order subgroup (proofs/group.py).
"""

from __future__ import annotations

from collections.abc import Sequence

P = int(
    "1A0111EA397FE69A4B1BA7B6434BACD764774B84F38512BF6730D2A0F6B0F6241EABFFFEB153FFFFB9FEFFFFFFFFAAAB",
    16,
)
"""The base field's modulus: points are (x, y) with y² = x³ + 4 mod P."""
B = 4
SCALAR_BITS = 255  # the group order R < 2^255

Affine = tuple[int, int]
Jacobian = tuple[int, int, int]
"""(X, Y, Z) stands for (X/Z², Y/Z³); Z = 0 for the identity."""
JACOBIAN_IDENTITY: Jacobian = (1, 1, 0)


def is_on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x - B) % P == 0


def to_affine(point: Jacobian) -> Affine | None:
    """The affine point, None for the identity (one inversion)."""
    x, y, z = point
    if z == 0:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def double(point: Jacobian) -> Jacobian:
    """2·point (dbl-2009-l: 2 products and 5 squares)."""
    x, y, z = point
    if z == 0:
        return point
    a = x * x % P
    b = y * y % P
    c = b * b % P
    d = 2 * ((x + b) ** 2 - a - c) % P
    e = 3 * a
    f = e * e % P
    x3 = (f - 2 * d) % P
    return x3, (e * (d - x3) - 8 * c) % P, 2 * y * z % P


def add_affine(point: Jacobian, other: Affine) -> Jacobian:
    """point + other (madd-2007-bl: 7 products and 4 squares)."""
    x1, y1, z1 = point
    x2, y2 = other
    if z1 == 0:
        return x2, y2, 1
    z1z1 = z1 * z1 % P
    h = (x2 * z1z1 - x1) % P
    s = (y2 * z1 * z1z1 - y1) % P
    if h == 0:
        return double(point) if s == 0 else JACOBIAN_IDENTITY
    hh = h * h % P
    i = 4 * hh
    j = h * i % P
    r = 2 * s
    v = x1 * i % P
    x3 = (r * r - j - 2 * v) % P
    return x3, (r * (v - x3) - 2 * y1 * j) % P, 2 * z1 * h % P


def add_pairs(lefts: Sequence[Affine], rights: Sequence[Affine]) -> list[Affine | None]:
    """[lefts[i] + rights[i]] in affine coordinates (None where they cancel), sharing one
    field inversion: 6 products an addition."""
    p = P  # a local: read in every step of the loops below
    dens = [b[0] - a[0] for a, b in zip(lefts, rights, strict=True)]
    nums = [b[1] - a[1] for a, b in zip(lefts, rights, strict=True)]
    cancelled = []
    if 0 in dens:  # equal x: the same point, or opposite ones
        for i, d in enumerate(dens):
            if d == 0:
                x, y = lefts[i]
                if nums[i] == 0:  # a doubling: the slope is 3x²/2y (y ≠ 0: no 2-torsion)
                    dens[i], nums[i] = 2 * y, 3 * x * x
                else:
                    dens[i] = 1
                    cancelled.append(i)
    prefix = [1]
    for d in dens:
        prefix.append(prefix[-1] * d % p)
    inv = pow(prefix.pop(), -1, p)
    invs = [0] * len(dens)
    for i in range(len(dens) - 1, -1, -1):
        invs[i] = prefix[i] * inv % p
        inv = inv * dens[i] % p
    out: list[Affine | None] = []
    for (x1, y1), (x2, _), num, d_inv in zip(lefts, rights, nums, invs, strict=True):
        slope = num * d_inv % p
        x3 = (slope * slope - x1 - x2) % p
        out.append((x3, (slope * (x1 - x3) - y1) % p))
    for i in cancelled:
        out[i] = None
    return out


def sum_groups(groups: list[list[Affine]]) -> list[Affine | None]:
    """Each group's sum (None for an empty or cancelling one), all groups' additions in
    layers of pairs, one inversion per layer; the lists are consumed."""
    todo = [g for g in groups if len(g) > 1]
    while todo:
        lefts: list[Affine] = []
        rights: list[Affine] = []
        for g in todo:
            end = len(g) & ~1
            lefts += g[0:end:2]
            rights += g[1:end:2]
        sums = add_pairs(lefts, rights)
        start = 0
        for g in todo:
            pairs = len(g) >> 1
            odd = g[2 * pairs :]
            g[:] = [s for s in sums[start : start + pairs] if s is not None]
            g += odd
            start += pairs
        todo = [g for g in todo if len(g) > 1]
    return [g[0] if g else None for g in groups]


def msm(points: Sequence[Affine | None], scalars: Sequence[int]) -> Jacobian:
    """Σ scalars[i]·points[i] (None: the identity); scalars are reduced (0 <= k < R).
    Pippenger's from one point on: at 1 to 3 points it costs what shared doublings with
    a 4-bit table per point (Straus) do, and less from 4."""
    terms = [(p, k) for p, k in zip(points, scalars, strict=True) if k and p is not None]
    if not terms:
        return JACOBIAN_IDENTITY
    return pippenger(terms, get_window_bits(len(terms)))


def get_window_bits(count: int) -> int:
    """The window width c of least estimated cost for `count` points: per window, 6
    products for each point put into a bucket and ~16 for each of the 2^(c-1) buckets
    weighed (within 10% of the fastest c measured from 1 to 4,603 points)."""
    return min(range(2, 17), key=lambda c: _get_windows(c) * (6 * count + 16 * (1 << (c - 1))))


def _get_windows(c: int) -> int:
    return -(-(SCALAR_BITS + 1) // c)  # signed digits carry one bit past the scalar's


def pippenger(terms: Sequence[tuple[Affine, int]], c: int) -> Jacobian:
    """Σ k·point over `terms` (points finite, 0 < k < R) with c-bit signed windows."""
    half, full, mask = 1 << (c - 1), 1 << c, (1 << c) - 1
    windows = _get_windows(c)
    buckets: list[list[Affine]] = [[] for _ in range(windows * half)]
    for point, k in terms:
        negated = (point[0], P - point[1])
        base = -1
        for _ in range(windows):
            digit = k & mask
            k >>= c
            if digit > half:
                digit -= full
                k += 1
            if digit > 0:
                buckets[base + digit].append(point)
            elif digit < 0:
                buckets[base - digit].append(negated)
            base += half
    sums = sum_groups(buckets)
    # Σ_d d·B_d per window as Σ_j (Σ_{d >= j} B_d): a running sum added into a total,
    # every window's additions of one step together.
    running: list[Affine | None] = [None] * windows
    totals: list[Affine | None] = [None] * windows
    for digit in range(half - 1, -1, -1):
        _accumulate(running, [sums[w * half + digit] for w in range(windows)])
        _accumulate(totals, running)
    result = JACOBIAN_IDENTITY
    for total in reversed(totals):
        for _ in range(c):
            result = double(result)
        if total is not None:
            result = add_affine(result, total)
    return result


def _accumulate(into: list[Affine | None], terms: Sequence[Affine | None]) -> None:
    """into[w] += terms[w] for every w, the additions sharing one inversion."""
    pairs: list[tuple[int, Affine, Affine]] = []
    for w, (point, term) in enumerate(zip(into, terms, strict=True)):
        if point is None:
            into[w] = term
        elif term is not None:
            pairs.append((w, point, term))
    sums = add_pairs([point for _, point, _ in pairs], [term for _, _, term in pairs])
    for (w, _, _), total in zip(pairs, sums, strict=True):
        into[w] = total

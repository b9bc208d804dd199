"""Re-margin many sub-accounts at once with numpy int64, exactly.

numpy int64 wraps silently on overflow, so the fast path runs only after a
bound proves no intermediate can leave int64:

    |L_s| <= slots * max|q| * max|v|        (every partial sum too)
    k_num * IM and k_den * equity           (the maintenance comparison)

Otherwise the same figures come from the pure-Python reference
(``clearing.risk.margin``), so the result never depends on which path ran.
Layout: ``index[a, j]`` is the row (in ``RiskArrays.instrument_ids`` order) of
account ``a``'s ``j``-th position slot and ``quantity[a, j]`` its lots (0 for an
unused slot).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clearing.risk.margin import compute_initial_margin, is_maintenance_met

INT64_MAX = 2**63 - 1
CHUNK = 4096  # accounts per block: keeps the gathered rows in cache

IntMatrix = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BatchMargins:
    initial_margin: tuple[int, ...]
    below_maintenance: tuple[bool, ...]
    vectorised: bool  # which path ran (both give the same numbers)


def is_int64_safe(values: IntMatrix, quantity: IntMatrix, equity: IntMatrix, k: int) -> bool:
    """True when every product and sum of the batch provably fits in int64."""
    if quantity.size == 0 or values.size == 0:
        return True
    q_max = max(abs(int(quantity.min())), abs(int(quantity.max())))
    v_max = max(abs(int(values.min())), abs(int(values.max())))
    e_max = max(abs(int(equity.min())), abs(int(equity.max()))) if equity.size else 0
    loss_bound = quantity.shape[1] * q_max * v_max
    return bool(loss_bound <= INT64_MAX and k * max(loss_bound, e_max) <= INT64_MAX)


def compute_losses_vectorised(
    values: IntMatrix, index: IntMatrix, quantity: IntMatrix
) -> IntMatrix:
    """``L[a, s] = -sum_j quantity[a, j] * values[index[a, j], s]`` (caller checked bounds)."""
    n, slots = quantity.shape
    losses = np.zeros((n, values.shape[1]), dtype=np.int64)
    for start in range(0, n, CHUNK):
        block = losses[start : start + CHUNK]
        for j in range(slots):
            rows = values[index[start : start + CHUNK, j]]
            rows *= quantity[start : start + CHUNK, j, None]
            block -= rows
    return losses


def compute_losses_reference(
    values: IntMatrix, index: IntMatrix, quantity: IntMatrix
) -> list[list[int]]:
    """The same losses with Python ints (no overflow possible)."""
    table = values.tolist()
    out = []
    for idx_row, q_row in zip(index.tolist(), quantity.tolist(), strict=True):
        losses = [0] * values.shape[1]
        for i, q in zip(idx_row, q_row, strict=True):
            if q:
                for s, v in enumerate(table[i]):
                    losses[s] -= q * v
        out.append(losses)
    return out


def compute_batch_margins(
    values: IntMatrix, index: IntMatrix, quantity: IntMatrix, equity: IntMatrix, k_num: int,
    k_den: int,
) -> BatchMargins:  # fmt: skip
    """IM and the ``equity < MM`` flag of every account, exact on either path."""
    if is_int64_safe(values, quantity, equity, max(k_num, k_den)):
        im = compute_losses_vectorised(values, index, quantity).max(axis=1)
        below = k_den * equity < k_num * im
        return BatchMargins(tuple(im.tolist()), tuple(below.tolist()), True)
    ims = [compute_initial_margin(row) for row in compute_losses_reference(values, index, quantity)]
    flags = [
        not is_maintenance_met(e, im, k_num, k_den)
        for e, im in zip(equity.tolist(), ims, strict=True)
    ]
    return BatchMargins(tuple(ims), tuple(flags), False)

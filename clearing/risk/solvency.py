"""The public linear form of "equity >= MM" that the solvency proofs commit to.

Inputs of a sub-account, in a fixed order: cash, the quanta of every collateral
token (genesis order), the lots of every listed instrument (sorted ids, zeros
included). Row ``s`` is

    (k_den, k_den*w_1, ..., k_den*w_K, k_num*v[1][s], ..., k_num*v[N][s])

so ``row_s . x = k_den*equity - k_num*L_s``. The engine's check
``k_den*equity >= k_num*max_s L_s`` holds exactly when every row gives ``>= 0``
(the floors are inside ``v``, and scenario 0 is the base, so nothing else enters).
The rows are the same for every sub-account: they reveal nothing about one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clearing.assets import CollateralKey
from clearing.risk.arrays import RiskArrays


@dataclass(frozen=True, slots=True)
class SolvencyForm:
    input_labels: tuple[str, ...]
    rows: tuple[tuple[int, ...], ...]
    collateral_keys: tuple[CollateralKey, ...]
    instrument_ids: tuple[str, ...]

    def evaluate(self, inputs: Sequence[int]) -> tuple[int, ...]:
        """``row_s . inputs`` for every scenario."""
        return tuple(sum(c * x for c, x in zip(row, inputs, strict=True)) for row in self.rows)

    def is_solvent(self, inputs: Sequence[int]) -> bool:
        return all(value >= 0 for value in self.evaluate(inputs))


def get_solvency_form(
    arrays: RiskArrays,
    collateral_keys: Sequence[CollateralKey],
    weights: Mapping[CollateralKey, int],
    k_num: int,
    k_den: int,
) -> SolvencyForm:
    """Rows over (cash, collateral quanta in ``collateral_keys`` order, lots by sorted id)."""
    labels = (
        "cash",
        *(f"collateral:{chain}:0x{token.hex()}" for chain, token in collateral_keys),
        *(f"position:{iid}" for iid in arrays.instrument_ids),
    )
    head = (k_den, *(k_den * weights[key] for key in collateral_keys))
    rows = tuple(
        head + tuple(k_num * arrays.values[i][s] for i in range(len(arrays.instrument_ids)))
        for s in range(arrays.scenario_count)
    )
    return SolvencyForm(labels, rows, tuple(collateral_keys), arrays.instrument_ids)


def get_solvency_inputs(
    form: SolvencyForm,
    cash: int,
    collateral: Mapping[CollateralKey, int],
    positions: Mapping[str, int],
) -> tuple[int, ...]:
    """The committed vector of one sub-account, in ``form.input_labels`` order."""
    return (
        cash,
        *(collateral.get(key, 0) for key in form.collateral_keys),
        *(positions.get(iid, 0) for iid in form.instrument_ids),
    )

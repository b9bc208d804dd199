"""The mempool's check of clearing transactions: decoded (once: node/decoded_txs.py),
then admitted by their kind against the node's committed state
(clearing/transition/admission.py)."""

from __future__ import annotations

from collections.abc import Callable

from clearing.state import ClearingState
from clearing.transition.admission import admit_transaction
from clearing.tx_kind import Admission
from node.decoded_txs import decode_once
from node.mempool import CheckFn


def make_clearing_check(
    get_state: Callable[[], ClearingState], clock_ms: Callable[[], int] | None = None
) -> CheckFn:
    """A mempool check against the node's current clearing state (read, never written)
    and, for expiries, its clock (None: the committed block's time alone)."""

    def check(raw: bytes) -> Admission:
        now_ms = None if clock_ms is None else clock_ms()
        return admit_transaction(get_state(), decode_once(raw), raw, now_ms)

    return check

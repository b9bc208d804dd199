"""Asking peers in turn without waiting for a slow one alone (a hedged request).

The next peer is asked once the last ask returned without ending the search, or once
`hedge_s` passed while it ran: a peer behind a stalled link holds its ask as long as the
link stalls, while an answering peer takes a round trip. Block sync takes the first
answer (node/p2p/blocksync.py `fetch_first`); a CometBFT validator's fetch of a
proposal's bodies goes on until every body came (node/p2p/txfetch.py `fetch_txs`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import trio


async def ask_in_turn(
    peers: Sequence[str], hedge_s: float, ask: Callable[[str], Awaitable[bool]]
) -> list[str]:
    """Runs `ask(peer)` for `peers` in order, the next one once the last returned or
    `hedge_s` passed; an ask returning True ends the search, the asks still out
    cancelled. Returns the peers asked."""
    asked: list[str] = []
    async with trio.open_nursery() as nursery:

        async def run(peer: str, returned: trio.Event) -> None:
            ended = False
            try:
                ended = await ask(peer)
            finally:  # cancelled first: the loop must not start the next ask
                if ended:
                    nursery.cancel_scope.cancel()
                returned.set()

        for peer in peers:
            asked.append(peer)
            returned = trio.Event()
            nursery.start_soon(run, peer, returned)
            with trio.move_on_after(hedge_s):
                await returned.wait()
    return asked

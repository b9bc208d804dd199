"""How a signal stops the devnet: SIGINT (Ctrl-C), SIGTERM or SIGHUP, sent to the devnet
alone or to its whole process group (a terminal's Ctrl-C, `timeout`), stops every
process it started and ends it with exit code 128 + the signal's number (130, 143, 129,
as a shell reports a command a signal ended), after one line saying what the run
checked so far.

The first signal stops the run: inside the network's trio run it cancels the run; while
the chains and homes are made it is noted, and the start stops at its next step. Later
signals are ignored: the devnet stops its nodes with one SIGTERM each (a node takes a
second as "exit at once", skipping its CometBFT's ordered stop), and a devnet that a
second signal killed while it stopped left its nodes running (`timeout` signals the
devnet, then its whole group: two SIGTERMs).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import trio

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(Exception):
    """A signal stopped the devnet; the message says what it had checked by then."""

    def __init__(self, signum: int, checked: str) -> None:
        name = signal.Signals(signum).name
        super().__init__(
            f"stopped by {name}; checked so far: {checked}; every process it started is stopped"
        )
        self.signum = signum
        self.exit_code = 128 + signum


class StopSignals:
    """The devnet's handler of STOP_SIGNALS: which one came first, if any."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        if self._token is not None and self._scope is not None:
            self._token.run_sync_soon(self._scope.cancel)  # safe in a signal handler

    def check(self) -> None:
        """Between the start's steps: raises Stopped if a signal came."""
        if self.signum is not None:
            raise Stopped(self.signum, "nothing yet, the devnet was starting")

    @contextmanager
    def cancelling(self, scope: trio.CancelScope) -> Iterator[None]:
        """Within (in trio): a stop signal cancels `scope`, at once if one came already."""
        if self.signum is not None:
            scope.cancel()
        self._token, self._scope = trio.lowlevel.current_trio_token(), scope
        try:
            yield
        finally:
            self._token = self._scope = None


@contextmanager
def handle_stop_signals() -> Iterator[StopSignals]:
    """STOP_SIGNALS noted (the first) by a StopSignals within; after, the handlers before,
    unless a signal came: then the process is ending, and a second signal must not end
    it with that signal's status (`timeout`'s second SIGTERM may come that late)."""
    stop = StopSignals()
    before = {signum: signal.signal(signum, stop.handle) for signum in STOP_SIGNALS}
    try:
        yield stop
    finally:
        if stop.signum is None:
            for signum, handler in before.items():
                signal.signal(signum, handler)

"""The devnet's stop signals: the first stops the run, later ones are ignored (a second
SIGTERM, as `timeout` sends, killed a devnet that was stopping its validators)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
import trio

from devnet.stopping import STOP_SIGNALS, Stopped, StopSignals, handle_stop_signals


@pytest.fixture
def stop() -> Iterator[StopSignals]:
    """handle_stop_signals(), and pytest's handlers again after (a signal leaves the
    devnet's in place: its process is ending)."""
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        with handle_stop_signals() as stop:
            yield stop
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_the_first_signal_stops_the_start_and_later_ones_are_ignored(stop: StopSignals) -> None:
    stop.check()  # none yet
    signal.raise_signal(signal.SIGTERM)
    signal.raise_signal(signal.SIGINT)  # would have ended the process by its default action
    with pytest.raises(Stopped) as stopped:
        stop.check()
    assert stopped.value.exit_code == 143 and stop.signum == signal.SIGTERM
    assert str(stopped.value).startswith("stopped by SIGTERM; checked so far: nothing yet")
    signal.raise_signal(signal.SIGHUP)  # after the block too
    assert stop.signum == signal.SIGTERM


def test_a_signal_cancels_the_running_network(stop: StopSignals) -> None:
    async def run() -> bool:
        with trio.CancelScope() as scope, stop.cancelling(scope):
            signal.raise_signal(signal.SIGINT)
            await trio.sleep_forever()
        return scope.cancelled_caught

    assert trio.run(run)
    assert stop.signum == signal.SIGINT


def test_a_signal_before_the_network_runs_cancels_it_at_once(stop: StopSignals) -> None:
    signal.raise_signal(signal.SIGHUP)

    async def run() -> bool:
        with trio.CancelScope() as scope, stop.cancelling(scope):
            await trio.sleep_forever()
        return scope.cancelled_caught

    assert trio.run(run)

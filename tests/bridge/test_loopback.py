"""Free loopback ports: below the ephemeral range, never the same twice in one process, and
within the range a process was given (two pytest workers, two devnets side by side)."""

from __future__ import annotations

import pytest

from bridge.loopback import (
    LOWEST_PORT,
    PORTS_VARIABLE,
    get_ephemeral_start,
    get_free_port,
    get_port_range,
    is_free,
)


def test_without_a_range_every_port_below_the_ephemeral_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(PORTS_VARIABLE, raising=False)
    assert get_port_range() == range(LOWEST_PORT, get_ephemeral_start())


def test_ports_come_from_the_range_given_and_never_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORTS_VARIABLE, "20000-20019")
    ports = [get_free_port() for _ in range(10)]
    assert len(set(ports)) == 10 and all(20000 <= p <= 20019 for p in ports)
    assert all(is_free(p) for p in ports)


def test_a_range_all_handed_out_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORTS_VARIABLE, "20100-20100")
    get_free_port()
    with pytest.raises(OSError, match="between 20100 and 20100"):
        get_free_port()


@pytest.mark.parametrize("given", ["20000", "20000-", "x-20010", "20010-20000", "0-10", "1-65536"])
def test_a_malformed_range_is_refused(monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    monkeypatch.setenv(PORTS_VARIABLE, given)
    with pytest.raises(ValueError, match=f"{PORTS_VARIABLE}={given!r}"):
        get_port_range()

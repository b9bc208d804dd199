"""Hosts as Linux network namespaces on this machine, for many-host tests, and the
link faults between them.

`make_hosts(count)` makes `count` host namespaces and one switch namespace holding a bridge,
each host joined to it by a veth pair, with addresses in 10.77.0.0/24 assigned inside the
namespaces only and no route beyond that subnet: nothing a host sends can leave the
namespaces made here. The switch namespace has its own address on the bridge (for a
service every host reaches, e.g. anvil). Every namespace is removed on the way out, even
on failure; names are unique per call, so runs side by side do not meet. Where the
kernel refuses (not root, no `ip`, no netns support) the test is skipped, saying why.

Faults need no kernel module beyond the bridge (this kernel has neither `netem` nor tc's
filters, nor nftables): `split` moves hosts' switch ports onto bridges of their own, so
frames between groups have no path (a cable pulled: no reset, the peer just stops
answering); `cut_one_way` puts a blackhole route for the receiver in the sender's
namespace, so the receiver hears nothing from it while it still hears the receiver;
`heal` undoes both.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
SUBNET = "10.77.0"
SWITCH_ADDRESS = f"{SUBNET}.254"


@dataclass(frozen=True)
class Hosts:
    names: list[str]
    """Host namespaces: host i has address `addresses[i]` on its `eth0`."""
    addresses: list[str]
    switch: str
    """The bridge's namespace, at SWITCH_ADDRESS."""

    def wrap(self, index: int) -> list[str]:
        """The command prefix running a program on host `index`."""
        return ["ip", "netns", "exec", self.names[index]]

    def wrap_switch(self) -> list[str]:
        return ["ip", "netns", "exec", self.switch]

    def split(self, groups: list[list[int]]) -> None:
        """Each group of host indices on a bridge of its own: a host reaches only the hosts
        of its group. The first group keeps br0 and with it the switch's address; a host
        named in no group stays there too."""
        for number, group in enumerate(groups[1:], start=1):
            bridge = f"br{number}"
            if not has_link(self.switch, bridge):
                ip("-n", self.switch, "link", "add", bridge, "type", "bridge")
                ip("-n", self.switch, "link", "set", bridge, "up")
            for index in group:
                ip("-n", self.switch, "link", "set", f"p{index}", "master", bridge)

    def cut_one_way(self, sender: int, receiver: int) -> None:
        """Nothing `sender` sends reaches `receiver`; what `receiver` sends still arrives."""
        destination = f"{self.addresses[receiver]}/32"
        ip("-n", self.names[sender], "route", "add", "blackhole", destination)

    def heal(self) -> None:
        """Every host back on br0, every one-way cut undone."""
        for index, name in enumerate(self.names):
            ip("-n", self.switch, "link", "set", f"p{index}", "master", "br0")
            ip("-n", name, "route", "flush", "type", "blackhole")


def in_namespace(name: str, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` on a thread that entered network namespace `name`: every socket it
    opens is one of that namespace (setns moves the calling thread only; this process's
    other threads stay on this host)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with open(f"/run/netns/{name}") as netns:
                if ctypes.CDLL(None, use_errno=True).setns(netns.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {name}")
            result.append(work(*args))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"netns {name}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, timeout=30)
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.decode().strip()}")


def has_link(namespace: str, link: str) -> bool:
    done = subprocess.run(["ip", "-n", namespace, "link", "show", link], capture_output=True)
    return done.returncode == 0


def skip_reason() -> str | None:
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root (`ip netns add`)"
    return None


@contextmanager
def make_hosts(count: int, sysctls: dict[str, str] | None = None) -> Iterator[Hosts]:
    """`count` hosts on one switch; each host's kernel set with `sysctls` (its network
    namespace's own: e.g. `net.ipv4.tcp_rto_max_ms`)."""
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    tag = f"cn{os.getpid()}-{secrets.token_hex(3)}"
    switch = f"{tag}-sw"
    names = [f"{tag}-h{i}" for i in range(count)]
    made: list[str] = []
    try:
        try:
            ip("netns", "add", switch)
        except OSError as exc:
            pytest.skip(f"the kernel refuses a network namespace: {exc}")
        made.append(switch)
        ip("-n", switch, "link", "add", "br0", "type", "bridge")
        ip("-n", switch, "addr", "add", f"{SWITCH_ADDRESS}/24", "dev", "br0")
        ip("-n", switch, "link", "set", "br0", "up")
        ip("-n", switch, "link", "set", "lo", "up")
        addresses = []
        for i, name in enumerate(names):
            ip("netns", "add", name)
            made.append(name)
            # both ends are made inside their namespaces: none ever exists on this host
            ip(
                "-n",
                switch,
                "link",
                "add",
                f"p{i}",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                name,
            )
            ip("-n", switch, "link", "set", f"p{i}", "master", "br0", "up")
            address = f"{SUBNET}.{i + 1}"
            ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", name, "link", "set", "eth0", "up")
            ip("-n", name, "link", "set", "lo", "up")
            for key, value in (sysctls or {}).items():
                subprocess.run(["ip", "netns", "exec", name, "sysctl", "-qw", f"{key}={value}"],
                               check=True, capture_output=True, timeout=30)  # fmt: skip
            addresses.append(address)
        yield Hosts(names, addresses, switch)
    finally:
        for name in reversed(made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)

"""Separate network hosts on one machine: Linux network namespaces joined to this one by veth pairs.

Each host gets its own namespace with a /30 link to the root namespace (``10.213.<n>.2`` inside,
``10.213.<n>.1`` on this side) and a default route through it: a host reaches every address of the
root namespace (where the test's S3 endpoint listens on a link address), and the tests reach it. Nothing
leaves the machine. Needs root and iproute2; ``available()`` says whether this machine allows it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"vsprobe{os.getpid() % 100000}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError):
        return False
    _ip("netns", "del", probe)
    return True


@dataclass
class Host:
    namespace: str
    address: str
    """This host's address (inside its namespace)."""
    gateway: str
    """The root namespace's end of the link."""

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host's namespace (``ip netns exec`` keeps the pid)."""
        return ["ip", "netns", "exec", self.namespace, *argv]


class Hosts:
    def __init__(self) -> None:
        self.hosts: list[Host] = []
        self._tag = os.getpid() % 10000

    def add(self) -> Host:
        n = len(self.hosts) + 1
        namespace, outside, inside = f"vs{self._tag}h{n}", f"vs{self._tag}o{n}", f"vs{self._tag}i{n}"
        subnet = 10 + (self._tag % 200)  # 10.213.<subnet+n>.0/30: apart from other runs
        gateway, address = f"10.213.{subnet + n}.1", f"10.213.{subnet + n}.2"
        _ip("netns", "add", namespace)
        host = Host(namespace, address, gateway)
        self.hosts.append(host)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("addr", "add", f"{gateway}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", namespace, "addr", "add", f"{address}/30", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "route", "add", "default", "via", gateway)
        return host

    def close(self) -> None:
        for host in self.hosts:  # deleting the namespace deletes its veth pair
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True, timeout=30)
        self.hosts.clear()

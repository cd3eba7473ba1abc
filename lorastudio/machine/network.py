"""This machine on the network: whether a port is free to listen on, a free one, its own addresses
and names, and whether a host name is a loopback address or one of them (what node 0 of a
multi-node run checks before it hosts the rendezvous)."""

from __future__ import annotations

import contextlib
import ipaddress
import socket

import psutil


def port_is_free(port: int) -> bool:
    """Whether this machine can listen on ``port`` (what torchrun's store on node 0 does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As a server binds: connections of an earlier run still in TIME_WAIT do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def local_addresses() -> set[str]:
    """Every IP address of this machine, and its host names."""
    found = {socket.gethostname(), "localhost"}
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                found.add(address.address.split("%")[0])
    return found


def interface_names() -> list[str]:
    """The names of this machine's network interfaces, sorted (``eth0``, ``lo``, …)."""
    return sorted(psutil.net_if_addrs())


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False


def resolves_here(host: str, here: set[str] | None = None) -> bool:
    """Whether ``host`` names this machine: one of its addresses or names (``here``, by default
    `local_addresses`), a loopback address, or a name that resolves to one of them."""
    here = local_addresses() if here is None else here
    if host in here or is_loopback(host):
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return any(info[4][0] in here for info in infos)

"""This machine on the network, as node 0 of a multi-node run checks it: a port taken by a
listener is not free, loopback addresses are recognised in every spelling, and an address is
this machine's only when it is one of its own."""

from __future__ import annotations

import socket

import pytest

from lorastudio.machine.network import (
    free_port,
    interface_names,
    is_loopback,
    local_addresses,
    port_is_free,
    resolves_here,
)


def test_a_port_with_a_listener_is_not_free_and_a_free_one_is():
    with socket.socket() as taken:
        taken.bind(("", 0))
        taken.listen()
        assert not port_is_free(taken.getsockname()[1])
    assert port_is_free(free_port())


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.53", "::1"])
def test_loopback_addresses_are_recognised(host: str):
    assert is_loopback(host)
    assert resolves_here(host, here=set())


@pytest.mark.parametrize("host", ["10.0.0.1", "node0.example", "fe80::1"])
def test_other_addresses_are_not_loopback(host: str):
    assert not is_loopback(host)


def test_an_address_is_this_machines_only_when_it_is_one_of_its_own():
    assert resolves_here("10.1.2.3", here={"10.1.2.3"})
    assert not resolves_here("203.0.113.9", here={"10.1.2.3"})  # TEST-NET-3: nobody's


def test_this_machine_knows_its_name_and_its_interfaces():
    assert socket.gethostname() in local_addresses() and "localhost" in local_addresses()
    assert interface_names() == sorted(interface_names()) and interface_names()

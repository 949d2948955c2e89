"""The watchdog that ends a database round trip the server never answers (ops/postgresql)."""

import socket
import time

from ops.postgresql.base import watchdog


def test_it_shuts_a_socket_down_past_its_deadline():
    ours, server = socket.socketpair()
    with ours, server:
        ours.settimeout(10)
        with watchdog.deadline(ours.fileno(), 0.2):
            # A server that says nothing: before the watchdog, this waited as long as the stall.
            assert ours.recv(1) == b""


def test_it_leaves_a_round_trip_that_ended_in_time_alone():
    ours, server = socket.socketpair()
    with ours, server:
        with watchdog.deadline(ours.fileno(), 0.2):
            server.sendall(b"x")
            assert ours.recv(1) == b"x"
        server.sendall(b"y")
        ours.settimeout(1)
        # Well past the deadline, the socket still works.

        time.sleep(0.4)
        assert ours.recv(1) == b"y"

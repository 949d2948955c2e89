"""The watchdog that ends a database round trip the server never answers (ops/postgresql)."""

import socket
import time

import pytest
from django.db import connection

from ops import db, request_id
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


@pytest.mark.django_db
def test_no_statement_timeout_means_no_deadline_outside_the_panel(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the watchdog guards PostgreSQL connections")
    settings.DATABASE_STATEMENT_TIMEOUT = 0
    connection.ensure_connection()
    token = request_id.current.set("test")
    try:
        with connection._deadline():
            assert len(watchdog._waiting) == 0
        with db.round_trip_limit(3), connection._deadline():
            assert len(watchdog._waiting) == 1
    finally:
        request_id.current.reset(token)

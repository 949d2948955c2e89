"""PostgreSQL with bounded waits while serving a request.

Measured before: with the database stalled (its processes stopped, or packets to it silently
dropped), requests waited as long as the stall lasted — 40 s seen, /healthz included — since
nothing bounded a wait on a server that had accepted the connection and then said nothing, and
gunicorn's gthread workers do not enforce its `timeout` on a request. The bounds now:

- connecting gives up after DATABASE_CONNECT_TIMEOUT seconds (libpq's `connect_timeout`);
- in a web request, the server cancels a statement after DATABASE_STATEMENT_TIMEOUT seconds
  (30: gunicorn's own limit; admin reports on a million orders may take a while), set as a
  connection option so that it costs no round trip; management commands are not limited;
- a watchdog thread shuts down the socket of a round trip that waits longer than its request
  allows: the panel's round trips PANEL_DATABASE_TIMEOUT seconds (`ops.db.round_trip_limit`, around
  every panel view: a lock wait or a stalled server), any other a second past the statement
  timeout (a server that does not answer at all, which nothing else would end), and a reused
  connection's health check DATABASE_CONNECT_TIMEOUT seconds. psycopg then raises
  OperationalError, Django drops the connection, and the request gets the 503 page
  (crm_project.errors); the next request connects afresh.
"""

import os
import socket
import threading
import time
from contextlib import contextmanager, nullcontext

from django.conf import settings
from django.db.backends.postgresql import base
from django.db.backends.postgresql.base import Database

from ops import db, request_id


def serving_request():
    # Set by RequestIdMiddleware, the first middleware, for the whole of every request.
    return request_id.current.get() is not None


class Watchdog:
    """One thread per process that ends the round trips past their deadline."""

    interval = 0.1

    def __init__(self):
        self._lock = threading.Lock()
        self._waiting = {}
        self._thread = None
        self._pid = None

    @contextmanager
    def deadline(self, fileno, seconds):
        key = object()
        with self._lock:
            self._start()
            self._waiting[key] = (time.monotonic() + seconds, fileno)
        try:
            yield
        finally:
            with self._lock:
                self._waiting.pop(key, None)

    def _start(self):
        # After a fork (gunicorn's preload) the parent's thread is gone: start one per process.
        if self._thread is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
            self._thread.start()

    def _run(self):
        while True:
            time.sleep(self.interval)
            now = time.monotonic()
            with self._lock:
                # Under the lock the waiting thread is still inside its round trip, so the
                # descriptor is still its connection's.
                for key, (deadline, fileno) in list(self._waiting.items()):
                    if now >= deadline:
                        del self._waiting[key]
                        _shut_down(fileno)


def _shut_down(fileno):
    try:
        with socket.socket(fileno=os.dup(fileno)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


watchdog = Watchdog()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(self._execute_with_deadline)

    def get_connection_params(self):
        params = super().get_connection_params()
        params.setdefault("connect_timeout", settings.DATABASE_CONNECT_TIMEOUT)
        if serving_request() and settings.DATABASE_STATEMENT_TIMEOUT:
            milliseconds = int(settings.DATABASE_STATEMENT_TIMEOUT * 1000)
            options = params.get("options", "")
            params["options"] = f"{options} -c statement_timeout={milliseconds}".strip()
        return params

    def _socket(self):
        try:
            return self.connection.pgconn.socket
        except (AttributeError, Database.Error):
            # No connection, or a lost one: the round trip fails at once, nothing to watch.
            return None

    def _deadline(self):
        fileno = self._socket()
        if fileno is None or not serving_request():
            return nullcontext()
        seconds = db.round_trip_limit_now()
        if seconds is None and settings.DATABASE_STATEMENT_TIMEOUT:
            seconds = settings.DATABASE_STATEMENT_TIMEOUT + 1
        if seconds is None:
            # DATABASE_STATEMENT_TIMEOUT = 0: no limit outside the panel.
            return nullcontext()
        return watchdog.deadline(fileno, seconds)

    def _execute_with_deadline(self, execute, sql, params, many, context):
        with self._deadline():
            return execute(sql, params, many, context)

    def is_usable(self):
        # A reused connection's health check, also run outside requests (request_started and
        # request_finished signals), where a stalled server would otherwise hold it forever.
        fileno = self._socket()
        if fileno is None:
            return False
        with watchdog.deadline(fileno, settings.DATABASE_CONNECT_TIMEOUT):
            return super().is_usable()

    def _commit(self):
        with self._deadline():
            return super()._commit()

    def _rollback(self):
        with self._deadline():
            return super()._rollback()

    def _set_autocommit(self, autocommit):
        with self._deadline():
            return super()._set_autocommit(autocommit)

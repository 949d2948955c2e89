"""How long a request lets one database round trip take (enforced by ops/postgresql)."""

from contextlib import contextmanager
from contextvars import ContextVar

_limit = ContextVar("round_trip_limit", default=None)


@contextmanager
def round_trip_limit(seconds):
    """Cut any database round trip in this block that takes longer than `seconds`."""
    token = _limit.set(seconds)
    try:
        yield
    finally:
        _limit.reset(token)


def round_trip_limit_now():
    return _limit.get()

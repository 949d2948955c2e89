"""The Redis cache, degraded to a per-process memory cache while Redis is unreachable or stalled.

What Redis holds here is counters (the panel's and the API's rate limits) and nothing that is the
only copy of data, so losing it must never cost a request. Measured before this backend: with
Redis unreachable every panel load was a 500 (the rate limiter raised), and with Redis stalled
every load waited the client's default 5 s socket timeout, then failed.

So every operation runs against Redis with short socket timeouts (CACHE_SOCKET_TIMEOUT); when
one fails, this process stops asking Redis for CACHE_RETRY_INTERVAL seconds and uses its own
memory instead: rate limits then count per process (looser by the number of processes, but still
there), and a stall costs one timeout per process and interval rather than one per operation.
A warning is logged at most once a minute while Redis is failing. django-redis's
IGNORE_EXCEPTIONS answers None instead (every counter starts from nothing, no limit at all) and
pays the timeout on every call; this class is the few lines that do better for counters.
"""

import logging
import threading
import time

from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

WARNING_INTERVAL = 60

# The operations RedisCache implements itself; BaseCache builds the others (get_or_set, decr…)
# on these, so they degrade too.
_OPERATIONS = (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "set_many",
    "delete_many",
    "clear",
)


class FallbackRedisCache(RedisCache):
    def __init__(self, server, params):
        options = dict(params.get("OPTIONS", {}))
        self.retry_interval = float(options.pop("RETRY_INTERVAL", 5))
        super().__init__(server, {**params, "OPTIONS": options})
        self._local = LocMemCache(f"fallback-{id(self)}", {"TIMEOUT": params.get("TIMEOUT", 300)})
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._warned_at = float("-inf")

    @property
    def degraded(self):
        """Whether this process is answering from its own memory instead of Redis."""
        return time.monotonic() < self._down_until

    def _failed(self, error):
        now = time.monotonic()
        with self._lock:
            self._down_until = now + self.retry_interval
            warn = now - self._warned_at >= WARNING_INTERVAL
            if warn:
                self._warned_at = now
        if warn:
            # The class and text of the error name the fault (refused, timed out) without the
            # key or value of the operation.
            logger.warning(
                "Redis cache unavailable (%s: %s); rate limits count per process for now",
                type(error).__name__,
                error,
            )

    def count(self, key, timeout):
        """Add one to a counter, creating it (expiring after `timeout` seconds) if needed, and
        return the new value. One round trip to Redis, INCR and EXPIRE in a pipeline, where
        Django's `incr` takes two (EXISTS, then INCRBY) and a missing key two more: this runs
        on every panel load (the rate limits)."""
        if not self.degraded:
            try:
                redis_key = self.make_and_validate_key(key)
                with self._cache.get_client(key, write=True).pipeline() as pipe:
                    pipe.incr(redis_key)
                    pipe.expire(redis_key, timeout)
                    return pipe.execute()[0]
            except RedisError as error:
                self._failed(error)
        return count(self._local, key, timeout)


def count(cache, key, timeout):
    """`FallbackRedisCache.count` for any of Django's caches, in their own atomic operations."""
    # getattr, not isinstance: django.core.cache.cache is a proxy of the configured backend.
    counter = getattr(cache, "count", None)
    if counter is not None:
        return counter(key, timeout)
    try:
        return cache.incr(key)
    except ValueError:
        # The first of this window, or another process started it meanwhile.
        return 1 if cache.add(key, 1, timeout) else cache.incr(key)


def _degrading(name):
    redis_operation = getattr(RedisCache, name)
    local_operation = getattr(LocMemCache, name)

    def operation(self, *args, **kwargs):
        if not self.degraded:
            try:
                return redis_operation(self, *args, **kwargs)
            except RedisError as error:
                self._failed(error)
        return local_operation(self._local, *args, **kwargs)

    operation.__name__ = name
    return operation


for _name in _OPERATIONS:
    setattr(FallbackRedisCache, _name, _degrading(_name))

"""The health check load balancers call."""

import logging
import uuid

from django.core.cache import cache
from django.db import connections
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)


def healthz(request):
    """200 while the database answers, 503 when it does not.

    The cache is reported but does not fail the check: Redis is shared by every host, and the
    panel keeps working without it (ops.cache), so a Redis outage that took every host out of
    the load balancer would turn a degraded service into none at all.

    The body is for machines and says nothing about hosts or errors: those go to the log.
    """
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    database = _database_ok()
    cache_ok = _cache_ok()
    if not database:
        status = "error"
    elif not cache_ok:
        status = "degraded"
    else:
        status = "ok"
    response = JsonResponse(
        {
            "status": status,
            "database": "ok" if database else "error",
            "cache": "ok" if cache_ok else "error",
        },
        status=200 if database else 503,
    )
    add_never_cache_headers(response)
    return response


def _database_ok():
    for connection in connections.all():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception:
            logger.exception("Health check: database %r is unreachable", connection.alias)
            return False
    return True


def _cache_ok():
    # A key of its own for every check: processes sharing one Redis never read each other's.
    key = f"ops:healthz:{uuid.uuid4().hex}"
    try:
        cache.set(key, "ok", timeout=10)
        ok = cache.get(key) == "ok"
        cache.delete(key)
    except Exception:
        logger.exception("Health check: the cache is unreachable")
        return False
    if getattr(cache, "degraded", False):
        # The Redis backend answered from this process's memory; it logs why (ops.cache).
        return False
    if not ok:
        logger.error("Health check: the cache did not return the value just stored")
    return ok

"""The health check load balancers call."""

import logging
import uuid

from django.core.cache import cache
from django.db import connections
from django.http import HttpResponseNotAllowed, JsonResponse
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)


def healthz(request):
    """200 when every database and the cache answer, 503 naming the one that does not.

    The body is for machines and says nothing about hosts or errors: those go to the log.
    """
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    checks = {"database": _database_ok(), "cache": _cache_ok()}
    healthy = all(checks.values())
    response = JsonResponse(
        {
            "status": "ok" if healthy else "error",
            **{name: "ok" if ok else "error" for name, ok in checks.items()},
        },
        status=200 if healthy else 503,
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
    if not ok:
        logger.error("Health check: the cache did not return the value just stored")
    return ok

"""The health check load balancers call."""

import contextvars
import logging
import threading
import uuid

from django.conf import settings
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
    """Whether every database answers within HEALTHZ_TIMEOUT seconds.

    The query runs in a thread of its own, on connections of its own that it closes, so that a
    stalled database costs the load balancer HEALTHZ_TIMEOUT seconds rather than as long as the
    stall lasts (measured before: 40 s). The thread itself ends within the database's own bounds
    (ops.postgresql), whatever the server does.
    """
    result = {}
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(_query_databases, result), daemon=True)
    thread.start()
    thread.join(settings.HEALTHZ_TIMEOUT)
    if thread.is_alive():
        logger.error(
            "Health check: the database did not answer within %s s", settings.HEALTHZ_TIMEOUT
        )
        return False
    return result.get("ok", False)


def _query_databases(result):
    try:
        for connection in connections.all():
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    cursor.fetchone()
            except Exception as error:
                # One line, not a traceback at every check while the database is down.
                logger.error(
                    "Health check: database %r is unreachable (%s: %s)",
                    connection.alias,
                    type(error).__name__,
                    str(error).strip().replace("\n", " "),
                )
                result["ok"] = False
                return
        result["ok"] = True
    finally:
        connections.close_all()


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

"""Per-address rate limits for the panel, counted in the configured cache.

Fixed one-minute windows in Django's cache: with Redis (CACHE_URL) every process and host shares
the counters; `incr` is atomic there. A dependency such as django-ratelimit would add little
over these few lines, and the panel needs two different budgets per address (loads and
failures) anyway.
"""

import ipaddress
import time

from django.conf import settings
from django.core.cache import cache

from ops.cache import count

WINDOW = 60


def client_ip(request):
    """The client's address, read through NUM_PROXIES trusted proxies' X-Forwarded-For."""
    remote = request.META.get("REMOTE_ADDR", "")
    if settings.NUM_PROXIES:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= settings.NUM_PROXIES:
            candidate = forwarded[-settings.NUM_PROXIES]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return None


def _key(bucket, address):
    return f"panel-rate:{bucket}:{address}:{int(time.time() // WINDOW)}"


def seconds_left():
    """Seconds until the current window ends and every count starts again (Retry-After)."""
    return WINDOW - int(time.time() % WINDOW)


def hit(bucket, address, limit):
    """Count one request; True while it is within `limit`."""
    return count(cache, _key(bucket, address), WINDOW + 5) <= limit

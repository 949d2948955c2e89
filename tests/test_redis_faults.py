"""Redis unreachable or stalled: the panel still loads, and rate limits count per process.

A port nothing listens on is an unreachable Redis; a private redis-server stopped with SIGSTOP is
a stalled one (it accepts connections and never answers). The shared Redis is never touched.
"""

import logging
import time

import pytest
import redis
from django.core.cache import cache

from tests.servers import PrivateRedis, start_or_skip

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"


def redis_settings(url, retry_interval=5):
    return {
        "default": {
            "BACKEND": "ops.cache.FallbackRedisCache",
            "LOCATION": url,
            "OPTIONS": {
                "socket_connect_timeout": 0.25,
                "socket_timeout": 0.25,
                "RETRY_INTERVAL": retry_interval,
            },
        }
    }


@pytest.fixture
def private_redis():
    server = start_or_skip(PrivateRedis)
    yield server, server.url
    server.remove()


def load(client, **extra):
    return client.get(PANEL, {"visitorImId": VISITOR, "lang": "en"}, **extra)


def test_the_panel_loads_with_redis_unreachable(client, db, settings, caplog):
    settings.CACHES = redis_settings("redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="ops.cache"):
        assert load(client).status_code == 200
        assert load(client).status_code == 200
    warnings = [r for r in caplog.records if r.name == "ops.cache"]
    assert len(warnings) == 1
    assert "count per process" in warnings[0].getMessage()


def test_rate_limits_count_per_process_while_redis_is_unreachable(client, db, settings):
    settings.CACHES = redis_settings("redis://127.0.0.1:1/0")
    settings.PANEL_RATE_LIMIT = 2
    assert load(client).status_code == 200
    assert load(client).status_code == 200
    assert load(client).status_code == 429


def test_the_warning_comes_again_after_a_minute(settings, monkeypatch, caplog):
    settings.CACHES = redis_settings("redis://127.0.0.1:1/0", retry_interval=0)
    clock = [1000.0]
    monkeypatch.setattr("ops.cache.time.monotonic", lambda: clock[0])
    with caplog.at_level(logging.WARNING, logger="ops.cache"):
        for _ in range(3):
            cache.get("k")
            clock[0] += 20
        cache.get("k")
    assert len([r for r in caplog.records if r.name == "ops.cache"]) == 2


def test_a_stalled_redis_costs_one_short_timeout(client, db, settings, private_redis):
    process, url = private_redis
    settings.CACHES = redis_settings(url)
    assert load(client).status_code == 200
    process.stall()
    started = time.monotonic()
    for _ in range(10):
        assert load(client).status_code == 200
    # Before: every load waited the client's 5-second default, then failed. Now the first
    # operation times out after 0.25 s and the process stops asking Redis for a while.
    assert time.monotonic() - started < 3
    assert cache.degraded


def test_it_returns_to_redis_when_redis_is_back(client, db, settings, private_redis):
    process, url = private_redis
    settings.CACHES = redis_settings(url, retry_interval=0.2)
    process.stall()
    assert load(client).status_code == 200
    assert cache.degraded
    process.resume()
    time.sleep(0.3)
    assert load(client).status_code == 200
    assert not cache.degraded
    # The load was counted in Redis again, where every process sees it.
    keys = redis.Redis.from_url(url).keys("*panel-rate:load:*")
    assert len(keys) == 1


def test_healthz_reports_a_stalled_redis_without_failing(client, db, settings, private_redis):
    process, url = private_redis
    settings.CACHES = redis_settings(url)
    process.stall()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["cache"] == "error"

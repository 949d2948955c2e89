"""/healthz: what load balancers call to decide whether a host gets traffic."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# A port nothing listens on: a real, unreachable Redis.
UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "ops.cache.FallbackRedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    }
}


@pytest.fixture
def unreachable_cache(settings):
    settings.CACHES = UNREACHABLE_REDIS


def test_it_answers_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_it_answers_head(client, db):
    assert client.head("/healthz").status_code == 200


def test_it_rejects_post(client, db):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_it_is_never_cached(client, db):
    cache_control = client.get("/healthz")["Cache-Control"]
    assert "no-store" in cache_control
    assert "no-cache" in cache_control


def test_it_needs_no_login(client, db):
    response = client.get("/healthz", follow=False)
    assert response.status_code == 200


def test_it_answers_a_load_balancer_calling_by_ip(client, db):
    # 10.0.0.5 is not in ALLOWED_HOSTS: any other URL is a 400.
    assert client.get("/healthz", HTTP_HOST="10.0.0.5").status_code == 200
    assert client.get("/admin/login/", HTTP_HOST="10.0.0.5").status_code == 400


def test_it_answers_over_plain_http_with_the_https_redirect_on(client, db, settings):
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz")
    assert response.status_code == 200
    assert client.get("/admin/login/").status_code == 301


def test_it_stays_up_but_degraded_when_the_cache_is_unreachable(client, db, unreachable_cache):
    # Redis is shared by every host: failing the check would take all of them out of rotation.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "cache": "error"}


def test_it_logs_what_failed_but_does_not_say_it(client, db, unreachable_cache, caplog):
    response = client.get("/healthz")
    body = response.content.decode()
    assert "127.0.0.1" not in body
    assert "redis" not in body.lower()
    assert "Error" not in body
    assert "Redis cache unavailable" in caplog.text
    assert "Connection refused" in caplog.text


def test_it_holds_no_secrets(client, db, settings):
    body = client.get("/healthz").content.decode()
    for secret in (
        settings.SECRET_KEY,
        settings.PANEL_TOKEN,
        settings.DATABASES["default"]["NAME"],
    ):
        assert str(secret) not in body


# The settings, a database on a port nothing listens on, and the test client, in a process of
# their own: a real unreachable database without touching the suite's connection.
_CALL_HEALTHZ = """
import django, json
django.setup()
from django.test import Client
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def test_it_answers_503_when_the_database_is_unreachable():
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": "postgres://crm:hunter2-secret@127.0.0.1:1/crm",
        "CACHE_URL": "locmemcache://",
    }
    result = subprocess.run(
        [sys.executable, "-c", _CALL_HEALTHZ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {
        "status": 503,
        "body": {"status": "error", "database": "error", "cache": "ok"},
    }
    assert "hunter2" not in result.stdout
    assert "Health check: database 'default' is unreachable" in result.stderr


def test_it_echoes_the_proxys_request_id(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="3f2c9a0e8b7d4c1fa6e5d4c3b2a19087")
    assert response["X-Request-ID"] == "3f2c9a0e8b7d4c1fa6e5d4c3b2a19087"


def test_it_generates_a_request_id(client, db):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert len(first) == 32
    assert first != second


@pytest.mark.parametrize(
    "sent", ["x" * 65, "id with spaces", "id\u200bwith-zero-width", "<script>", "a;b", ""]
)
def test_it_replaces_an_invalid_request_id(client, db, sent):
    answered = client.get("/healthz", HTTP_X_REQUEST_ID=sent)["X-Request-ID"]
    assert answered != sent
    assert len(answered) == 32


def test_every_response_carries_a_request_id(client, db):
    assert client.get("/admin/login/")["X-Request-ID"]
    assert client.get("/no-such-page/")["X-Request-ID"]

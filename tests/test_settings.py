"""Production settings: refusing to start half-configured, and `check --deploy` clean."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k3J9-fh2_Qm8vLw0pZrT6yXcB1nDgA5sEuHo7iKjMlNbVqWxYzC4e",
    "DJANGO_ALLOWED_HOSTS": "crm.example.com",
    "PANEL_TOKEN": "Zk8v2LmQ9rT4xW1nB6yC",
    "DATABASE_URL": "postgres://crm:secret@db.internal:5432/crm",
    "CACHE_URL": "redis://cache.internal:6379/0",
}


def manage(*args, env):
    # A clean environment and no .env file: only what the test gives is configured.
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "crm_project.settings"}
    return subprocess.run(
        [sys.executable, "-c", _NO_DOTENV, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


# Runs manage.py with the project's `.env` (a developer's) hidden from the settings.
_NO_DOTENV = (
    "import sys, pathlib; pathlib.Path.is_file = (lambda f: lambda p: p.name != '.env' and f(p))"
    "(pathlib.Path.is_file); sys.argv = ['manage.py'] + sys.argv[1:]; "
    "from django.core.management import execute_from_command_line; "
    "execute_from_command_line(sys.argv)"
)


def test_check_deploy_is_clean_in_production_configuration():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "missing, message",
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY is required"),
        ("PANEL_TOKEN", "PANEL_TOKEN is required"),
        ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS is required"),
    ],
)
def test_production_refuses_to_start_without(missing, message):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert message in result.stderr


def test_debug_starts_with_development_defaults():
    result = manage("shell", "-v", "0", "-c", _PRINT_SETTINGS, env={"DJANGO_DEBUG": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["dev", "False", "locmem", "sqlite3"]


_PRINT_SETTINGS = (
    "from django.conf import settings as s; "
    "print(s.PANEL_TOKEN, s.SECURE_SSL_REDIRECT, s.CACHES['default']['BACKEND'].split('.')[-2], "
    "s.DATABASES['default']['ENGINE'].split('.')[-1])"
)


def test_production_defaults_are_secure():
    result = manage("shell", "-v", "0", "-c", _PRINT_SECURITY, env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "31536000",
        "True",
        "True",
        "HTTP_X_FORWARDED_PROTO",
        "DENY",
        "postgresql",
        "ops.cache.FallbackRedisCache",
    ]


_PRINT_SECURITY = (
    "from django.conf import settings as s; "
    "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
    "s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER[0], s.X_FRAME_OPTIONS, "
    "s.DATABASES['default']['ENGINE'].split('.')[-1], s.CACHES['default']['BACKEND'])"
)


def test_redis_gets_short_timeouts():
    # Measured before: a stalled Redis made every panel load wait the client's default 5 s.
    script = "from django.conf import settings as s; print(s.CACHES['default']['OPTIONS'])"
    result = manage("shell", "-v", "0", "-c", script, env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "'socket_timeout': 0.25" in result.stdout
    assert "'socket_connect_timeout': 0.25" in result.stdout


@pytest.mark.parametrize(
    "token", ["dev", "12345", "test-panel-token", "changeme-changeme", "a" * 32, "1234567890" * 3]
)
def test_production_refuses_a_guessable_panel_token(token):
    result = manage("check", env={**PRODUCTION, "PANEL_TOKEN": token})
    assert result.returncode != 0
    assert "PANEL_TOKEN is too easy to guess" in result.stderr
    assert "secrets.token_urlsafe" in result.stderr


def test_debug_still_accepts_the_development_token():
    result = manage("check", env={"DJANGO_DEBUG": "true", "PANEL_TOKEN": "dev"})
    assert result.returncode == 0, result.stderr


def test_collectstatic_builds_hashed_compressed_files(tmp_path):
    env = {**PRODUCTION, "DJANGO_STATIC_ROOT": str(tmp_path)}
    result = manage("collectstatic", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "staticfiles.json").is_file()
    assert list(tmp_path.glob("admin/css/base.*.css.gz"))

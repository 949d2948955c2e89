"""With CACHE_URL=redis://…, every process counts the panel's rate limits in one place."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# One process's view of the limit: five tries against a limit of three, printed as 1/0.
HIT_THREE_TIMES = """
import django
django.setup()
from iframe_panel import ratelimit
print("".join("1" if ratelimit.hit("load", "203.0.113.9", 3) else "0" for _ in range({n})))
"""


def redis_reachable():
    host, port = REDIS_URL.split("//", 1)[1].split("/", 1)[0].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture
def redis_env():
    if not redis_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "CACHE_URL": REDIS_URL,
        "PYTHONPATH": str(ROOT),
    }
    flush = "import django; django.setup(); from django.core.cache import cache; cache.clear()"
    subprocess.run([sys.executable, "-c", flush], env=env, cwd=ROOT, check=True, timeout=60)
    yield env
    subprocess.run([sys.executable, "-c", flush], env=env, cwd=ROOT, check=True, timeout=60)


def run(env, tries):
    result = subprocess.run(
        [sys.executable, "-c", HIT_THREE_TIMES.format(n=tries)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_two_processes_share_one_rate_limit(redis_env):
    assert run(redis_env, 2) == "11"
    # A second process sees the first one's two loads: one more is allowed, then refused.
    assert run(redis_env, 3) == "100"


def test_separate_processes_with_a_local_cache_do_not_share(redis_env):
    local = {**redis_env, "CACHE_URL": "locmemcache://"}
    assert run(local, 2) == "11"
    assert run(local, 3) == "111"

"""PostgreSQL unreachable, stopped or stalled, under a real gunicorn: the panel degrades to a
framable 503 page in its language within seconds, and recovers without a restart.

The database is a private PostgreSQL instance this module starts on a free port and stops,
stalls (SIGSTOP) and locks as it needs; the shared one is never touched.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from tests.servers import ROOT, Gunicorn, PrivatePostgres, get, start_or_skip, wait_for

TOKEN = "panel-token-for-tests-7Qm2x"
VISITOR = "webim-visitor-FAULTS0000000001"
PANEL = f"/panel/{TOKEN}/?visitorImId={VISITOR}&easemobId=1&to=2"


SEED = f"""
import django
django.setup()
from customers.models import Customer, VisitorIdentity
from api.models import IntegrationToken
customer = Customer.objects.create(name="故障测试", phone="13800138000", external_id="F1")
VisitorIdentity.objects.create(visitor_im_id="{VISITOR}", customer=customer)
token = IntegrationToken(name="faults")
print(token.set_new_token())
token.save()
"""


@pytest.fixture(scope="module")
def postgres():
    server = start_or_skip(PrivatePostgres)
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def app(postgres, tmp_path_factory):
    """gunicorn with the project's config, production-like settings and the private database."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": postgres.url,
        "CACHE_URL": "locmemcache://",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
    seeded = subprocess.run(
        [sys.executable, "-c", SEED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    server = Gunicorn(env, tmp_path_factory.mktemp("gunicorn") / "log")
    yield {"base": server.base, "api_token": seeded.stdout.strip(), "log": server.log_path}
    server.stop()


def assert_panel_503(status, headers, body, seconds, lang="zh-hans"):
    assert status == 503
    assert seconds < 5.5
    assert f'<html lang="{lang}"' in body
    assert "Traceback" not in body
    # Easemob may frame it: the panel's CSP, not X-Frame-Options DENY.
    assert "X-Frame-Options" not in headers
    assert "frame-ancestors https://kefu.easemob.com" in headers["Content-Security-Policy"]


@pytest.fixture
def database_down(postgres, app):
    postgres.stop()
    yield
    postgres.start()
    wait_for(lambda: get(app["base"] + PANEL)[0] == 200)


@pytest.fixture
def database_stalled(postgres, app):
    assert get(app["base"] + PANEL)[0] == 200  # a persistent connection to stall
    postgres.stall()
    yield
    postgres.resume()
    wait_for(lambda: get(app["base"] + PANEL)[0] == 200)


def test_the_panel_loads_while_the_database_is_up(app):
    status, _, body, _ = get(app["base"] + PANEL)
    assert status == 200
    assert "故障测试" in body


def test_the_panel_answers_503_in_its_language_when_the_database_is_down(app, database_down):
    assert_panel_503(*get(app["base"] + PANEL))
    status, headers, body, seconds = get(app["base"] + PANEL + "&lang=en")
    assert_panel_503(status, headers, body, seconds, lang="en")
    assert "The CRM is temporarily unavailable." in body
    assert "The conversation is not affected" in body
    status, _, body, _ = get(app["base"] + PANEL)
    assert "CRM 暂时无法使用。" in body


def test_healthz_answers_503_quickly_when_the_database_is_down(app, database_down):
    status, _, body, seconds = get(app["base"] + "/healthz")
    assert status == 503
    assert json.loads(body)["database"] == "error"
    assert seconds < 2


def test_actions_answer_json_503_when_the_database_is_down(app, database_down):
    status, headers, body, _ = get(
        app["base"] + f"/panel/{TOKEN}/note/?lang=en", method="POST", data=b"v=x&t=y&text=hi"
    )
    assert status in (403, 503)  # the action token is checked before the database is needed
    status, headers, body, _ = get(app["base"] + f"/panel/{TOKEN}/search/?lang=en&v=x&t=y&q=1")
    assert status in (403, 503)


def test_the_api_answers_json_503_when_the_database_is_down(app, database_down):
    status, headers, body, _ = get(
        app["base"] + "/api/v1/customers/F1/",
        headers={"Authorization": f"Bearer {app['api_token']}", "Accept-Language": "en"},
    )
    assert status == 503
    assert headers["Content-Type"] == "application/json"
    assert "temporarily unavailable" in json.loads(body)["detail"]


def test_the_admin_answers_its_own_503_when_the_database_is_down(app, database_down):
    # A signed-in user's session is read from the database.
    session = {"Cookie": "sessionid=0123456789abcdefghijklmnopqrstuv"}
    status, headers, body, _ = get(
        app["base"] + "/admin/", headers={**session, "Accept-Language": "en"}
    )
    assert status == 503
    assert "The CRM is temporarily unavailable." in body
    assert headers["X-Frame-Options"] == "DENY"
    status, _, body, _ = get(
        app["base"] + "/admin/", headers={**session, "Accept-Language": "zh-hans"}
    )
    assert "CRM 暂时无法使用。" in body


def test_it_recovers_without_a_restart(app, postgres):
    postgres.stop()
    assert get(app["base"] + PANEL)[0] == 503
    postgres.start()
    status, _, body, _ = get(app["base"] + PANEL)
    assert status == 200
    assert "故障测试" in body


def test_a_stalled_database_costs_the_panel_seconds_not_the_stall(app, database_stalled):
    # Before: the request waited as long as the stall lasted (40 s seen).
    assert_panel_503(*get(app["base"] + PANEL))
    # The connection that was dropped is not retried: a new one times out connecting.
    assert_panel_503(*get(app["base"] + PANEL))


def test_healthz_answers_within_two_seconds_while_the_database_stalls(app, database_stalled):
    status, _, body, seconds = get(app["base"] + "/healthz")
    assert status == 503
    assert seconds < 2.5
    assert json.loads(body)["database"] == "error"


def test_a_statement_waiting_on_a_lock_is_cancelled(app, postgres):
    # A migration or a long transaction holding a lock: the panel gives up after 3 s.
    psql = postgres.psql()
    holder = subprocess.Popen(psql, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    holder.stdin.write(
        "BEGIN; LOCK TABLE customers_visitoridentity IN ACCESS EXCLUSIVE MODE;\n"
        "SELECT pg_sleep(60);\n"
    )
    holder.stdin.flush()
    try:
        time.sleep(0.5)
        assert_panel_503(*get(app["base"] + PANEL))
    finally:
        end = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
        )
        subprocess.run([*psql, "-c", end], check=True, capture_output=True, timeout=30)
        holder.kill()
        holder.wait()
    assert get(app["base"] + PANEL)[0] == 200


def test_the_log_holds_no_traceback_for_an_unavailable_database(app):
    text = app["log"].read_text()
    assert "OperationalError" in text
    assert "Traceback" not in text

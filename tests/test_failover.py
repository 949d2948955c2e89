"""Several app servers behind nginx (deploy/nginx/crm.conf): losing one loses no agent's load.

The first tests run the sample site in a real nginx in front of small stand-in app servers, for
what nginx decides alone: which requests it resends to the other server. The last one (marked
slow, `pytest -m slow` or `make failover`) stops a real gunicorn under a load of panel loads.
"""

import http.server
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection

from bench.harness import SITE_HOST, Nginx, Processes, find_tool, free_port
from bench.load import Connection

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class StandIn:
    """An app server that answers every GET with `status` and counts the requests it gets; a
    POST it reads and then drops the connection unanswered, as a server that dies mid-request."""

    def __init__(self, status):
        self.requests = {"GET": 0, "POST": 0}
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                stand_in.requests["GET"] += 1
                body = f"app page {status}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                stand_in.requests["POST"] += 1
                self.rfile.read(int(self.headers["Content-Length"]))
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(tmp_path):
    """Start the sample site in front of the given upstream addresses."""
    if not find_tool("nginx") or not find_tool("openssl"):
        pytest.skip("needs nginx and openssl (apt-get install -y nginx openssl)")
    with Processes() as processes:
        yield lambda upstreams: Nginx(processes, tmp_path / "nginx", upstreams).start()


@pytest.fixture
def stand_ins():
    started = []

    def start(status):
        started.append(StandIn(status))
        return started[-1]

    yield start
    for stand_in in started:
        stand_in.close()


def closed_port():
    # Nothing listens on a port just released: a server that is down.
    return f"127.0.0.1:{free_port()}"


def send(nginx, method="GET", path="/panel/x/", body=None):
    """One request to the site over TLS, on a connection of its own."""
    client = Connection({"port": nginx.https_port, "tls_host": SITE_HOST, "host": SITE_HOST})
    client.open()
    headers = {"Host": SITE_HOST}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        client.conn.request(method, path, body=body, headers=headers)
        response = client.conn.getresponse()
        return response.status, response.read().decode()
    finally:
        client.close()


def test_it_sends_a_get_to_the_other_server_when_one_is_down(site, stand_ins):
    live = stand_ins(200)
    nginx = site([closed_port(), live.address])

    answers = [send(nginx) for _ in range(10)]

    assert answers == [(200, "app page 200")] * 10
    assert live.requests["GET"] == 10


def test_it_never_sends_a_post_twice(site, stand_ins):
    first, second = stand_ins(200), stand_ins(200)
    nginx = site([first.address, second.address])

    status, _ = send(nginx, "POST", "/panel/x/actions/reveal/", body="field=phone")

    # Whichever server got it dropped it; the other one never saw it.
    assert status == 502
    assert first.requests["POST"] + second.requests["POST"] == 1


def test_it_passes_the_apps_503_on_when_every_server_answers_it(site, stand_ins):
    # The database is down for every server: agents must get the app's own page (localized,
    # frameable), not nginx's "502 Bad Gateway" for every server marked failed.
    first, second = stand_ins(503), stand_ins(503)
    nginx = site([first.address, second.address])

    answers = [send(nginx) for _ in range(10)]

    assert answers == [(503, "app page 503")] * 10
    assert first.requests["GET"] + second.requests["GET"] == 10


@pytest.mark.slow
def test_it_loses_no_panel_load_when_an_app_server_stops(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("two app servers share one PostgreSQL: run with DATABASE_URL=postgres://...")
    try:
        host, port = REDIS_URL.split("//", 1)[1].split("/", 1)[0].split(":")
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    s = connection.settings_dict
    database_url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    if s["PASSWORD"]:
        database_url = database_url.replace("@", f":{s['PASSWORD']}@", 1)
    database_url += f"/{s['NAME']}"

    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "failover.py")]
        + ["--duration", "10", "--rate", "20", "--customers", "20", "--warmup", "1"]
        + ["--database-url", database_url, "--cache-url", REDIS_URL],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Round 1: SIGTERM" in result.stdout
    assert "Round 2: SIGKILL" in result.stdout
    assert "failed:" not in result.stdout

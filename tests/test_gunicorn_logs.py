"""gunicorn's access and error logs hold no panel token, no query string and no control
character, whatever the request; and gunicorn lets through every URL the panel accepts.

One gunicorn for the module, run as production runs it (`gunicorn -c gunicorn.conf.py
crm_project.wsgi`, debug off, a long random token), with its two logs in files.
"""

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gunicorn.config import Config

from iframe_panel.params import MAX_NAME_LENGTH
from ops.gunicorn_logging import Logger

ROOT = Path(__file__).resolve().parent.parent
TOKEN = secrets.token_urlsafe(32)
HOST = "crm.example.com"
VISITOR = "webim-visitor-GUNICORNLOGS"
# A panel load as Easemob sends it after a cmd message: the visitor's name and phone pushed.
QUERY = f"visitorImId={VISITOR}&name=%E5%BC%A0%E4%B8%89&phone=13800138000&lang=en"
# The query in every shape it could take in a log line: as sent, decoded, as one character per
# byte (how gunicorn reads a request line it refuses), escaped.
LEAKS = [
    TOKEN,
    VISITOR,
    "13800138000",
    "phone=",
    "%E5%BC%A0",
    "张三",
    "\u00e5\u00bc",
    "\\xe5\\xbc",
    "\\u5f20",
]
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": HOST,
    "PANEL_TOKEN": TOKEN,
    "CACHE_URL": "locmemcache://",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self, workdir):
        self.port = free_port()
        self.access_path = workdir / "access.log"
        self.error_path = workdir / "error.log"
        self.sync_count = 0
        self.env = {
            "PATH": os.environ["PATH"],
            **PRODUCTION_ENV,
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            # Hashed static files need a collectstatic (seconds); the log does not care.
            "DJANGO_SETTINGS_MODULE": "gunicorn_test_settings",
            "PYTHONPATH": str(workdir),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": "1",
            # One thread: a request's log lines are written before the next request is read.
            "GUNICORN_THREADS": "1",
        }
        (workdir / "gunicorn_test_settings.py").write_text(
            "from crm_project.settings import *\n"
            "STORAGES['staticfiles']['BACKEND'] = (\n"
            "    'django.contrib.staticfiles.storage.StaticFilesStorage'\n"
            ")\n"
        )
        # gunicorn boots while the migrations run: no request reaches it before they are done.
        migrate = subprocess.Popen(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=self.env
        )
        with self.access_path.open("w") as access, self.error_path.open("w") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "crm_project.wsgi"],
                cwd=ROOT,
                env=self.env,
                stdout=access,
                stderr=errors,
            )
        try:
            assert migrate.wait(timeout=120) == 0
            self.wait_until_up()
        except BaseException:
            self.stop()
            raise
        self.mark()

    def wait_until_up(self):
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            assert self.process.poll() is None, self.error_path.read_text()
            assert time.monotonic() < deadline, self.error_path.read_text()
            time.sleep(0.2)

    def stop(self):
        # A quick shutdown: a graceful one waits for the workers' next poll.
        self.process.send_signal(signal.SIGQUIT)
        self.process.wait(timeout=30)

    def send(self, raw):
        """The response to raw bytes sent on a new connection, as (status, body)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(raw)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body.decode("utf-8", "replace")

    def get(self, target, headers=b""):
        target = target.encode("latin-1") if isinstance(target, str) else target
        return self.send(
            b"GET " + target + b" HTTP/1.1\r\n"
            b"Host: " + HOST.encode() + b"\r\n"
            # nginx's header: production redirects plain HTTP to HTTPS.
            b"X-Forwarded-Proto: https\r\n"
            b"Connection: close\r\n" + headers + b"\r\n"
        )

    def mark(self):
        self.offsets = (self.access_path.stat().st_size, self.error_path.stat().st_size)

    def logs(self):
        """What both logs gained since mark(), once gunicorn has written it all."""
        self.sync_count += 1
        marker = f"log-sync-{self.sync_count}"
        self.get("/healthz", f"X-Request-ID: {marker}\r\n".encode())
        deadline = time.monotonic() + 10
        while marker not in self.access_path.read_text(errors="replace"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        access = self.access_path.read_bytes()[self.offsets[0] :]
        errors = self.error_path.read_bytes()[self.offsets[1] :]
        return access.decode("utf-8", "replace"), errors.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    server = Gunicorn(tmp_path_factory.mktemp("gunicorn"))
    yield server
    server.stop()


@pytest.fixture
def server(gunicorn):
    gunicorn.mark()
    return gunicorn


def assert_no_leak(*logs):
    for log in logs:
        for leak in LEAKS:
            assert leak not in log


def test_it_logs_a_panel_load_without_the_token_or_the_query(server):
    status, _ = server.get(f"/panel/{TOKEN}/?{QUERY}")

    assert status == 200
    access, errors = server.logs()
    assert '"GET /panel/***/ HTTP/1.1" 200 ' in access
    assert_no_leak(access, errors)


def test_it_hides_a_token_with_a_character_added(server):
    status, _ = server.get(f"/panel/{TOKEN}x/?{QUERY}")

    assert status == 404
    access, errors = server.logs()
    assert '"GET /panel/***/ HTTP/1.1" 404 ' in access
    assert "GET /panel/***/ 404 Not Found" in errors
    assert_no_leak(access, errors)


@pytest.mark.parametrize(
    "target",
    [
        f"/panel/{TOKEN}/reveal/",
        f"/panel//{TOKEN}/",
        f"/Panel/{TOKEN}/",
        f"/panel/x/{TOKEN}/",
        f"/panel%2F{TOKEN}/",
        f"/panel/{TOKEN[:10]}%2F{TOKEN[10:]}/",
        f"//panel/{TOKEN}/",
    ],
)
def test_it_hides_whatever_follows_panel(server, target):
    server.get(f"{target}?{QUERY}")

    access, errors = server.logs()
    assert "/panel/***" in access.lower()
    assert_no_leak(access, errors)


def test_it_writes_no_raw_request_line_for_non_ascii_bytes(server):
    name = "张三".encode()
    status, _ = server.get(b"/panel/" + TOKEN.encode() + b"/?name=" + name + b"&phone=13800138000")

    assert status == 400
    access, errors = server.logs()
    assert "Invalid request from ip=127.0.0.1: InvalidRequestLine" in errors
    assert_no_leak(access, errors)


@pytest.mark.parametrize(
    "header, error",
    [(b"Bad\x01Name: 13800138000", "InvalidHeaderName"), (b"Content-Length: x", "InvalidHeader")],
)
def test_it_writes_no_request_line_for_an_invalid_header(server, header, error):
    status, _ = server.get(f"/panel/{TOKEN}/?{QUERY}", header + b"\r\n")

    assert status == 400
    access, errors = server.logs()
    assert f"Invalid request from ip=127.0.0.1: {error}\n" in errors
    assert_no_leak(access, errors)


def test_it_keeps_a_path_from_adding_lines(server):
    forged = "2026-01-01 ERROR forged"
    server.get(f"/nope%0A{forged.replace(' ', '%20')}%0D%0A%1B[31m/?{QUERY}")

    access, errors = server.logs()
    assert '"GET /nope%0A2026-01-01%20ERROR%20forged%0D%0A%1B%5B31m/ HTTP/1.1" 404' in access
    for line in (access + errors).splitlines():
        assert not line.startswith(forged)
        assert "\x1b" not in line
        assert "\r" not in line
    assert_no_leak(access, errors)


def test_it_writes_the_path_percent_encoded_as_sent(server):
    status, _ = server.get(f"/%E5%AE%A2%E6%88%B7/panel/{TOKEN}/?{QUERY}")

    assert status == 404
    access, errors = server.logs()
    assert '"GET /%E5%AE%A2%E6%88%B7/panel/***/ HTTP/1.1" 404 ' in access
    assert_no_leak(access, errors)


def panel_url(params, value_length):
    """A panel URL with `params` parameters, names 64 characters long (the longest the panel
    takes) and values `value_length` long, in ASCII like Easemob's hex ciphertext."""
    query = [f"visitorImId={VISITOR}", "lang=en"]
    for i in range(params - len(query)):
        name = f"p{i:02d}".ljust(MAX_NAME_LENGTH, "x")
        value = ("0123456789abcdef" * (value_length // 16 + 1))[:value_length]
        query.append(f"{name}={value}")
    return f"/panel/{TOKEN}/?{'&'.join(query)}"


def test_it_passes_the_longest_panel_url_to_the_app(server, settings):
    url = panel_url(settings.PANEL_MAX_PARAMS, settings.PANEL_MAX_VALUE_LENGTH)
    assert len(url) > 120_000

    status, body = server.get(url)

    assert status == 200
    assert VISITOR in body
    access, errors = server.logs()
    assert '"GET /panel/***/ HTTP/1.1" 200 ' in access
    assert_no_leak(access, errors)


def test_it_lets_the_app_refuse_a_value_past_its_limit(server, settings):
    status, body = server.get(
        panel_url(settings.PANEL_MAX_PARAMS, settings.PANEL_MAX_VALUE_LENGTH + 1)
    )

    assert status == 400
    assert "is too long (at most 2048 characters)" in body
    access, errors = server.logs()
    assert '"GET /panel/***/ HTTP/1.1" 400 ' in access
    assert_no_leak(access, errors)


def test_it_lets_the_app_refuse_too_many_parameters(server, settings):
    status, body = server.get(panel_url(settings.PANEL_MAX_PARAMS + 1, 16))

    assert status == 400
    assert "too many parameters" in body


# --- the logger class on its own: what no request above can make gunicorn write -------------


@pytest.fixture
def error_log(tmp_path):
    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    config.set("accesslog", str(tmp_path / "access.log"))
    logger = Logger(config)
    yield logger, tmp_path / "error.log"
    for log in (logger.error_log, logger.access_log):
        for handler in list(log.handlers):
            handler.close()
            log.removeHandler(handler)


def test_it_logs_an_application_error_without_the_query(error_log):
    logger, path = error_log
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("Error handling request %s %s", "GET", f"/panel/{TOKEN}/?{QUERY}")

    text = path.read_text()
    assert "Error handling request GET /panel/***/\n" in text
    assert "RuntimeError: boom" in text
    assert_no_leak(text)


def test_it_logs_a_parsing_exception_by_its_name(error_log):
    from gunicorn.http.errors import NoMoreData

    logger, path = error_log
    logger.error_log.setLevel(logging.DEBUG)
    logger.debug("Ignored premature client disconnection. %s", NoMoreData(f"GET /?{QUERY}"))

    text = path.read_text()
    assert "Ignored premature client disconnection. NoMoreData" in text
    assert_no_leak(text)

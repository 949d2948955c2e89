"""The sample production configuration in deploy/ and gunicorn.conf.py: valid, and consistent
with the app (the headers it trusts, the query strings it keeps out of logs)."""

import configparser
import os
import re
import shlex
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX_SITE = DEPLOY / "nginx" / "crm.conf"
UNITS = DEPLOY / "systemd"
# Where docs/deploy.md installs the project; the tests put the checkout in its place.
INSTALL_DIR = "/srv/crm"


def read_unit(name):
    # systemd allows repeated keys (After=, Environment=); the last value is enough here.
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read(UNITS / name, encoding="utf-8")
    return parser


# --- gunicorn ------------------------------------------------------------------------------


@pytest.fixture
def gunicorn_settings(monkeypatch):
    import runpy

    for name in list(os.environ):
        if name.startswith("GUNICORN_"):
            monkeypatch.delenv(name)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_conf_has_sane_values(gunicorn_settings):
    from gunicorn.config import Config

    assert gunicorn_settings["bind"] == "127.0.0.1:8000"
    assert gunicorn_settings["worker_class"] == "gthread"
    assert gunicorn_settings["workers"] >= 1
    assert gunicorn_settings["threads"] >= 1
    # nginx waits a little longer than gunicorn, and systemd longer than a graceful stop.
    proxy_read_timeout = re.search(r"proxy_read_timeout (\d+)s;", NGINX_SITE.read_text())
    assert gunicorn_settings["timeout"] < int(proxy_read_timeout.group(1))
    stop_timeout = read_unit("crm.service")["Service"]["TimeoutStopSec"]
    assert gunicorn_settings["graceful_timeout"] < int(stop_timeout)
    # gunicorn's own validation accepts every value.
    config = Config()
    for name, value in gunicorn_settings.items():
        if name in config.settings:
            config.set(name, value)


def test_gunicorn_access_log_has_no_query_string(gunicorn_settings):
    access_log_format = gunicorn_settings["access_log_format"]
    assert "%(U)s" in access_log_format
    assert "%({x-request-id}o)s" in access_log_format
    # The request line, the query string and the referrer all carry the panel's parameters.
    for atom in ("%(r)s", "%(q)s", "%(f)s"):
        assert atom not in access_log_format


def test_gunicorn_takes_whatever_nginx_lets_through(gunicorn_settings):
    buffer = re.search(r"large_client_header_buffers \d+ (\d+)k;", NGINX_SITE.read_text())
    # 0 is no limit: gunicorn's highest otherwise is 8,190 bytes, below the panel's own limits.
    assert gunicorn_settings["limit_request_line"] == 0
    assert gunicorn_settings["limit_request_field_size"] >= int(buffer.group(1)) * 1024


def test_gunicorn_logs_through_the_projects_logger(gunicorn_settings):
    assert gunicorn_settings["logger_class"] == "ops.gunicorn_logging.Logger"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_logs_the_path_and_request_id_but_not_the_query(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmemcache://",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "crm_project.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz?name=%E5%BC%A0%E4%B8%89&phone=13800138000",
            headers={"X-Request-ID": "nginx-7c1d2e3f"},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                    assert response.status == 200
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        server.terminate()
        access_log, error_log = server.communicate(timeout=30)
    assert '"GET /healthz HTTP/1.1" 200' in access_log, error_log
    assert access_log.rstrip().endswith("nginx-7c1d2e3f")
    for leak in ("phone", "13800138000", "%E5%BC%A0", "张三"):
        assert leak not in access_log


# --- nginx ---------------------------------------------------------------------------------


def test_nginx_site_passes_what_the_app_trusts():
    site = NGINX_SITE.read_text()
    for line in (
        "proxy_pass http://crm_app;",
        "server 127.0.0.1:8000 ",
        "proxy_set_header Host $host;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Request-ID $request_id;",
        "client_max_body_size 50m;",
        "return 301 https://$host$request_uri;",
    ):
        assert line in site


def test_nginx_site_adds_no_frame_options():
    # The panel must stay frameable by Easemob; the app sets framing headers itself.
    directives = [line.split("#")[0] for line in NGINX_SITE.read_text().splitlines()]
    assert not [d for d in directives if "add_header" in d]


def test_nginx_access_log_format_has_no_query_string():
    log_format = re.search(r"log_format crm (.*?);", NGINX_SITE.read_text(), re.S).group(1)
    assert "$crm_log_uri" in log_format
    assert "$request_id" in log_format
    for variable in ("$request ", '$request"', "$request_uri", "$args", "$query_string", "$uri"):
        assert variable not in log_format
    assert "$http_referer" not in log_format


def test_nginx_fits_the_longest_panel_url(settings):
    from iframe_panel.params import MAX_NAME_LENGTH

    buffers = re.search(r"large_client_header_buffers \d+ (\d+)k;", NGINX_SITE.read_text())
    # Every parameter's name and value at its longest, in ASCII, plus the path and protocol.
    longest = settings.PANEL_MAX_PARAMS * (MAX_NAME_LENGTH + settings.PANEL_MAX_VALUE_LENGTH + 2)
    assert int(buffers.group(1)) * 1024 > longest + 200


def nginx_binary():
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not nginx:
        pytest.skip("nginx is not installed (Debian/Ubuntu: apt-get install -y nginx)")
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed for a test certificate (apt-get install -y openssl)")
    return nginx


def write_nginx_conf(workdir, site):
    """The sample site as Debian's nginx.conf includes sites-enabled/*, inside http, with a
    test certificate and nothing written outside `workdir`."""
    cert, key = workdir / "fullchain.pem", workdir / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=crm.example.com", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    site = (
        site.replace("/etc/letsencrypt/live/crm.example.com/fullchain.pem", str(cert))
        .replace("/etc/letsencrypt/live/crm.example.com/privkey.pem", str(key))
        .replace("/var/log/nginx/", f"{workdir}/")
    )
    (workdir / "crm.conf").write_text(site)
    (workdir / "nginx.conf").write_text(
        f"pid {workdir}/nginx.pid;\n"
        f"error_log {workdir}/error.log;\n"
        "events {}\n"
        "http {\n"
        f"    access_log {workdir}/access.log;\n"
        + "".join(
            f"    {name}_temp_path {workdir}/{name};\n"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {workdir}/crm.conf;\n"
        "}\n"
    )
    return ["-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(workdir / "nginx.conf")]


def test_nginx_accepts_the_site(tmp_path):
    nginx = nginx_binary()
    result = subprocess.run(
        [nginx, "-t", *write_nginx_conf(tmp_path, NGINX_SITE.read_text())],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    assert "[warn]" not in result.stderr, result.stderr


class Nginx:
    """The sample site on free loopback ports. Its app server is a closed port, so nginx answers
    502 itself: what it does when the app is down, and when its error log writes the most."""

    def __init__(self, nginx, workdir):
        self.workdir = workdir
        self.port = free_port()
        site = re.sub(r"\n *listen \[::\]:\d+[^;]*;", "", NGINX_SITE.read_text())
        site = re.sub(r"listen 80\b", f"listen 127.0.0.1:{free_port()}", site)
        site = re.sub(r"listen 443\b", f"listen 127.0.0.1:{self.port}", site)
        site = re.sub(
            r"upstream crm_app \{.*?\}",
            f"upstream crm_app {{\n    server 127.0.0.1:{free_port()};\n}}",
            site,
            flags=re.S,
        )
        self.process = subprocess.Popen(
            [nginx, "-g", "daemon off;", *write_nginx_conf(workdir, site)],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            self.wait_until_up()
        except BaseException:
            self.stop()
            raise

    def wait_until_up(self):
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert self.process.poll() is None, self.process.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        self.process.communicate(timeout=30)

    def get(self, target):
        """(status, headers, body) of a GET over HTTPS, with the site's name for SNI."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        with context.wrap_socket(raw, server_hostname="crm.example.com") as sock:
            request = f"GET {target} HTTP/1.1\r\nHost: crm.example.com\r\nConnection: close\r\n"
            sock.sendall(f"{request}\r\n".encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        head, _, body = b"".join(chunks).decode("utf-8").partition("\r\n\r\n")
        return int(head.split(" ", 2)[1]), head.lower(), body

    def logs(self):
        """Every log nginx writes here, from both its http block and the site."""
        return "".join(path.read_text(errors="replace") for path in self.workdir.glob("*.log"))


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    server = Nginx(nginx_binary(), tmp_path_factory.mktemp("nginx"))
    yield server
    server.stop()


PANEL_TOKEN = "nginx-panel-token-for-tests-7Qm2x-4T9sQ2xW"
PANEL_QUERY = "visitorImId=webim-visitor-NGINX&name=%E5%BC%A0%E4%B8%89&phone=13800138000"


def assert_no_token_or_query(text):
    for leak in (PANEL_TOKEN, "webim-visitor-NGINX", "phone", "13800138000", "%E5%BC%A0", "张三"):
        assert leak not in text


@pytest.mark.parametrize(
    "path, logged",
    [
        (f"/panel/{PANEL_TOKEN}/", "/panel/***/"),
        (f"/panel/{PANEL_TOKEN}x/", "/panel/***/"),
        (f"/panel/{PANEL_TOKEN}/reveal/", "/panel/***/reveal/"),
        (f"/panel/x/{PANEL_TOKEN}/", "/panel/***"),
        (f"/panel/{PANEL_TOKEN}/panel/x/", "/panel/***"),
        (f"/Panel/{PANEL_TOKEN}/", "/Panel/***/"),
        (f"/panel%2F{PANEL_TOKEN[:9]}%2F{PANEL_TOKEN[9:]}/", "/panel/***"),
        (f"/x%0A/panel/{PANEL_TOKEN}/", "/x\\x0A/panel/***/"),
    ],
)
def test_nginx_logs_panel_requests_without_the_token_or_the_query(nginx, path, logged):
    status, _, _ = nginx.get(f"{path}?{PANEL_QUERY}")

    assert status == 502
    logs = nginx.logs()
    assert f'"GET {logged} HTTP/1.1" 502 ' in logs
    assert_no_token_or_query(logs)


def test_nginx_passes_the_longest_panel_url_on(nginx, settings):
    from iframe_panel.params import MAX_NAME_LENGTH

    value = "0123456789abcdef" * (settings.PANEL_MAX_VALUE_LENGTH // 16)
    params = [f"p{i:02d}".ljust(MAX_NAME_LENGTH, "x") + f"={value}" for i in range(60)]
    status, _, _ = nginx.get(f"/panel/{PANEL_TOKEN}/?" + "&".join(params))

    # Passed on to the app (down here), not refused.
    assert status == 502
    assert_no_token_or_query(nginx.logs())


def test_nginx_answers_a_too_long_url_with_a_page_in_both_languages(nginx):
    status, headers, body = nginx.get(f"/panel/{PANEL_TOKEN}/?{PANEL_QUERY}&p={'x' * 140_000}")

    assert status == 414
    assert "content-type: text/html; charset=utf-8" in headers
    assert "面板的网址过长" in body
    assert "too long (over 128 KB)" in body
    assert_no_token_or_query(nginx.logs())


# --- systemd -------------------------------------------------------------------------------


def test_service_runs_gunicorn_with_the_projects_config():
    service = read_unit("crm.service")["Service"]
    argv = shlex.split(service["ExecStart"])
    assert argv[0] == f"{INSTALL_DIR}/.venv/bin/gunicorn"
    assert argv[1:] == ["-c", "gunicorn.conf.py", "crm_project.wsgi"]
    assert service["WorkingDirectory"] == INSTALL_DIR
    assert service["EnvironmentFile"] == "/etc/crm/env"
    assert service["User"] == "crm"
    assert service["Type"] == "notify"


def test_service_is_hardened():
    service = read_unit("crm.service")["Service"]
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] == "true"
    assert service["PrivateTmp"] == "true"
    assert service["CapabilityBoundingSet"] == ""


def test_backup_service_runs_the_backup_script():
    unit = read_unit("crm-backup.service")
    service = unit["Service"]
    assert service["Type"] == "oneshot"
    assert service["EnvironmentFile"] == "/etc/crm/env"
    assert service["ExecStart"] == f"{INSTALL_DIR}/deploy/backup.sh"
    script = DEPLOY / "backup.sh"
    assert script.stat().st_mode & stat.S_IXUSR
    backup_dir = dict(item.split("=") for item in service["Environment"].split())["BACKUP_DIR"]
    assert service["ReadWritePaths"] == backup_dir


def test_backup_timer_runs_nightly_and_catches_up():
    unit = read_unit("crm-backup.timer")
    # A timer starts the service of its own name.
    assert (UNITS / "crm-backup.service").is_file()
    assert "Unit" not in unit["Timer"]
    assert unit["Timer"]["OnCalendar"]
    assert unit["Timer"]["Persistent"] == "true"
    assert unit["Install"]["WantedBy"] == "timers.target"


def systemd_analyze_verify(*units, unit_path):
    return subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_path}:"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_systemd_accepts_the_units(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (it comes with systemd)")
    probe = tmp_path / "probe" / "probe.service"
    probe.parent.mkdir()
    probe.write_text("[Service]\nType=oneshot\nExecStart=/bin/true\n")
    result = systemd_analyze_verify(probe, unit_path=probe.parent)
    if result.returncode != 0 or result.stdout or result.stderr:
        pytest.skip(f"systemd-analyze verify does not work here: {result.stderr.strip()}")
    if not (ROOT / ".venv" / "bin" / "gunicorn").is_file():
        pytest.skip("systemd-analyze checks ExecStart exists: needs the project's .venv")
    units = tmp_path / "units"
    units.mkdir()
    for source in UNITS.iterdir():
        # The checkout stands in for /srv/crm, so that the commands the units run exist.
        (units / source.name).write_text(source.read_text().replace(INSTALL_DIR, str(ROOT)))
    result = systemd_analyze_verify(*sorted(units.iterdir()), unit_path=units)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


# --- the environment file ------------------------------------------------------------------


def test_env_example_reads_the_same_for_systemd_and_django_environ():
    # docs/deploy.md installs .env.example as /etc/crm/env (systemd's EnvironmentFile=). Plain
    # NAME=value lines mean the same to both readers: no quotes, spaces or $ expansions.
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\s\"'$]*", line), line


# --- backups -------------------------------------------------------------------------------


def test_backup_script_writes_a_restorable_dump_and_prunes_old_ones(db, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("backups are pg_dump's: run with DATABASE_URL=postgres://...")
    for tool in ("pg_dump", "pg_restore"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (apt-get install -y postgresql-client)")
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    url = f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"
    old = tmp_path / "crm-20000101-033000.dump"
    old.write_bytes(b"")
    os.utime(old, (time.time() - 30 * 86400,) * 2)

    result = subprocess.run(
        [str(DEPLOY / "backup.sh")],
        env={"PATH": os.environ["PATH"], "DATABASE_URL": url, "BACKUP_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert not old.exists()
    (dump,) = tmp_path.glob("crm-*.dump")
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    listing = subprocess.run(
        ["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True
    ).stdout
    assert "TABLE public customers_customer" in listing
    assert "TABLE DATA public orders_order" in listing

"""Load the panel, its yardsticks and the admin under gunicorn with wrk at a chosen data size,
and print what the performance targets compare (`make bench`, `make bench-full`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench \\
        .venv/bin/python bench/run.py [--customers 2000] [--orders 20000] [--duration 15]
                                      [--rounds 3] [--connections 16] [--json PATH]
                                      [--only admin_order_changelist,admin_customer_search]

All on this machine, traffic to 127.0.0.1 only:
- the database in DATABASE_URL (PostgreSQL for real figures; SQLite for a quick look at small
  sizes): created if it is a missing PostgreSQL database, migrated, seeded by bench/seed.py
  unless it already holds a bench seed of this size, which is reused. A bench seed of another
  size is emptied and seeded again only with --reseed (1M orders take minutes to seed); a
  database holding other data is refused, never emptied;
- the rows the panel writes (audit events, pushed visitor info) emptied and every visitor's
  "last seen" set back a day, so that every run starts from the same state;
- two gunicorns with gunicorn.conf.py (workers not recycled during the run) and production
  settings (debug off, a generated panel token, the Redis cache in --cache-url's database,
  PANEL_RATE_LIMIT raised so that one address can send the whole load) plus bench/settings.py's
  two reference views; the second one has EASEMOB_IFRAME_KEY and EASEMOB_ENCRYPT_SYSTEM_PARAMS
  on, for `panel_encrypted`;
- wrk (bench/run.lua: a random path from a file per request) in rounds: each round runs every
  scenario for duration / rounds seconds, starting one scenario later than the round before,
  so that whatever else the machine does falls on all of them alike;
- SQL statements per request counted in-process (Django's test client on the same database,
  CaptureQueriesContext, BEGIN/SAVEPOINT/COMMIT included), for a visitor's first load and a
  repeat; gunicorn's CPU time per request and its workers' memory (RSS) after the last round,
  both read from /proc.

gunicorn is stopped on every exit path, errors, Ctrl-C and SIGTERM included.
"""

import argparse
import http.client
import json
import os
import platform
import random
import re
import runpy
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import workbench_params  # noqa: E402

LUA_SCRIPT = ROOT / "bench" / "run.lua"
IFRAME_KEY = "bench-iframe-key"
STAFF_USERNAME = "bench-staff"
# Paths per scenario file: enough that no cache of a few thousand entries could hold them all,
# few enough that each wrk thread reads its file in a moment.
MAX_PATHS = 20_000
REPEAT_VISITORS = 80
ACCESS_STATUS = re.compile(r'"[A-Z]+ \S* HTTP/[\d.]+" (\d{3}) ')
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument(
        "--duration", type=int, default=15, help="measured seconds per scenario, over all rounds"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--warmup", type=int, default=2, help="unmeasured seconds per scenario before round 1"
    )
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--json", type=Path, help="write the results to this file too")
    parser.add_argument(
        "--only",
        type=lambda value: [name.strip() for name in value.split(",") if name.strip()],
        default=[],
        metavar="NAME[,NAME]",
        help="run only these scenarios (their targets alone are judged)",
    )
    parser.add_argument(
        "--reseed",
        action="store_true",
        help="empty a database bench/run.py seeded at another size (or with an older seeder) "
        "and seed it again",
    )
    args = parser.parse_args()
    if args.duration < args.rounds:
        parser.error("--duration must give each round at least one second")
    return args


# --- what runs where ------------------------------------------------------------------------------


def strong_token():
    """A panel token production accepts (20+ characters, 12+ different ones)."""
    while True:
        token = secrets.token_urlsafe(24)
        if len(set(token)) >= 12:
            return token


def settings_env(args, database_url, static_root, token, secret_key, encrypted=False):
    """The production settings the servers and this process run with."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secret_key,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_NUM_PROXIES": "0",
        "DJANGO_STATIC_ROOT": str(static_root),
        "DATABASE_URL": database_url,
        "CACHE_URL": args.cache_url,
        "PANEL_TOKEN": token,
        # The default (600 a minute per address) would turn most of the load into 429s: every
        # request comes from 127.0.0.1 here.
        "PANEL_RATE_LIMIT": "100000000",
        "SIMULATOR_ENABLED": "false",
        "ADMIN_TWO_FACTOR": "false",
        "EASEMOB_IFRAME_KEY": IFRAME_KEY if encrypted else "",
        "EASEMOB_ENCRYPT_SYSTEM_PARAMS": "true" if encrypted else "false",
    }


def check_tools(args, database_url):
    """Say what is missing before spending minutes on seeding."""
    missing = []
    if not shutil.which("wrk"):
        missing.append("wrk is not installed (Debian: apt-get install wrk)")
    if not database_url:
        missing.append(
            "DATABASE_URL is not set: e.g. postgres://postgres@127.0.0.1:5432/crm_bench "
            "(an empty database of its own; SQLite works for a quick look)"
        )
    import redis

    try:
        redis.Redis.from_url(args.cache_url, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        missing.append(f"Redis does not answer at {args.cache_url}: {error}")
    if missing:
        raise SystemExit("Cannot run the benchmark:\n- " + "\n- ".join(missing))


def create_postgres_database(database_url):
    """Create the PostgreSQL database DATABASE_URL names when it is missing; return the
    server's version."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(database_url)
    server = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        name = config["NAME"]
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def ensure_staff_user():
    """A superuser with a new random password, returned for the login form."""
    from django.contrib.auth import get_user_model

    password = secrets.token_urlsafe(16)
    user, _ = get_user_model().objects.get_or_create(username=STAFF_USERNAME)
    user.is_staff = user.is_superuser = user.is_active = True
    user.set_password(password)
    user.save()
    return user, password


def reset_panel_writes(size):
    """Empty what earlier loads of the panel wrote, so that runs compare: the audit log, the
    pushed visitor info and the cache (the customers' rendered cards among it); then write a
    month of past panel loads, as many as there are orders, for the admin's dashboard."""
    from django.core.cache import cache
    from django.core.management.color import no_style
    from django.db import connection
    from django.utils import timezone

    from customers.models import VisitorIdentity
    from iframe_panel.models import AuditEvent, VisitorInfo

    cache.clear()  # the bench's own Redis database (--cache-url)
    tables = [AuditEvent._meta.db_table, VisitorInfo._meta.db_table]
    with connection.cursor() as cursor:
        for statement in connection.ops.sql_flush(no_style(), tables):
            cursor.execute(statement)
    from bench.seed import write_panel_history

    write_panel_history(connection, size["orders"])
    # A load refreshes "last seen" at most every 10 minutes: start with that write due for
    # every visitor, as after a night.
    VisitorIdentity.objects.update(last_seen_at=timezone.now() - timedelta(days=1))


# --- the paths each scenario requests -------------------------------------------------------------


def panel_path(token, params, key=None):
    if key:
        from iframe_panel.crypto import encrypt

        params = {n: v if n == "lang" else encrypt(v, key) for n, v in params.items()}
    return f"/panel/{token}/?{urlencode(params)}"


def scenario(name, paths, marker, server="plain", connections=None, admin=False):
    return {
        "name": name,
        "paths": paths,
        "marker": marker,
        "server": server,
        "connections": connections,
        "admin": admin,
    }


def build_scenarios(token, size):
    """Every scenario with its paths; the first path of each is the one whose page is checked
    and whose SQL is counted."""
    from customers.models import Customer, VisitorIdentity
    from orders.models import Order

    rng = random.Random(20250308)  # noqa: S311 -- test data, not secrets
    heavy_ids = size["heavy_customer_ids"]
    fields = ("visitor_im_id", "channel", "customer__name", "customer_id")
    known = list(VisitorIdentity.objects.exclude(customer_id__in=heavy_ids).values_list(*fields))
    known = rng.sample(known, min(MAX_PATHS, len(known)))
    # The visitors whose loads are checked and counted (the first of panel_matched,
    # panel_cmd_params and panel_encrypted) belong to customers with orders, as the heavy one
    # does: without orders the panel has no items to fetch, one query fewer.
    probes = [v for v in known[:200] if Order.objects.filter(customer_id=v[3]).exists()][:3]
    known = probes + [v for v in known if v not in probes]
    heavy = list(VisitorIdentity.objects.filter(customer_id__in=heavy_ids).values_list(*fields))
    matched, sample, pushed, encrypted = [], [], [], []
    for n, (visitor_im_id, channel, *_customer) in enumerate(known):
        params = workbench_params(rng, visitor_im_id, channel, n)
        matched.append(panel_path(token, params))
        sample.append(f"/bench/seed-sample/?{urlencode(params)}")
        encrypted.append(panel_path(token, params, key=IFRAME_KEY))
        # What an app pushes with an updateVisitorInfoSrc cmd message (Easemob's own example).
        custom = {"name": "Jack", "age": str(rng.randrange(18, 70)), "sex": rng.choice("mf")}
        pushed.append(panel_path(token, {**custom, **params}))
    # Each scenario's first path is the one checked and whose SQL is counted: a different
    # visitor for each, so that every first load counted is a first load.
    pushed = pushed[1:] + pushed[:1]
    encrypted = encrypted[2:] + encrypted[:2]
    heavy_paths = [
        panel_path(token, workbench_params(rng, v, channel, n))
        for n, (v, channel, *_customer) in enumerate(heavy)
    ]
    unknown = [
        panel_path(
            token,
            workbench_params(rng, f"webim-visitor-BENCH{rng.getrandbits(80):020X}", "web", n),
        )
        for n in range(MAX_PATHS)
    ]

    changelist = "/admin/orders/order/"
    statuses = [f"{changelist}?status__exact={s}" for s in Order.Status.values]
    pages = [f"{changelist}?p={p}" for p in range(2, 11)]
    # Half the loads are the first page, as staff open it; the rest filter or page on.
    order_changelist = [changelist] * (len(statuses) + len(pages)) + statuses + pages

    customers = sample_values(rng, Customer, "phone")
    order_numbers = sample_values(rng, Order, "number")
    # What staff type into the customer search: a phone, its last four digits (the caller read
    # them out), an order number.
    search = [
        f"/admin/customers/customer/?{urlencode({'q': q})}"
        for phone, number in zip(customers, order_numbers, strict=False)
        for q in (phone, phone[-4:], number)
    ]
    changelist_marker = 'id="changelist"'
    return [
        scenario("floor", ["/bench/floor/"], "ok"),
        scenario("seed_sample", sample, known[0][2]),
        scenario("seed_sample_one_connection", sample, known[0][2], connections=1),
        scenario("panel_matched", matched, known[0][2]),
        scenario("panel_matched_one_connection", matched, known[0][2], connections=1),
        # Agents switching back and forth between the conversations they have open: 16 agents
        # with 5 each, the same 80 visitors all run long. panel_matched draws from 20,000, so
        # that most of its loads are a conversation's first (the customer's card rendered).
        scenario("panel_repeat", matched[3 : 3 + REPEAT_VISITORS], known[3][2]),
        scenario("panel_heavy", heavy_paths, heavy[0][2]),
        scenario("panel_cmd_params", pushed, known[1][2]),
        scenario("panel_encrypted", encrypted, known[2][2], server="encrypted"),
        scenario("panel_unmatched", unknown, 'id="unknown-visitor"'),
        scenario("admin_order_changelist", order_changelist, changelist_marker, admin=True),
        scenario("admin_customer_search", search, changelist_marker, admin=True),
        # What one member of staff waits for: a dashboard is not opened by 16 people at once.
        scenario("admin_dashboard", ["/admin/"], 'id="revenue-chart"', connections=1, admin=True),
    ]


def only(scenarios, names):
    """The scenarios named (all of them when none is), in their usual order."""
    if not names:
        return scenarios
    unknown = set(names) - {s["name"] for s in scenarios}
    if unknown:
        raise SystemExit(
            f"--only: no scenario {', '.join(sorted(unknown))}; there are "
            f"{', '.join(s['name'] for s in scenarios)}"
        )
    return [s for s in scenarios if s["name"] in names]


def sample_values(rng, model, field, count=1000):
    """`field` of up to `count` rows drawn at random (the seeder numbers rows without gaps)."""
    from django.db.models import Max, Min

    bounds = model.objects.aggregate(low=Min("pk"), high=Max("pk"))
    population = range(bounds["low"], bounds["high"] + 1)
    pks = rng.sample(population, min(count, len(population)))
    return list(model.objects.filter(pk__in=pks).order_by("pk").values_list(field, flat=True))


def count_queries(scenario, staff):
    """SQL statements of the scenario's first path, in-process: a first request, a repeat, and
    a render (a repeat with the cache emptied: the panel renders the customer's card again,
    without a first load's writes)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")
    if scenario["admin"]:
        client.force_login(staff)
    key = scenario["server"] == "encrypted"
    counts = []
    with override_settings(EASEMOB_IFRAME_KEY=IFRAME_KEY if key else ""):
        with override_settings(EASEMOB_ENCRYPT_SYSTEM_PARAMS=key):
            for load in range(3):
                if load == 2:
                    cache.clear()
                with CaptureQueriesContext(connection) as queries:
                    response = client.get(scenario["paths"][0])
                if response.status_code != 200 or scenario["marker"] not in response.text:
                    raise SystemExit(
                        f"{scenario['name']}: {scenario['paths'][0][:60]}… answered "
                        f"{response.status_code} in-process without {scenario['marker']!r}"
                    )
                counts.append(len(queries))
    connection.close()
    return counts


# --- gunicorn and wrk -----------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn with gunicorn.conf.py on a free local port; a context manager that always stops
    it."""

    def __init__(self, env, log_path):
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None

    def __enter__(self):
        env = {**os.environ, **self.env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.log = open(self.log_path, "ab")  # closed in __exit__
        # Workers live through the whole run (gunicorn.conf.py recycles them every ~2,000
        # requests): a fresh worker imports the app and compiles its templates again, a cost
        # that would land on whichever scenario follows the fast ones, and the memory read
        # after the run is then what a worker grew to over all of it.
        command = ["-m", "gunicorn", "-c", "gunicorn.conf.py", "--max-requests", "0"]
        self.process = subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
            [sys.executable, *command, "crm_project.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_healthy(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:  # noqa: S310 -- http://127.0.0.1 only
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise SystemExit(
            f"gunicorn did not answer /healthz within {timeout} s; see {self.log_path}"
        )

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            # SIGTERM: gunicorn's master stops its workers gracefully.
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        return False

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read().decode()
        finally:
            connection.close()

    def workers(self):
        """The master's children, from /proc: pid and the fields of /proc/<pid>/stat after the
        command name (state first)."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append((int(stat.parent.name), fields))
        return found

    def workers_rss_mb(self):
        sizes = []
        for pid, _fields in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kilobytes = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
            sizes.append(round(kilobytes / 1024, 1))
        return sorted(sizes)

    def cpu_seconds(self):
        """CPU time the server has used: its workers' (utime, stime) and the master's own and
        reaped children's (utime, stime, cutime, cstime), so that workers recycled after
        max_requests still count. Unlike latencies, it hardly depends on what else the
        machine runs."""
        master = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(x) for x in master[11:15])
        ticks += sum(int(x) for _pid, fields in self.workers() for x in fields[11:13])
        return ticks / os.sysconf("SC_CLK_TCK")


def cookies(headers):
    return dict(
        value.split(";", 1)[0].split("=", 1) for name, value in headers if name == "Set-Cookie"
    )


def log_in(server, password):
    """A session cookie of the staff user, through the admin's login form as a browser gets one
    (the cookies are Secure in production; sent by hand here, over plain HTTP to 127.0.0.1)."""
    status, headers, page = server.request("GET", "/admin/login/")
    csrf_cookie = cookies(headers).get("csrftoken")
    field = CSRF_FIELD.search(page)
    if status != 200 or not csrf_cookie or not field:
        raise SystemExit(f"The admin login form answered {status} without a CSRF token")
    form = urlencode(
        {
            "csrfmiddlewaretoken": field.group(1),
            "username": STAFF_USERNAME,
            "password": password,
            "next": "/admin/",
        }
    )
    status, headers, _page = server.request(
        "POST",
        "/admin/login/?next=/admin/",
        body=form,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
        },
    )
    session = cookies(headers).get("sessionid")
    if status != 302 or not session:
        raise SystemExit(f"Logging in to the admin answered {status} without a session")
    return f"sessionid={session}"


def preflight(server, scenario, cookie):
    headers = {"Cookie": cookie} if scenario["admin"] else {}
    status, _headers, page = server.request("GET", scenario["paths"][0], headers=headers)
    if status != 200 or scenario["marker"] not in page:
        raise SystemExit(f"{scenario['name']}: got {status} without {scenario['marker']!r}")


def wrk(server, scenario, seconds, args, cookie):
    connections = scenario["connections"] or args.connections
    command = [
        "wrk",
        f"-t{min(args.threads, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        # wrk's default of 2 s would count a slow admin page as a socket error, not a latency.
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
    ]
    if scenario["admin"]:
        command += ["-H", f"Cookie: {cookie}"]
    command += [server.base, "--", str(scenario["file"])]
    offset = server.log_path.stat().st_size
    cpu = server.cpu_seconds()
    done = subprocess.run(  # noqa: S603 -- wrk with our own arguments
        command, capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_RESULT "))
    result = json.loads(line.removeprefix("BENCH_RESULT "))
    settle(server)
    result["cpu_s"] = server.cpu_seconds() - cpu
    with open(server.log_path, "rb") as log:
        log.seek(offset)
        result["statuses"] = Counter(ACCESS_STATUS.findall(log.read().decode("utf-8", "replace")))
    return result


def settle(server, limit=60):
    """Wait until gunicorn has answered every request wrk left behind.

    When wrk stops, gunicorn still serves the requests it had in flight or queued (a slow
    admin page takes seconds): the next scenario must not start beside them, nor their
    statuses count as its own. gunicorn is done when none of its port's connections is still
    open on its side (accepted or queued: ESTABLISHED, or CLOSE_WAIT once wrk has gone)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not server_connections(server.port):
            return
        time.sleep(0.1)
    print(f"  gunicorn still holds connections {limit} s after wrk stopped", flush=True)


def server_connections(port):
    """Connections to 127.0.0.1:`port` that the server side has not closed, from the kernel's
    table (SYN_RECV, ESTABLISHED, CLOSE_WAIT)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] in ("01", "03", "08"):
            count += 1
    return count


# --- figures --------------------------------------------------------------------------------------


def percentile(histogram, p):
    """The latency (µs) below which p % of the requests fall, from (latency, count) pairs."""
    total = sum(histogram.values())
    rank = p / 100 * total
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return 0


def summarize(runs, sql):
    histogram = Counter()
    for run in runs:
        for value, count in run["histogram"]:
            histogram[value] += count
    statuses = sum((run["statuses"] for run in runs), Counter())
    requests = sum(run["requests"] for run in runs)
    socket_errors = sum(run[k] for run in runs for k in ("connect", "read", "write", "timeout"))
    bad = sum(n for code, n in statuses.items() if not 200 <= int(code) < 400)
    answered = statuses.total()
    return {
        "rps": round(requests / (sum(run["duration_us"] for run in runs) / 1e6), 1),
        # How far apart the rounds are says how much the machine's other work moved the figures.
        "rps_rounds": [round(run["requests"] / (run["duration_us"] / 1e6), 1) for run in runs],
        "p50_ms": round(percentile(histogram, 50) / 1000, 2),
        "p90_ms": round(percentile(histogram, 90) / 1000, 2),
        "p99_ms": round(percentile(histogram, 99) / 1000, 2),
        "max_ms": round(max(histogram, default=0) / 1000, 2),
        # gunicorn's CPU per request it answered (those wrk left in flight included), the
        # database's not counted.
        "cpu_ms": round(1000 * sum(run["cpu_s"] for run in runs) / answered, 1) if answered else 0,
        "requests": requests,
        "errors": bad + socket_errors,
        "statuses": dict(sorted(statuses.items())),
        "socket_errors": socket_errors,
        "sql": sql[1],
        "sql_first": sql[0],
        "sql_render": sql[2],
    }


def targets(results, rss):
    """The issue's targets: (what, measured, limit, met), for the scenarios that ran."""
    r = results

    def ratio(a, b, key="rps"):
        return r[a][key] / r[b][key] if r[b][key] else float("inf")

    def admin_p99(name):
        return (
            f"{name} p99",
            f"{r[name]['p99_ms']:.0f} ms",
            "≤ 300 ms",
            # No answer at all within the run is no 0 ms p99.
            r[name]["requests"] > 0 and r[name]["p99_ms"] <= 300,
        )

    rows = []
    panel = (
        "seed_sample",
        "seed_sample_one_connection",
        "panel_matched",
        "panel_matched_one_connection",
        "panel_heavy",
        "panel_encrypted",
        "panel_cmd_params",
    )
    if all(name in r for name in panel):
        # A render draws the customer's card (a conversation's first load also records the
        # conversation and may refresh "last seen"); a repeat finds the card cached
        # (iframe_panel/views.py).
        matched_sql = (r["panel_matched"]["sql_render"], r["panel_matched"]["sql"])
        heavy_sql = (r["panel_heavy"]["sql_render"], r["panel_heavy"]["sql"])
        connections = r["panel_matched"]["connections"]
        rows += [
            (
                "panel_matched / seed_sample, requests/s",
                ratio("panel_matched", "seed_sample"),
                "≥ 0.5",
                ratio("panel_matched", "seed_sample") >= 0.5,
            ),
            (
                "panel_matched / seed_sample, p50 at one connection",
                ratio("panel_matched_one_connection", "seed_sample_one_connection", "p50_ms"),
                "≤ 2.5",
                ratio("panel_matched_one_connection", "seed_sample_one_connection", "p50_ms")
                <= 2.5,
            ),
            (
                f"panel_matched / seed_sample, p99 at {connections} connections",
                ratio("panel_matched", "seed_sample", "p99_ms"),
                "≤ 2",
                ratio("panel_matched", "seed_sample", "p99_ms") <= 2,
            ),
            (
                "panel_heavy / panel_matched, requests/s",
                ratio("panel_heavy", "panel_matched"),
                "≥ 0.9",
                ratio("panel_heavy", "panel_matched") >= 0.9,
            ),
            (
                "panel_encrypted / panel_matched, requests/s",
                ratio("panel_encrypted", "panel_matched"),
                "≥ 0.9",
                ratio("panel_encrypted", "panel_matched") >= 0.9,
            ),
            (
                "panel_cmd_params / seed_sample, requests/s",
                ratio("panel_cmd_params", "seed_sample"),
                "≥ 0.35",
                ratio("panel_cmd_params", "seed_sample") >= 0.35,
            ),
            (
                "SQL per panel render (render; repeat), panel_matched and panel_heavy",
                "{}; {} and {}; {}".format(*matched_sql, *heavy_sql),
                "≤ 8, the same",
                matched_sql == heavy_sql and max(matched_sql) <= 8,
            ),
            (
                "SQL, first load with pushed parameters",
                r["panel_cmd_params"]["sql_first"],
                "≤ 10",
                r["panel_cmd_params"]["sql_first"] <= 10,
            ),
        ]
    rows += [
        admin_p99(name) for name in ("admin_order_changelist", "admin_customer_search") if name in r
    ]
    if "admin_dashboard" in r:
        rows.append(
            (
                "admin_dashboard p99 at one connection",
                f"{r['admin_dashboard']['p99_ms']:.0f} ms",
                "≤ 500 ms",
                r["admin_dashboard"]["requests"] > 0 and r["admin_dashboard"]["p99_ms"] <= 500,
            )
        )
    largest = max(rss, default=0)
    rows.append(
        (
            "gunicorn worker RSS after the run, largest",
            f"{largest:.0f} MB",
            "≤ 150 MB",
            largest <= 150,
        )
    )
    return [
        {
            "target": what,
            "measured": round(value, 2) if isinstance(value, float) else value,
            "limit": limit,
            "met": met,
        }
        for what, value, limit, met in rows
    ]


def markdown(results, goals):
    lines = [
        "| scenario | requests/s | p50 | p99 | errors | SQL per request (repeat; render; first) "
        "| gunicorn CPU per request |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        codes = ", ".join(
            f"{n}×{code}" for code, n in r["statuses"].items() if not 200 <= int(code) < 400
        )
        errors = f"{r['errors']:,}" + (f" ({codes})" if codes else "")
        lines.append(
            f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms "
            f"| {errors} | {r['sql']}; {r['sql_render']}; {r['sql_first']} "
            f"| {r['cpu_ms']:.1f} ms |"
        )
    lines += ["", "| target | measured | limit | |", "|---|---|---|---|"]
    for goal in goals:
        measured = goal["measured"]
        measured = f"{measured:.2f}" if isinstance(measured, float) else measured
        lines.append(
            f"| {goal['target']} | {measured} | {goal['limit']} "
            f"| {'met' if goal['met'] else 'missed'} |"
        )
    return "\n".join(lines)


def machine():
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().split()[1]
    return f"{os.cpu_count()} cores ({cpu}), {int(memory) / 1024**2:.0f} GB RAM"


def cpu_idle(seconds=3):
    """The share of the CPU (%) that no process used over a few seconds: how much room the
    machine's other work leaves the benchmark."""

    def sample():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, all

    idle, total = sample()
    time.sleep(seconds)
    idle_after, total_after = sample()
    return round(100 * (idle_after - idle) / max(total_after - total, 1))


def database_label(database_url, postgres_version):
    import environ

    config = environ.Env.db_url_config(database_url)
    if postgres_version:
        return f"PostgreSQL {postgres_version}, database {config['NAME']}"
    return f"SQLite {sqlite3.sqlite_version}, {config['NAME']}"


# --- the run --------------------------------------------------------------------------------------


def main():
    args = parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    check_tools(args, database_url)
    started = time.monotonic()
    load_before = os.getloadavg()
    idle_before = cpu_idle()
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, through the `with` that stops gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    postgres = database_url.startswith(("postgres://", "postgresql://", "pgsql://"))
    postgres_version = create_postgres_database(database_url) if postgres else None

    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp, ExitStack() as servers:
        workdir = Path(tmp)
        static_root = workdir / "static"
        token, secret_key = strong_token(), secrets.token_urlsafe(50)
        env = settings_env(args, database_url, static_root, token, secret_key)
        os.environ.update(env)

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from bench.seed import NotABenchDatabase, SeededDifferently, ensure_seeded

        call_command("migrate", verbosity=0)
        try:
            size, reused = ensure_seeded(
                connection, args.customers, args.orders, reseed=args.reseed
            )
        except (NotABenchDatabase, SeededDifferently, ValueError) as error:
            raise SystemExit(str(error)) from None
        # Production serves hashed static files from a manifest; the pages need it to render.
        call_command("collectstatic", interactive=False, verbosity=0)
        staff, password = ensure_staff_user()
        scenarios = only(build_scenarios(token, size), args.only)
        for s in scenarios:
            s["file"] = workdir / f"{s['name']}.txt"
            s["file"].write_text("\n".join(s["paths"]) + "\n", encoding="utf-8")
        connection.close()
        print(f"Prepared in {time.monotonic() - started:.0f} s.", flush=True)

        running = {}
        # The plain server is the one the admin login goes through; the other only when needed.
        for name in ("plain", *({s["server"] for s in scenarios} - {"plain"})):
            server_env = settings_env(
                args, database_url, static_root, token, secret_key, encrypted=name == "encrypted"
            )
            running[name] = servers.enter_context(Server(server_env, workdir / f"{name}.log"))
        cookie = log_in(running["plain"], password)
        # Fresh workers import, compile templates and connect on their first requests: not
        # what an office that has been at work for an hour sees.
        for s in scenarios:
            if args.warmup and not s["connections"]:
                wrk(running[s["server"]], s, args.warmup, args, cookie)
        reset_panel_writes(size)
        counted = {}
        for s in scenarios:
            # The one-connection scenarios request the same paths as their namesakes.
            if s["paths"][0] not in counted:
                counted[s["paths"][0]] = count_queries(s, staff)
            s["sql"] = counted[s["paths"][0]]
            preflight(running[s["server"]], s, cookie)

        seconds = args.duration // args.rounds
        runs = {s["name"]: [] for s in scenarios}
        for round_number in range(args.rounds):
            shift = round_number % len(scenarios)
            for s in scenarios[shift:] + scenarios[:shift]:
                print(f"Round {round_number + 1}/{args.rounds}: {s['name']} ...", flush=True)
                runs[s["name"]].append(wrk(running[s["server"]], s, seconds, args, cookie))
        rss = {name: server.workers_rss_mb() for name, server in running.items()}

    results = {}
    for s in scenarios:
        results[s["name"]] = summarize(runs[s["name"]], s["sql"])
        results[s["name"]]["connections"] = s["connections"] or args.connections
    goals = targets(results, [mb for sizes in rss.values() for mb in sizes])
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_idle_before_percent": idle_before,
        "python": platform.python_version(),
        "django": django.get_version(),
        "database": database_label(database_url, postgres_version),
        "gunicorn": f"{conf['workers']} workers × {conf['threads']} threads, "
        f"{conf['worker_class']}, not recycled (--max-requests 0)",
        "wrk": f"-t{args.threads} -c{args.connections} (one-connection scenarios: -t1 -c1), "
        f"{args.rounds} rounds × {seconds} s per scenario, {args.warmup} s warm-up",
        "customers": size["customers"],
        "orders": size["orders"],
        "items": size["items"],
        "visitor_ids": size["visitor_ids"],
        "heavy_customers": len(size["heavy_customer_ids"]),
        "median_orders_per_customer": size["median_orders_per_customer"],
        "seed_seconds": size["seconds"],
        "seed_reused": reused,
        "workers_rss_mb": rss,
        "total_seconds": round(time.monotonic() - started),
    }
    seeding = "reused" if reused else f"seeded in {size['seconds']:.0f} s"
    print()
    print(
        f"{config['machine']}; before the run: load average "
        f"{config['load_average_before'][0]:.1f}, CPU {idle_before} % idle; {config['date']}; "
        f"Python {config['python']}, Django {config['django']}, {config['database']}; gunicorn "
        f"{config['gunicorn']}; wrk {config['wrk']}. {size['customers']:,} customers, "
        f"{size['orders']:,} orders, {size['items']:,} items, {size['visitor_ids']:,} visitor "
        f"ids ({seeding}). Worker RSS after the run: "
        f"{', '.join(f'{n} {sizes}' for n, sizes in rss.items())} MB."
    )
    print()
    print(markdown(results, goals))
    print(f"\nTotal {config['total_seconds']} s.")
    if args.json:
        args.json.write_text(
            json.dumps({"config": config, "results": results, "targets": goals}, indent=2) + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()

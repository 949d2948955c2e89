"""Load the Easemob panel under gunicorn with wrk and print a Markdown table (`make bench`).

    .venv/bin/python bench/panel.py [--duration 15] [--threads 2] [--connections 16]
                                    [--warmup 3] [--customers 5000] [--fresh]

What it does, all on this machine (traffic goes to 127.0.0.1 only):
- a PostgreSQL database of its own (`crm_bench`): created and migrated when missing, dropped
  first with --fresh, otherwise reused (seeding 5,000 customers takes about a minute);
- demo data from `seed_demo --customers N`, plus one customer with 300 orders;
- the rows the panel writes (audit events, cached visitor info) are emptied and the visitors'
  "last seen" set back a day, so that every run starts from the same state;
- gunicorn with gunicorn.conf.py and production settings (debug off, PostgreSQL, Redis cache
  in database 14, PANEL_RATE_LIMIT raised so that one address can send the whole load);
- after a short unmeasured warm-up, five wrk runs (bench/panel.lua picks a random URL per
  request from a file written here):
  1. known visitors with the workbench's session parameters, rotating among all of them, also
     run with one connection for the latency one agent sees on an idle server;
  2. the customer with 300 orders;
  3. known visitors with cmd-pushed custom parameters (name, age, sex): merged into VisitorInfo;
  4. unknown visitors;
  5. as 1, with EASEMOB_IFRAME_KEY and EASEMOB_ENCRYPT_SYSTEM_PARAMS: every parameter but
     `lang` DES-encrypted, served by a second gunicorn started with those settings;
- the SQL queries per panel render, counted in-process (Django's test client against the same
  database, CaptureQueriesContext), first load and repeat load.

gunicorn is stopped on every exit path, errors and Ctrl-C included.
"""

import argparse
import json
import os
import platform
import random
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
LUA_SCRIPT = ROOT / "bench" / "panel.lua"
PANEL_TOKEN = "bench-panel-token"  # noqa: S105 -- a local benchmark server
IFRAME_KEY = "bench-iframe-key"
HEAVY_EXTERNAL_ID = "BENCH-300-ORDERS"
HEAVY_VISITOR = "webim-visitor-BENCH300ORDERS"
HEAVY_ORDERS = 300
UNKNOWN_VISITORS = 20000
# originType as Easemob sends it, per VisitorIdentity channel.
ORIGIN_TYPES = {"web": "webim", "app": "app", "wechat": "weixin", "weibo": "weibo"}
AGENT_NAMES = ["小王", "小李", "阿杰", "Amy", "小陈", "Lily", "老周", "小吴"]
ACCESS_LINE = re.compile(r'"GET /panel/\S* HTTP/[\d.]+" (\d{3}) ')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured seconds per server")
    parser.add_argument("--customers", type=int, default=5000, help="seed_demo --customers")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="crm_bench")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    return parser.parse_args()


def settings_env(args, static_root, encrypted=False):
    """The production settings both the server and this process run with."""
    return {
        "DJANGO_SETTINGS_MODULE": "crm_project.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_NUM_PROXIES": "0",
        "DJANGO_STATIC_ROOT": str(static_root),
        "DATABASE_URL": f"{args.postgres}/{args.database}",
        "CACHE_URL": args.redis,
        "PANEL_TOKEN": PANEL_TOKEN,
        # The default (600 a minute per address) would turn most of the load into 429s: every
        # request comes from 127.0.0.1 here.
        "PANEL_RATE_LIMIT": "100000000",
        "SIMULATOR_ENABLED": "false",
        "EASEMOB_IFRAME_KEY": IFRAME_KEY if encrypted else "",
        "EASEMOB_ENCRYPT_SYSTEM_PARAMS": "true" if encrypted else "false",
    }


# --- database and data ------------------------------------------------------------------------


def prepare_database(args):
    """Create the database when missing (or when --fresh); return PostgreSQL's version."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        name = sql.Identifier(args.database)
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [args.database]
        ).fetchone()
        if exists and args.fresh:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
        if args.fresh or not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def seed(customers):
    from django.core.management import call_command

    call_command("seed_demo", customers=customers)


def ensure_heavy_customer():
    """A customer with 300 orders, to show that the panel's queries do not grow with them."""
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from customers.models import Customer, Note, Tag, VisitorIdentity
    from orders.models import Order, OrderItem

    if Customer.objects.filter(external_id=HEAVY_EXTERNAL_ID).exists():
        return
    now = timezone.now()
    with transaction.atomic():
        customer = Customer.objects.create(
            name="欧阳大单",
            phone="13800138300",
            email="ouyang300@example.com",
            external_id=HEAVY_EXTERNAL_ID,
            company="上海浦江餐饮管理有限公司",
            address="上海市浦东新区世纪大道100号",
            level=Customer.Level.DIAMOND,
        )
        customer.tags.set(Tag.objects.all()[:3])
        VisitorIdentity.objects.create(
            visitor_im_id=HEAVY_VISITOR,
            customer=customer,
            channel=VisitorIdentity.Channel.WEB,
            bound_via=VisitorIdentity.BoundVia.STAFF,
        )
        for n in range(5):
            Note.objects.create(
                customer=customer, body=f"第{n + 1}次回访:客户满意", agent_name="小王"
            )
        statuses = list(Order.Status)
        orders = Order.objects.bulk_create(
            Order(
                number=f"BENCH{n:06d}",
                customer=customer,
                status=statuses[n % len(statuses)],
                total=Decimal("399.00") * (1 + n % 3),
                placed_at=now - timedelta(days=n, hours=n % 24),
                recipient=customer.name,
                recipient_phone=customer.phone,
                shipping_address=customer.address,
            )
            for n in range(HEAVY_ORDERS)
        )
        OrderItem.objects.bulk_create(
            OrderItem(
                order=order,
                product_name="无线蓝牙耳机 Pro",
                sku="EAR-PRO-01",
                quantity=1 + n % 3,
                unit_price=Decimal("399.00"),
            )
            for n, order in enumerate(orders)
        )


def reset_panel_writes():
    """Empty what earlier runs' panel loads wrote, so that runs compare."""
    from django.db import connection
    from django.utils import timezone

    from customers.models import VisitorIdentity
    from iframe_panel.models import AuditEvent, VisitorInfo

    with connection.cursor() as cursor:
        for model in (AuditEvent, VisitorInfo):
            cursor.execute(f"TRUNCATE {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608 -- a model's table name
    # Panel loads refresh "last seen" at most every 10 minutes; start each run with that write
    # due for every visitor, as after a night.
    VisitorIdentity.objects.update(last_seen_at=timezone.now() - timedelta(days=1))


# --- the URLs each scenario requests ----------------------------------------------------------


def panel_path(params, key=None):
    if key:
        from iframe_panel.crypto import encrypt

        params = {n: v if n == "lang" else encrypt(v, key) for n, v in params.items()}
    return f"/panel/{PANEL_TOKEN}/?{urlencode(params)}"


def workbench_params(rng, visitor_im_id, channel, n):
    """What the workbench sends for a conversation: system and session/agent parameters."""
    agent = n % 50
    return {
        "easemobId": "107937",
        "visitorImId": visitor_im_id,
        "to": "kefuchannelimid_845326",
        "lang": "zh",
        "ssid": f"{rng.getrandbits(128):032x}",
        "agentId": f"{rng.getrandbits(64):016x}",
        "agentName": f"{AGENT_NAMES[agent % len(AGENT_NAMES)]}{agent:02d}",
        "email": f"agent{agent:02d}@kefu.example.com",
        "tenantId": "107937",
        "userId": f"{rng.getrandbits(64):016x}",
        "originType": ORIGIN_TYPES.get(channel, "app"),
        "techChannelName": "官网在线客服",
    }


def build_scenarios(workdir):
    from customers.models import VisitorIdentity

    rng = random.Random(20250308)  # noqa: S311 -- test data, not secrets
    pool = list(
        VisitorIdentity.objects.exclude(visitor_im_id=HEAVY_VISITOR)
        .order_by("pk")
        .values_list("visitor_im_id", "channel", "customer__name")
    )
    heavy = VisitorIdentity.objects.select_related("customer").get(visitor_im_id=HEAVY_VISITOR)

    known, pushed, encrypted = [], [], []
    for n, (visitor_im_id, channel, _name) in enumerate(pool):
        params = workbench_params(rng, visitor_im_id, channel, n)
        known.append(panel_path(params))
        encrypted.append(panel_path(params, key=IFRAME_KEY))
        custom = {"name": "Jack", "age": str(rng.randrange(18, 70)), "sex": rng.choice("mf")}
        pushed.append(panel_path({**custom, **params}))
    heavy_path = panel_path(workbench_params(rng, HEAVY_VISITOR, "web", 0))
    unknown = [
        panel_path(
            workbench_params(rng, f"webim-visitor-BENCH{rng.getrandbits(80):020X}", "web", n)
        )
        for n in range(UNKNOWN_VISITORS)
    ]
    # Name, URLs, whether the server needs the key, and the URL (by position) whose queries
    # are counted, with what its page must contain. Each known-visitor scenario probes its own
    # visitor, so that every "first load" is a first load.
    scenarios = [
        ("1. known visitor, session params", known, False, 0, pool[0][2]),
        ("2. customer with 300 orders", [heavy_path], False, 0, heavy.customer.name),
        ("3. known visitor + cmd-pushed name/age/sex", pushed, False, 1, pool[1][2]),
        ("4. unknown visitor", unknown, False, 0, 'id="unknown-visitor"'),
        ("5. known visitor, all params DES-encrypted", encrypted, True, 2, pool[2][2]),
    ]
    result = []
    for index, (name, paths, key, probe, marker) in enumerate(scenarios, start=1):
        path_file = workdir / f"scenario{index}.txt"
        path_file.write_text("\n".join(paths) + "\n", encoding="utf-8")
        result.append(
            {
                "name": name,
                "paths": paths,
                "file": path_file,
                "encrypted": key,
                "probe": paths[probe],
                "marker": marker,
            }
        )
    return result, len(pool)


def count_queries(scenario):
    """Queries for a first and a repeat render of the scenario's first URL, in-process."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client(SERVER_NAME="127.0.0.1")
    path = scenario["probe"]
    key_settings = (
        {"EASEMOB_IFRAME_KEY": IFRAME_KEY, "EASEMOB_ENCRYPT_SYSTEM_PARAMS": True}
        if scenario["encrypted"]
        else {}
    )
    counts = []
    with override_settings(**key_settings):
        for _load in range(2):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
            page = response.content.decode()
            if response.status_code != 200 or scenario["marker"] not in page:
                raise SystemExit(
                    f"{scenario['name']}: the panel answered {response.status_code} in-process "
                    f"without {scenario['marker']!r}"
                )
            counts.append(len(queries))
    connection.close()
    return counts


# --- gunicorn and wrk -------------------------------------------------------------------------


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
        self.process = subprocess.Popen(  # noqa: S603 -- our own interpreter and arguments
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "crm_project.wsgi"],
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

    def _wait_healthy(self, timeout=30):
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
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        return False

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as response:  # noqa: S310 -- http://127.0.0.1 only
            return response.status, response.read().decode()


def log_offset(path):
    return path.stat().st_size if path.exists() else 0


def read_log(path, offset):
    """Panel statuses and error lines gunicorn logged after `offset`."""
    with open(path, "rb") as log:
        log.seek(offset)
        text = log.read().decode("utf-8", "replace")
    statuses = Counter(m.group(1) for m in ACCESS_LINE.finditer(text))
    errors = [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]
    return statuses, errors


def wrk(server, path_file, threads, connections, duration):
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        server.base,
        "--",
        str(path_file),
    ]
    return subprocess.run(  # noqa: S603 -- wrk with our own arguments
        command, capture_output=True, text=True, timeout=duration + 60, check=True
    )


def run_wrk(server, scenario, args):
    status, page = server.get(scenario["probe"])
    if status != 200 or scenario["marker"] not in page:
        raise SystemExit(f"{scenario['name']}: preflight got {status} without the expected page")
    offset = log_offset(server.log_path)
    connections = scenario.get("connections", args.connections)
    threads = min(args.threads, connections)
    done = wrk(server, scenario["file"], threads, connections, args.duration)
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_RESULT "))
    result = json.loads(line.removeprefix("BENCH_RESULT "))
    # Let gunicorn write its last access lines before reading them.
    time.sleep(0.5)
    result["statuses"], result["log_errors"] = read_log(server.log_path, offset)
    result["wrk_output"] = done.stdout
    return result


# --- report -----------------------------------------------------------------------------------


def machine():
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu})"


def ms(microseconds):
    return f"{microseconds / 1000:.1f} ms"


def table(scenarios):
    rows = [
        "| scenario | requests/s | p50 | p90 | p99 | max | requests | non-200 | socket errors "
        "| SQL queries per render (repeat; first) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scenarios:
        r = s["result"]
        rate = r["requests"] / (r["duration_us"] / 1e6)
        non_200 = sum(n for code, n in r["statuses"].items() if code != "200")
        codes = ", ".join(f"{n}×{code}" for code, n in sorted(r["statuses"].items()))
        socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
        first, repeat = s["queries"]
        rows.append(
            f"| {s['name']} | {rate:,.0f} | {ms(r['p50_us'])} | {ms(r['p90_us'])} "
            f"| {ms(r['p99_us'])} | {ms(r['max_us'])} | {r['requests']:,} "
            f"| {non_200}{f' ({codes})' if non_200 else ''} | {socket_errors} "
            f"| {repeat}; {first} |"
        )
    return "\n".join(rows)


def main():
    args = parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    started = time.monotonic()
    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, through the `with` that stops gunicorn.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        workdir = Path(tmp)
        static_root = workdir / "static"
        plain_env = settings_env(args, static_root)
        os.environ.update(plain_env)
        sys.path.insert(0, str(ROOT))
        postgres_version = prepare_database(args)

        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        seed(args.customers)
        ensure_heavy_customer()
        reset_panel_writes()
        # Production serves hashed static files from a manifest; the pages need it to render.
        call_command("collectstatic", interactive=False, verbosity=0)
        scenarios, visitors = build_scenarios(workdir)
        for scenario in scenarios:
            scenario["queries"] = count_queries(scenario)
        # How long one agent waits when nobody else is loading the panel.
        scenarios.insert(
            1, {**scenarios[0], "name": "1. known visitor, one connection", "connections": 1}
        )
        print(f"Prepared in {time.monotonic() - started:.0f} s; {visitors} known visitors.")

        log_path = workdir / "gunicorn.log"
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
        try:
            for encrypted in (False, True):
                env = settings_env(args, static_root, encrypted=encrypted)
                with Server(env, log_path) as server:
                    runs = [s for s in scenarios if s["encrypted"] == encrypted]
                    # Fresh workers import, compile templates and connect on their first
                    # requests: not what an office that has been at work for an hour sees.
                    if args.warmup:
                        wrk(server, runs[0]["file"], args.threads, args.connections, args.warmup)
                    for scenario in runs:
                        print(f"Running {scenario['name']} ...", flush=True)
                        scenario["result"] = run_wrk(server, scenario, args)
        except BaseException:
            if log_path.exists():
                print("Last lines of gunicorn's log:", file=sys.stderr)
                print(
                    "\n".join(log_path.read_text(errors="replace").splitlines()[-30:]),
                    file=sys.stderr,
                )
            raise

        print()
        print(
            f"{machine()}, {date.today():%Y-%m-%d}; Python {platform.python_version()}, "
            f"Django {django.get_version()}, PostgreSQL {postgres_version}, gunicorn "
            f"{conf['workers']} workers × {conf['threads']} threads ({conf['worker_class']}); "
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s; "
            f"{args.customers} seeded customers, {visitors} known visitors"
        )
        print()
        print(table(scenarios))
        for s in scenarios:
            for line in s["result"]["log_errors"][:5]:
                print(f"{s['name']}: {line}")
        print(f"\nTotal {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    main()

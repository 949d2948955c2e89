"""What bench/failover.py and bench/soak.py share: production settings, the database and its demo
data, gunicorn and nginx on free loopback ports (always stopped, errors and Ctrl-C included), the
panel URLs of seeded visitors, and latency summaries.

Nothing here listens on or sends to anything but 127.0.0.1.
"""

import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
NGINX_SITE = ROOT / "deploy" / "nginx" / "crm.conf"
# The sample site's host name: the load client sends it as Host and in TLS's SNI.
SITE_HOST = "crm.example.com"
AGENT_NAMES = ["小王", "小李", "阿杰", "Amy", "小陈", "Lily", "老周", "小吴"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_tools(*names):
    """The named programs that are not installed (nginx lives in /usr/sbin)."""
    return [name for name in names if not find_tool(name)]


def find_tool(name):
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


# --- settings, database, data -----------------------------------------------------------------


def production_env(database_url, cache_url, static_root, allowed_hosts):
    """Production settings (debug off, HTTPS behind a proxy, PostgreSQL, Redis) for the servers
    and for this process, with a fresh long panel token."""
    return {
        "DJANGO_SETTINGS_MODULE": "crm_project.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": allowed_hosts,
        "DJANGO_STATIC_ROOT": str(static_root),
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "PANEL_TOKEN": secrets.token_urlsafe(24),
        # Every request comes from 127.0.0.1 here; the default (600 loads a minute per address)
        # would turn most of the load into 429s.
        "PANEL_RATE_LIMIT": "100000000",
        "API_RATE_LIMIT": "100000000/min",
        "SIMULATOR_ENABLED": "false",
        "EASEMOB_IFRAME_KEY": "",
        "EASEMOB_ENCRYPT_SYSTEM_PARAMS": "false",
    }


def prepare_services(database_url, cache_url):
    """Create the database of `database_url` when it does not exist yet; say which service is
    not there rather than fail with a traceback."""
    import psycopg
    from psycopg import sql

    server, name = database_url.rsplit("/", 1)
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL is not reachable at {server}: {exc}") from None
    address = re.match(r"rediss?://(?:[^@/]*@)?([^:/]+)(?::(\d+))?", cache_url)
    if not address:
        raise SystemExit(f"--cache-url: a redis:// URL, not {cache_url}")
    try:
        socket.create_connection((address[1], int(address[2] or 6379)), timeout=5).close()
    except OSError as exc:
        raise SystemExit(f"Redis is not reachable at {cache_url}: {exc}") from None


def setup_django(env, customers):
    """Point this process at the same settings as the servers: migrate, seed the demo data and
    collect the static files (production serves them from a manifest)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", customers=customers, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)


def workbench_params(rng, visitor_im_id, channel, n):
    """What Easemob's workbench sends with every panel load: system and session parameters
    (bench/run.py's scenarios too)."""
    # originType as Easemob sends it, per channel: the simulator's table.
    from workbench.conversations import ORIGIN_TYPES

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
        "originType": ORIGIN_TYPES.get(channel, ""),
        "techChannelName": "官网在线客服",
    }


def panel_requests(kinds, unknown=2000, seed=20251127):
    """Panel loads as the workbench sends them, as load-client requests: the seeded known
    visitors ("panel-known", the page must name their customer), the same visitors with
    cmd-pushed parameters ("panel-pushed", merged into VisitorInfo) and visitors the CRM does
    not know ("panel-unknown")."""
    from django.conf import settings

    from customers.models import VisitorIdentity

    rng = random.Random(seed)  # noqa: S311 -- test data, not secrets
    base = f"/panel/{settings.PANEL_TOKEN}/?"
    known = list(
        VisitorIdentity.objects.order_by("pk").values_list(
            "visitor_im_id", "channel", "customer__name"
        )
    )
    requests = []
    if "panel-known" in kinds:
        for n, (visitor_im_id, channel, name) in enumerate(known):
            params = workbench_params(rng, visitor_im_id, channel, n)
            requests.append(
                {"kind": "panel-known", "path": base + urlencode(params), "marker": name}
            )
    if "panel-pushed" in kinds:
        for n, (visitor_im_id, channel, name) in enumerate(known):
            custom = {"name": "Jack", "age": str(rng.randrange(18, 70)), "sex": rng.choice("mf")}
            params = {**custom, **workbench_params(rng, visitor_im_id, channel, n)}
            requests.append(
                {"kind": "panel-pushed", "path": base + urlencode(params), "marker": name}
            )
    if "panel-unknown" in kinds:
        for n in range(unknown):
            visitor_im_id = f"webim-visitor-LOAD{rng.getrandbits(80):020X}"
            params = workbench_params(rng, visitor_im_id, "web", n)
            requests.append(
                {
                    "kind": "panel-unknown",
                    "path": base + urlencode(params),
                    "marker": 'id="unknown-visitor"',
                }
            )
    return requests


# --- processes ----------------------------------------------------------------------------------


def exit_on_sigterm():
    """SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, through every `with Processes()`."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


class Processes:
    """Every process group started inside `with Processes() as processes:`, stopped on the way
    out whatever the way out is."""

    def __init__(self):
        self.groups = []

    def __enter__(self):
        return self

    def start(self, argv, **kwargs):
        # Its own session, so that the whole group (gunicorn's workers, nginx's) can be
        # signalled and Ctrl-C in the terminal reaches this script only.
        process = subprocess.Popen(argv, start_new_session=True, **kwargs)  # noqa: S603 -- our own arguments
        self.groups.append(process)
        return process

    def __exit__(self, *exc):
        # A group whose leader has been waited for is over: its id may belong to another
        # process by now.
        running = [process for process in self.groups if process.poll() is None]
        for process in running:
            stop_group(process, signal.SIGTERM)
            # A frozen group (failover.py's "freeze" round) acts on SIGTERM once it runs.
            stop_group(process, signal.SIGCONT)
        for process in running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
            stop_group(process, signal.SIGKILL)
            process.wait()
        return False


def stop_group(process, sig):
    """Signal the process group started with `process` (its leader's pid) if anything in it
    is still alive."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def log_tail(path, lines=20):
    """The last lines of a log, without query strings or the panel token (nginx's error log
    writes whole request lines)."""
    if not path.exists():
        return ""
    text = "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    text = re.sub(r"\?[^\s\"]*", "?…", text)
    token = os.environ.get("PANEL_TOKEN")
    return text.replace(token, "<PANEL_TOKEN>") if token else text


def wait_for(url, process, log_path, timeout=60):
    """Poll `url` until it answers 200; give up, with the end of the server's log (it lives in
    a temporary folder), when `process` exits or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited at start:\n{log_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 -- http://127.0.0.1 only
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer 200 within {timeout} s:\n{log_tail(log_path)}")


class Gunicorn:
    """One app server: gunicorn with the project's gunicorn.conf.py on a loopback port."""

    def __init__(self, processes, env, log_path, port=None, workers=2, extra_args=()):
        self.processes = processes
        self.env = env
        self.log_path = log_path
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.workers = workers
        self.extra_args = list(extra_args)
        self.process = None

    def start(self):
        env = {
            **os.environ,
            **self.env,
            "GUNICORN_BIND": self.address,
            "GUNICORN_WORKERS": str(self.workers),
        }
        with open(self.log_path, "ab") as log:
            self.process = self.processes.start(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
                + self.extra_args
                + ["crm_project.wsgi"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_healthy(self):
        wait_for(f"http://{self.address}/healthz", self.process, self.log_path)

    def send(self, sig):
        """SIGTERM to the master: what `systemctl stop` does, a graceful stop. SIGKILL or
        SIGSTOP to the whole group: the host is gone, or frozen, master and workers at once."""
        if sig == signal.SIGTERM:
            self.process.send_signal(sig)
        else:
            stop_group(self.process, sig)

    def wait_stopped(self, timeout=40):
        self.process.wait(timeout=timeout)
        # A worker outlives its master by a moment after SIGKILL; none may keep the port.
        stop_group(self.process, signal.SIGKILL)

    def worker_pids(self):
        """The master's children, from /proc."""
        master = self.process.pid
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # The command name is in parentheses and may hold spaces; the parent pid is the
            # second field after it.
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry.name))
        return sorted(pids)


def rss_kib(pid):
    """Resident memory of a process in KiB, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else None


# --- nginx --------------------------------------------------------------------------------------

# $upstream_addr and $upstream_status list every server a request was sent to, so a retry on
# the other server shows as "A, B". No query string, as in the sample's own format.
FAILOVER_LOG_FORMAT = (
    "log_format failover '$msec $status $request_method $uri $request_time "
    '"$upstream_addr" "$upstream_status"\';\n'
)
LOG_LINE = re.compile(
    r'(?P<end>[\d.]+) (?P<status>\d{3}) \S+ \S+ (?P<seconds>[\d.]+) "(?P<upstreams>[^"]*)"'
)


def self_signed_certificate(directory):
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(  # noqa: S603 -- our own arguments
        [find_tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", f"/CN={SITE_HOST}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def render_site(site, upstreams, https_port, http_port, cert, key, log_dir):
    """A runnable copy of the sample site: its upstream with one `server` line per address in
    `upstreams` (each with the parameters of the sample's active line), listening on loopback
    ports, with a test certificate and its logs in `log_dir`. Everything else as shipped."""
    block = re.search(r"upstream crm_app \{.*?\n\}", site, re.S)
    if not block:
        raise SystemExit(f"{NGINX_SITE}: no `upstream crm_app {{...}}` block")
    active = re.search(r"^\s*server \S+(.*);", block.group(0), re.M)
    parameters = active.group(1)
    # The sample's server lines, active or documented as comments, give way to ours.
    body = re.sub(r"^\s*#?\s*server \S+.*;\n", "", block.group(0), flags=re.M)
    servers = "".join(f"    server {address}{parameters};\n" for address in upstreams)
    body = body.replace("upstream crm_app {\n", "upstream crm_app {\n" + servers, 1)
    site = site.replace(block.group(0), body)
    site = re.sub(r"^\s*listen \[::\].*\n", "", site, flags=re.M)
    site = re.sub(r"listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl", site)
    site = re.sub(r"listen 80\b", f"listen 127.0.0.1:{http_port}", site)
    site = re.sub(r"ssl_certificate /\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};", site)
    site = re.sub(
        r"access_log /var/log/nginx/\S+ \w+;", f"access_log {log_dir}/access.log failover;", site
    )
    return site.replace("/var/log/nginx/", f"{log_dir}/")


def nginx_conf(prefix, site_path):
    """A main configuration that includes the site inside `http`, as Debian's nginx.conf does,
    and writes nothing outside `prefix`."""
    return (
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log;\n"
        "daemon off;\n"
        "worker_processes 1;\n"
        "events {}\n"
        "http {\n"
        f"    {FAILOVER_LOG_FORMAT}"
        f"    access_log {prefix}/access.log failover;\n"
        + "".join(
            f"    {name}_temp_path {prefix}/{name};\n"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {site_path};\n"
        "}\n"
    )


class Nginx:
    """nginx as a child process with its own prefix in a temporary folder, running the sample
    site in front of `upstreams`; never the system's nginx."""

    def __init__(self, processes, prefix, upstreams):
        self.processes = processes
        self.prefix = Path(prefix)
        self.upstreams = upstreams
        self.https_port = free_port()
        self.http_port = free_port()
        self.access_log = self.prefix / "access.log"
        self.error_log = self.prefix / "error.log"
        self.process = None

    def start(self):
        self.prefix.mkdir(parents=True, exist_ok=True)
        cert, key = self_signed_certificate(self.prefix)
        site = render_site(
            NGINX_SITE.read_text(),
            self.upstreams,
            self.https_port,
            self.http_port,
            cert,
            key,
            self.prefix,
        )
        (self.prefix / "crm.conf").write_text(site)
        conf = self.prefix / "nginx.conf"
        conf.write_text(nginx_conf(self.prefix, self.prefix / "crm.conf"))
        self.process = self.processes.start(
            [find_tool("nginx"), "-p", str(self.prefix), "-e", str(self.error_log)]
            + ["-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_listening()
        return self

    def _wait_listening(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"nginx exited at start: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"nginx did not listen within {timeout} s; see {self.error_log}")

    def log_offset(self):
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def log_lines(self, offset=0):
        """Access-log entries after `offset`, as dicts: when the request ended (Unix time),
        its status, how long it took, and the servers it was sent to, in order."""
        with open(self.access_log, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        entries = []
        for line in text.splitlines():
            match = LOG_LINE.match(line)
            if match:
                entries.append(
                    {
                        "end": float(match["end"]),
                        "status": match["status"],
                        "seconds": float(match["seconds"]),
                        # "A, B" after a retry; " : " separates internal redirects.
                        "upstreams": re.findall(r"[^\s,:]+:\d+", match["upstreams"]),
                    }
                )
        return entries


# --- results ------------------------------------------------------------------------------------


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def ms(seconds):
    return "–" if seconds is None else f"{seconds * 1000:.1f} ms"


def machine():
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu})"

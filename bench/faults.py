"""Inject Redis and PostgreSQL faults under a real gunicorn and time what the panel answers
(`make faults`; the figures go to docs/reliability.md).

    .venv/bin/python bench/faults.py [--repeat 5]

Everything runs on this machine against servers of its own (tests/servers.py): a private
PostgreSQL cluster and a private redis-server on free loopback ports, stopped, stalled with
SIGSTOP or locked as each scenario needs, and gunicorn with gunicorn.conf.py (2 workers,
debug off, PANEL_RATE_LIMIT raised). The shared PostgreSQL and Redis are never touched. Each
scenario sends `--repeat` panel loads (and /healthz checks) and reports their statuses and
their slowest and median times. Every server is stopped on every exit path.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Gunicorn, PrivatePostgres, PrivateRedis, get, wait_for  # noqa: E402

TOKEN = "panel-token-for-tests-7Qm2x"  # noqa: S105 -- the suite's settings (tests/settings.py)
VISITOR = "webim-visitor-FAULTBENCH000001"
PANEL = f"/panel/{TOKEN}/?visitorImId={VISITOR}&easemobId=1&to=2&lang=zh"

SEED = f"""
import django
django.setup()
from customers.models import Customer, VisitorIdentity
customer = Customer.objects.create(name="故障演练", phone="13800138000", external_id="FB1")
VisitorIdentity.objects.create(visitor_im_id="{VISITOR}", customer=customer)
"""


def sample(base, path, repeat):
    answers = [get(base + path, timeout=60) for _ in range(repeat)]
    seconds = [a[3] for a in answers]
    return {
        "statuses": dict(Counter(a[0] for a in answers)),
        "median_s": round(statistics.median(seconds), 3),
        "max_s": round(max(seconds), 3),
    }


def recovery(base):
    started = time.monotonic()
    wait_for(lambda: get(base + PANEL, timeout=10)[0] == 200, seconds=60)
    return round(time.monotonic() - started, 3)


def run(repeat, folder):
    results = {}
    postgres = PrivatePostgres()
    redis = PrivateRedis()
    app = None
    try:
        postgres.start()
        env = {
            "DATABASE_URL": postgres.url,
            "CACHE_URL": redis.url,
            "PANEL_RATE_LIMIT": "100000",
        }
        manage = [sys.executable, "manage.py"]
        full_env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "tests.settings", **env}
        subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=full_env, check=True)
        subprocess.run([sys.executable, "-c", SEED], cwd=ROOT, env=full_env, check=True)
        app = Gunicorn(env, folder / "gunicorn.log", workers=2)
        base = app.base
        sample(base, PANEL, 10)  # warm connections in both workers

        results["healthy panel"] = sample(base, PANEL, repeat)
        results["healthy /healthz"] = sample(base, "/healthz", repeat)

        redis.stall()
        results["Redis stalled: panel"] = sample(base, PANEL, repeat)
        results["Redis stalled: /healthz"] = sample(base, "/healthz", repeat)
        redis.resume()
        time.sleep(6)  # CACHE_RETRY_INTERVAL: back on Redis
        redis.remove()
        redis = None
        results["Redis unreachable: panel"] = sample(base, PANEL, repeat)

        postgres.stop()
        results["PostgreSQL down: panel"] = sample(base, PANEL, repeat)
        results["PostgreSQL down: /healthz"] = sample(base, "/healthz", repeat)
        postgres.start()
        results["PostgreSQL back: first 200 after"] = {"seconds": recovery(base)}

        sample(base, PANEL, 10)
        postgres.stall()
        results["PostgreSQL stalled: panel"] = sample(base, PANEL, repeat)
        results["PostgreSQL stalled: /healthz"] = sample(base, "/healthz", repeat)
        postgres.resume()
        results["PostgreSQL resumed: first 200 after"] = {"seconds": recovery(base)}

        holder = subprocess.Popen(
            postgres.psql(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        holder.stdin.write(
            "BEGIN; LOCK TABLE customers_visitoridentity IN ACCESS EXCLUSIVE MODE;\n"
            "SELECT pg_sleep(120);\n"
        )
        holder.stdin.flush()
        time.sleep(0.5)
        results["PostgreSQL table locked: panel"] = sample(base, PANEL, repeat)
        end = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()"
        )
        subprocess.run([*postgres.psql(), "-c", end], check=True, capture_output=True)
        holder.kill()
        holder.wait()
        results["lock released: first 200 after"] = {"seconds": recovery(base)}
    finally:
        if app:
            app.stop()
        if redis:
            redis.remove()
        postgres.remove()
    return results


def table(results):
    lines = ["| scenario | statuses | median | slowest |", "|---|---|---|---|"]
    for name, r in results.items():
        if "seconds" in r:
            lines.append(f"| {name} | | {r['seconds']:.2f} s | |")
        else:
            statuses = ", ".join(f"{n} × {s}" for s, n in sorted(r["statuses"].items()))
            lines.append(f"| {name} | {statuses} | {r['median_s']:.3f} s | {r['max_s']:.3f} s |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crm-faults-") as folder:
        results = run(args.repeat, Path(folder))
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""A long mixed load on one gunicorn: zero errors, and each worker's memory stays flat
(`make soak`; figures in docs/reliability.md, "Soak").

    .venv/bin/python bench/soak.py [--duration 600] [--rate 20] [--threads 8] [--workers 2]
                                   [--warmup 60] [--sample-every 5] [--max-growth-mib 8]
                                   [--max-requests 0] [--customers 200]
                                   [--database-url postgres://...] [--cache-url redis://...]

What it does, all on this machine (traffic goes to 127.0.0.1 only):
- a PostgreSQL database of its own (created and migrated when missing) with demo data
  (`seed_demo`), a staff user with a session, and an API integration token;
- gunicorn with gunicorn.conf.py and production settings (debug off, PostgreSQL, Redis, a fresh
  long panel token), `--workers` workers on a free loopback port. Requests carry the headers
  nginx adds (X-Forwarded-Proto, X-Forwarded-For), so HTTPS redirects and secure cookies stay
  on as in production. gunicorn's own worker recycling (max_requests, every ~2,000 requests
  in gunicorn.conf.py) is off unless --max-requests says otherwise: it would hide a leak;
- a load client in its own process (bench/load.py), at a steady rate for `--warmup` plus
  `--duration` seconds, mixing what the CRM serves all day: panel loads of known visitors, of
  visitors with cmd-pushed parameters and of unknown visitors, /healthz, admin changelists,
  searches and change forms as a logged-in staff user, and API reads with the token;
- the resident memory (VmRSS, from /proc) of every worker every `--sample-every` seconds.

It fails (exit 1) on any error — a status other than 200, a page without what it must show,
no answer — on an error in gunicorn's log, on a worker that was replaced, and when a worker's
memory grew by more than `--max-growth-mib` from the end of the warm-up (when caches have
filled) to the end. Every process it starts is stopped on every exit path, Ctrl-C included.
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

from harness import (
    ROOT,
    Gunicorn,
    Processes,
    exit_on_sigterm,
    machine,
    ms,
    panel_requests,
    percentile,
    prepare_services,
    production_env,
    rss_kib,
    setup_django,
)

LOAD_CLIENT = ROOT / "bench" / "load.py"
STAFF_USERNAME = "soak-staff"
# Shares of the load, by kind: mostly panel loads, as in an office at work.
WEIGHTS = {
    "panel-known": 35,
    "panel-pushed": 10,
    "panel-unknown": 10,
    "healthz": 10,
    "admin": 15,
    "api": 20,
}
# A line gunicorn or the app logs when something went wrong, or a worker was replaced.
LOG_TROUBLE = ("ERROR", "CRITICAL", "Traceback", "WORKER TIMEOUT", "Worker exiting")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=600, help="measured seconds of load")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the baseline")
    parser.add_argument("--rate", type=float, default=20, help="requests a second")
    parser.add_argument("--threads", type=int, default=8, help="load client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--max-requests", type=int, default=0, help="gunicorn's max_requests (0: never recycle)"
    )
    parser.add_argument("--sample-every", type=float, default=5, help="seconds between samples")
    parser.add_argument(
        "--max-growth-mib",
        type=float,
        default=8,
        help="allowed growth of a worker's memory from the baseline to the end",
    )
    parser.add_argument("--customers", type=int, default=200, help="seed_demo --customers")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/crm_soak")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/7")
    return parser.parse_args(argv)


def staff_requests():
    """Admin pages as a logged-in staff user: changelists, searches, filters, change forms."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from customers.models import Customer
    from orders.models import Order

    user, _ = get_user_model().objects.get_or_create(
        username=STAFF_USERNAME, defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    customers = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:20])
    orders = list(Order.objects.order_by("pk").values_list("pk", flat=True)[:20])
    paths = [
        "/admin/",
        "/admin/customers/customer/",
        "/admin/customers/customer/?p=2",
        "/admin/customers/customer/?q=%E7%8E%8B",
        "/admin/customers/customer/?level__exact=gold",
        "/admin/orders/order/",
        "/admin/orders/order/?status__exact=paid",
        "/admin/orders/order/?q=SF",
        "/admin/customers/visitoridentity/",
        "/admin/customers/note/",
    ]
    paths += [f"/admin/customers/customer/{pk}/change/" for pk in customers]
    paths += [f"/admin/orders/order/{pk}/change/" for pk in orders]
    # The admin names the logged-in user on every page: a page without it is a login form.
    headers = {"Cookie": cookie, "Accept-Language": "zh-hans"}
    return [
        {"kind": "admin", "path": path, "headers": headers, "marker": STAFF_USERNAME}
        for path in paths
    ]


def api_requests():
    """API reads with an integration token, each naming what it must return."""
    from api.models import IntegrationToken
    from customers.models import Customer
    from orders.models import Order

    # One token per run; the last run's is of no use any more.
    IntegrationToken.objects.filter(name="soak").delete()
    token = IntegrationToken(name="soak")
    secret = token.set_new_token()
    token.save()
    headers = {"Authorization": f"Bearer {secret}"}
    rng = random.Random(7)  # noqa: S311 -- picks test data
    external_ids = list(Customer.objects.values_list("external_id", flat=True))
    numbers = list(Order.objects.values_list("number", flat=True))
    requests = [
        {"path": f"/api/v1/customers/?page={page}", "marker": '"results"'} for page in (1, 2, 3)
    ]
    for external_id in rng.sample(external_ids, min(30, len(external_ids))):
        requests.append({"path": f"/api/v1/customers/{external_id}/", "marker": external_id})
        requests.append(
            {"path": f"/api/v1/customers/{external_id}/visitor-ids/", "marker": "visitor_im_id"}
        )
    for number in rng.sample(numbers, min(30, len(numbers))):
        requests.append({"path": f"/api/v1/orders/{number}/", "marker": number})
    return [{"kind": "api", "headers": headers, **request} for request in requests]


def sample_memory(server, samples, started):
    now = time.monotonic() - started
    for pid in server.worker_pids():
        rss = rss_kib(pid)
        if rss is not None:
            samples[pid].append((now, rss))


def memory_table(samples, baseline_at, max_growth_kib):
    rows = [
        "| worker | at the start | at the baseline | at the end | max | growth from the baseline |",
        "|---|---|---|---|---|---|",
    ]
    failures = []
    for n, (pid, points) in enumerate(sorted(samples.items()), start=1):
        after = [rss for t, rss in points if t >= baseline_at]
        if not after:
            failures.append(f"worker {pid} was gone before the baseline")
            continue
        baseline, end, peak = after[0], after[-1], max(rss for _, rss in points)
        growth = end - baseline
        rows.append(
            f"| {n} (pid {pid}) | {mib(points[0][1])} | {mib(baseline)} | {mib(end)} "
            f"| {mib(peak)} | {growth / 1024:+.1f} MiB |"
        )
        if growth > max_growth_kib:
            failures.append(f"worker {pid} grew by {growth / 1024:.1f} MiB")
    return "\n".join(rows), failures


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def load_table(rows):
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[row[1]].append(row)
    lines = [
        "| requests | count | statuses | errors | p50 | p99 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in [*WEIGHTS, "all"]:
        selected = rows if kind == "all" else by_kind.get(kind, [])
        latencies = sorted(row[3] for row in selected)
        statuses = Counter(str(row[2]) if row[2] else "no answer" for row in selected)
        errors = sum(1 for row in selected if not row[4])
        lines.append(
            f"| {kind} | {len(selected):,} "
            f"| {', '.join(f'{n:,}×{s}' for s, n in sorted(statuses.items()))} | {errors} "
            f"| {ms(percentile(latencies, 0.5))} | {ms(percentile(latencies, 0.99))} "
            f"| {ms(latencies[-1] if latencies else None)} |"
        )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    started = time.monotonic()
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="crm-soak-") as tmp, Processes() as processes:
        workdir = Path(tmp)
        env = production_env(args.database_url, args.cache_url, workdir / "static", "127.0.0.1")
        prepare_services(args.database_url, args.cache_url)
        setup_django(env, args.customers)
        requests = (
            panel_requests({"panel-known", "panel-pushed", "panel-unknown"})
            + [{"kind": "healthz", "path": "/healthz", "marker": '"status": "ok"'}]
            + staff_requests()
            + api_requests()
        )
        log_path = workdir / "gunicorn.log"
        server = Gunicorn(
            processes,
            env,
            log_path,
            workers=args.workers,
            extra_args=["--max-requests", str(args.max_requests)],
        )
        server.start()
        server.wait_healthy()
        initial_workers = server.worker_pids()
        plan_path, results_path = workdir / "plan.json", workdir / "results.jsonl"
        total = args.warmup + args.duration
        plan = {
            "port": server.port,
            "host": "127.0.0.1",
            # What nginx adds: the request came over HTTPS, from this client address.
            "headers": {"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"},
            "duration": total,
            "rate": args.rate,
            "threads": args.threads,
            "requests": requests,
            "weights": WEIGHTS,
        }
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        print(
            f"Prepared in {time.monotonic() - started:.0f} s; {len(requests)} distinct "
            f"requests; {args.warmup:g} s of warm-up, then {args.duration:g} s measured ...",
            flush=True,
        )
        client = processes.start(
            [sys.executable, str(LOAD_CLIENT), str(plan_path), str(results_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        load_started = float(client.stdout.readline().split()[1])
        samples = defaultdict(list)
        next_report = load_started + 60
        while client.poll() is None:
            sample_memory(server, samples, load_started)
            if time.monotonic() >= next_report:
                current = ", ".join(mib(points[-1][1]) for points in samples.values())
                elapsed = time.monotonic() - load_started
                print(f"  {elapsed:.0f} s: workers at {current}", flush=True)
                next_report += 60
            time.sleep(args.sample_every)
        sample_memory(server, samples, load_started)
        if client.returncode != 0:
            raise SystemExit(f"the load client failed (exit {client.returncode})")
        final_workers = server.worker_pids()
        rows = [json.loads(line) for line in results_path.read_text(encoding="utf-8").splitlines()]
        trouble = [
            line
            for line in log_path.read_text(errors="replace").splitlines()
            if any(word in line for word in LOG_TROUBLE)
        ]
        memory, memory_failures = memory_table(samples, args.warmup, args.max_growth_mib * 1024)

    import django

    errors = [row for row in rows if not row[4]]
    print()
    print(
        f"{machine()}, {date.today():%Y-%m-%d}; Python {sys.version.split()[0]}, Django "
        f"{django.get_version()}; gunicorn {args.workers} workers, max_requests "
        f"{args.max_requests}; {args.rate:g} requests/s from {args.threads} threads for "
        f"{args.warmup:g} + {args.duration:g} s; memory sampled every {args.sample_every:g} s"
    )
    print()
    print(load_table(rows))
    print()
    print(memory)
    failures = memory_failures
    if errors:
        failures.append(f"{len(errors)} requests failed")
        for row in errors[:10]:
            print(f"  error: {row[1]} status {row[2]} {row[5]}")
    if trouble:
        failures.append(f"{len(trouble)} error lines in gunicorn's log")
        for line in trouble[:10]:
            print(f"  log: {line}")
    if final_workers != initial_workers:
        failures.append(f"workers replaced: {initial_workers} became {final_workers}")
    print(f"\nTotal {time.monotonic() - started:.0f} s.")
    if failures:
        raise SystemExit("; ".join(failures))


if __name__ == "__main__":
    main()

"""Lose one of two app servers under a steady load of panel loads; no agent may see a failed
load (`make failover`; figures in docs/reliability.md, "Failover").

    .venv/bin/python bench/failover.py [--duration 20] [--rounds term,kill] [--rate 60]
                                       [--threads 8] [--customers 200] [--workers 2]
                                       [--database-url postgres://...] [--cache-url redis://...]

What it does, all on this machine (traffic goes to 127.0.0.1 only):
- a PostgreSQL database of its own (created and migrated when missing) with demo data
  (`seed_demo`), shared by both app servers, and one Redis database for both;
- two app servers: gunicorn with gunicorn.conf.py and production settings (debug off, a fresh
  long panel token, HTTPS behind the proxy), 2 workers each, on free loopback ports;
- nginx as a child process in a temporary folder, running a copy of deploy/nginx/crm.conf
  whose upstream lists both servers (with the sample's parameters, proxy lines unchanged),
  TLS with a throwaway self-signed certificate;
- per round, a load client in its own process (bench/load.py) requests panel pages of known
  visitors as Easemob's workbench does, at a steady rate, for `--duration` seconds; halfway
  through, one app server is stopped: SIGTERM to its master in the round "term" (a graceful
  stop, as `systemctl stop`), SIGKILL to master and workers in the round "kill" (the host is
  gone). The stopped server is started again between rounds, and the next round stops the
  other one;
- every load must answer 200 with the visitor's customer on it. It prints, per round and phase
  (before the stop, the 5 s after it, the rest), the loads sent, their statuses, failed loads,
  the loads nginx retried on the other server, p50 and p99, and exits 1 on any failed load.

Every process it starts is stopped on every exit path, errors and Ctrl-C included.
"""

import argparse
import http.client
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path

from harness import (
    ROOT,
    SITE_HOST,
    Gunicorn,
    Nginx,
    Processes,
    exit_on_sigterm,
    log_tail,
    machine,
    missing_tools,
    ms,
    panel_requests,
    percentile,
    prepare_services,
    production_env,
    setup_django,
)
from load import Connection

LOAD_CLIENT = ROOT / "bench" / "load.py"
SIGNALS = {"term": signal.SIGTERM, "kill": signal.SIGKILL, "freeze": signal.SIGSTOP}
HOW = {
    "term": "SIGTERM (graceful)",
    "kill": "SIGKILL (master and workers)",
    "freeze": "SIGSTOP (master and workers: a frozen server that keeps its connections)",
}
# The phase right after the stop, reported on its own: what an agent loading the panel while a
# server goes away sees.
DURING = 5.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=20, help="seconds of load per round")
    parser.add_argument(
        "--rounds",
        default="term,kill",
        help="how the server is stopped, one round each: term (graceful), kill (abrupt), "
        "freeze (hangs without closing its connections: a known limit, see "
        "docs/reliability.md)",
    )
    parser.add_argument("--rate", type=float, default=30, help="panel loads a second")
    parser.add_argument(
        "--warmup", type=float, default=3, help="unmeasured seconds of load before each round"
    )
    parser.add_argument("--threads", type=int, default=8, help="load client threads")
    parser.add_argument("--customers", type=int, default=200, help="seed_demo --customers")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/crm_failover")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/7")
    args = parser.parse_args(argv)
    args.rounds = args.rounds.split(",")
    if not args.rounds or any(r not in SIGNALS for r in args.rounds):
        parser.error("--rounds: a comma list of term, kill and freeze")
    if args.duration < 2 * DURING:
        parser.error(f"--duration: at least {2 * DURING:.0f} s, the stop comes halfway")
    return args


def start_load(nginx, requests, args, workdir, name, duration):
    """The load client on the rendered site, started; its results file."""
    plan_path = workdir / f"plan-{name}.json"
    results_path = workdir / f"results-{name}.jsonl"
    plan = {
        "port": nginx.https_port,
        "tls_host": SITE_HOST,
        "host": SITE_HOST,
        "duration": duration,
        "rate": args.rate,
        "threads": args.threads,
        "requests": requests,
    }
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    client = nginx.processes.start(
        [sys.executable, str(LOAD_CLIENT), str(plan_path), str(results_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    started = float(client.stdout.readline().split()[1])
    return client, started, results_path


def finish_load(client, results_path, duration):
    client.wait(timeout=duration + 120)
    if client.returncode != 0:
        raise SystemExit(f"the load client failed (exit {client.returncode})")
    return [json.loads(line) for line in results_path.read_text(encoding="utf-8").splitlines()]


def run_round(nginx, victim, how, requests, args, workdir, number):
    offset = nginx.log_offset()
    client, started, results_path = start_load(
        nginx, requests, args, workdir, f"round{number}", args.duration
    )
    time.sleep(max(0, started + args.duration / 2 - time.monotonic()))
    stopped_at, stopped_at_unix = time.monotonic(), time.time()
    victim.send(SIGNALS[how])
    if how != "freeze":
        victim.wait_stopped()
    exited_at = time.monotonic()
    rows = finish_load(client, results_path, args.duration)
    if how == "freeze":
        victim.send(signal.SIGKILL)
        victim.wait_stopped()
    # Let nginx write its last lines.
    time.sleep(0.3)
    log = nginx.log_lines(offset)
    # Sent to the stopped server before the signal and answered by the other one: the loads
    # it was serving when it went away.
    in_flight = [
        e
        for e in log
        if len(e["upstreams"]) > 1
        and e["upstreams"][0] == victim.address
        and e["end"] - e["seconds"] < stopped_at_unix
    ]
    return {
        "how": how,
        "victim": victim.address,
        "stopped_at": stopped_at,
        "stop_took": exited_at - stopped_at,
        "rows": rows,
        "log": log,
        "in_flight": len(in_flight),
    }


def summarize(result):
    phases = {"before": [], "during": [], "after": []}
    for row in result["rows"]:
        start = row[0]
        if start < result["stopped_at"]:
            phases["before"].append(row)
        elif start < result["stopped_at"] + DURING:
            phases["during"].append(row)
        else:
            phases["after"].append(row)
    lines = []
    for phase, rows in phases.items():
        latencies = sorted(row[3] for row in rows)
        statuses = Counter(str(row[2]) if row[2] else "no answer" for row in rows)
        failed = sum(1 for row in rows if not row[4])
        lines.append(
            {
                "phase": phase,
                "requests": len(rows),
                "statuses": ", ".join(f"{n}×{s}" for s, n in sorted(statuses.items())),
                "failed": failed,
                "p50": percentile(latencies, 0.50),
                "p99": percentile(latencies, 0.99),
                "max": latencies[-1] if latencies else None,
            }
        )
    return lines


def report(results, args, started):
    import django

    print()
    print(
        f"{machine()}, {date.today():%Y-%m-%d}; Python {sys.version.split()[0]}, Django "
        f"{django.get_version()}; 2 app servers × {args.workers} gunicorn workers behind nginx "
        f"(deploy/nginx/crm.conf); {args.rate:g} panel loads/s from {args.threads} threads, "
        f"{args.duration:g} s per round, the stop at {args.duration / 2:g} s"
    )
    failed_total = 0
    for number, result in enumerate(results, start=1):
        how = HOW[result["how"]]
        retried = [e for e in result["log"] if len(e["upstreams"]) > 1]
        served = Counter(e["upstreams"][-1] for e in result["log"] if e["upstreams"])
        print()
        print(
            f"Round {number}: {how} to the server on {result['victim']}"
            + (
                ""
                if result["how"] == "freeze"
                else f"; its master exited {result['stop_took']:.2f} s after the signal"
            )
            + f". nginx retried {len(retried)} loads "
            f"on the other server ({result['in_flight']} of them in flight at the signal); "
            "answered by: " + ", ".join(f"{a} {n}" for a, n in sorted(served.items()))
        )
        print()
        print("| phase | loads | statuses | failed | p50 | p99 | max |")
        print("|---|---|---|---|---|---|---|")
        for line in summarize(result):
            failed_total += line["failed"]
            print(
                f"| {line['phase']} | {line['requests']} | {line['statuses']} "
                f"| {line['failed']} | {ms(line['p50'])} | {ms(line['p99'])} "
                f"| {ms(line['max'])} |"
            )
        for row in [r for r in result["rows"] if not r[4]][:10]:
            print(f"  failed: {row[1]} status {row[2]} {row[5]}")
    print(f"\nTotal {time.monotonic() - started:.0f} s.")
    return failed_total


def wait_in_rotation(nginx, server, timeout=30):
    """Until nginx sends requests to `server` again: it leaves a failed server out for the
    upstream's fail_timeout."""
    connection = Connection({"port": nginx.https_port, "tls_host": SITE_HOST, "host": SITE_HOST})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        offset = nginx.log_offset()
        for _ in range(4):
            try:
                connection.get({"path": "/healthz"})
            except (OSError, http.client.HTTPException):
                connection.close()
        time.sleep(0.2)
        if any(
            e["status"] == "200" and e["upstreams"][-1:] == [server.address]
            for e in nginx.log_lines(offset)
        ):
            connection.close()
            return
        time.sleep(0.5)
    raise SystemExit(f"nginx did not send requests to {server.address} within {timeout} s")


def main(argv=None):
    args = parse_args(argv)
    missing = missing_tools("nginx", "openssl")
    if missing:
        raise SystemExit(
            f"{' and '.join(missing)} not installed: apt-get install {' '.join(missing)}"
        )
    started = time.monotonic()
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="crm-failover-") as tmp, Processes() as processes:
        workdir = Path(tmp)
        env = production_env(args.database_url, args.cache_url, workdir / "static", SITE_HOST)
        prepare_services(args.database_url, args.cache_url)
        setup_django(env, args.customers)
        requests = panel_requests({"panel-known"})
        servers = [
            Gunicorn(processes, env, workdir / f"gunicorn-{name}.log", workers=args.workers)
            for name in "ab"
        ]
        for server in servers:
            server.start()
        for server in servers:
            server.wait_healthy()
        nginx = Nginx(processes, workdir / "nginx", [s.address for s in servers]).start()
        print(
            f"Prepared in {time.monotonic() - started:.0f} s: {len(requests)} known visitors, "
            f"servers {', '.join(s.address for s in servers)}, nginx on "
            f"127.0.0.1:{nginx.https_port}.",
            flush=True,
        )
        results = []
        try:
            for number, how in enumerate(args.rounds, start=1):
                victim = servers[(number - 1) % 2]
                for server in servers:
                    wait_in_rotation(nginx, server)
                if args.warmup:
                    # Fresh workers import, compile templates and connect on their first
                    # loads: not what an office that has been at work for an hour sees.
                    client, _, results_path = start_load(
                        nginx, requests, args, workdir, f"warmup{number}", args.warmup
                    )
                    finish_load(client, results_path, args.warmup)
                print(f"Round {number}: stopping {victim.address} with {how} ...", flush=True)
                results.append(run_round(nginx, victim, how, requests, args, workdir, number))
                if number < len(args.rounds):
                    victim.start()
                    victim.wait_healthy()
        except BaseException:
            for path in sorted(workdir.glob("gunicorn-*.log")) + [nginx.error_log]:
                print(f"Last lines of {path.name}:\n{log_tail(path)}", file=sys.stderr)
            raise
        failed = report(results, args, started)
    if failed:
        raise SystemExit(f"{failed} failed panel loads")


if __name__ == "__main__":
    main()

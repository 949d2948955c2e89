"""The load client of bench/failover.py and bench/soak.py, run as a process of its own so that
the servers' CPU and this one's are counted apart, as with a real office.

    python bench/load.py PLAN.json RESULTS.jsonl

The plan (JSON) says where to send (`port` on 127.0.0.1, optionally over TLS with `tls_host` as
the server name), the `host` header, `duration` in seconds, `rate` (requests a second, all
threads together), `threads`, and `requests`: objects with `kind`, `path`, optional `headers`
and `marker` (text the page must contain). Each request picks a kind by `weights` (all equal
without them), then one of its requests at random. Each thread keeps its connection alive and
opens a new one after an error, as a browser does.

It prints `started <time.monotonic()>` when the first request goes out (the clock is the same
in every process on Linux, so the caller can time its faults against it) and writes one JSON
line per request: [start, kind, status (0: no answer), seconds, ok, error]. A request is ok
when it answered 200 with its marker. Only the standard library: it starts in a moment.
"""

import http.client
import json
import random
import socket
import ssl
import sys
import threading
import time

# Longer than nginx's proxy_read_timeout (35 s): the answer nginx gives up with is the one seen.
TIMEOUT = 60


class Connection:
    def __init__(self, plan):
        self.plan = plan
        self.conn = None

    def open(self):
        port = self.plan["port"]
        if self.plan.get("tls_host"):
            # A test certificate on 127.0.0.1: the name goes in SNI (nginx picks the server
            # by it), the certificate is not checked.
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT, context=context)
            sock = socket.create_connection(("127.0.0.1", port), TIMEOUT)
            conn.sock = context.wrap_socket(sock, server_hostname=self.plan["tls_host"])
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        self.conn = conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def get(self, request):
        if self.conn is None:
            self.open()
        headers = {"Host": self.plan["host"], **self.plan.get("headers", {})}
        headers.update(request.get("headers", {}))
        self.conn.request("GET", request["path"], headers=headers)
        response = self.conn.getresponse()
        body = response.read()
        if response.will_close:
            self.close()
        return response.status, body


def worker(plan, by_kind, weights, deadline, interval, results, seed):
    rng = random.Random(seed)  # noqa: S311 -- picks test requests, not secrets
    kinds = list(by_kind)
    connection = Connection(plan)
    next_at = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if next_at > now:
                time.sleep(next_at - now)
            # Paced, not flat out: a steady office, whose latency is not a queue of our own.
            # Behind by more than a second (a stall), start again from now rather than burst.
            next_at = max(next_at + interval, time.monotonic() - 1)
            request = rng.choice(by_kind[rng.choices(kinds, weights)[0]])
            started = time.monotonic()
            status, error = 0, ""
            try:
                status, body = connection.get(request)
                marker = request.get("marker")
                ok = status == 200 and (not marker or marker.encode() in body)
                if status == 200 and not ok:
                    error = "marker missing"
            except (OSError, http.client.HTTPException) as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
                connection.close()
            results.append(
                [started, request["kind"], status, time.monotonic() - started, ok, error]
            )
    finally:
        connection.close()


def main():
    plan_path, results_path = sys.argv[1:3]
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    by_kind = {}
    for request in plan["requests"]:
        by_kind.setdefault(request["kind"], []).append(request)
    weights = [plan.get("weights", {}).get(kind, 1) for kind in by_kind]
    threads = plan["threads"]
    interval = threads / plan["rate"]
    started = time.monotonic()
    deadline = started + plan["duration"]
    results = [[] for _ in range(threads)]
    print(f"started {started}", flush=True)
    pool = [
        threading.Thread(
            target=worker,
            args=(plan, by_kind, weights, deadline, interval, results[n], n),
            daemon=True,
        )
        for n in range(threads)
    ]
    for n, thread in enumerate(pool):
        thread.start()
        # Spread the threads' first requests over one interval.
        if n < threads - 1:
            time.sleep(interval / threads)
    for thread in pool:
        thread.join()
    with open(results_path, "w", encoding="utf-8") as out:
        for row in sorted(r for rows in results for r in rows):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

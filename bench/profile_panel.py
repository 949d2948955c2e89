"""Where a panel load spends its CPU, in-process: Django's test client loads the panel for known
visitors of a database bench/run.py seeded, with the workbench's parameters, under production
settings; prints the CPU time per load and, with --pyinstrument, a profile.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench
    .venv/bin/python bench/profile_panel.py
    .venv/bin/python bench/profile_panel.py --loads 300 --pyinstrument  # pip install pyinstrument

A load here is what gunicorn's worker does for it minus the HTTP parsing, so the CPU figure sits
a little under bench/run.py's "gunicorn CPU per request".
"""

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--loads", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="the median of this many runs")
    parser.add_argument("--pushed", action="store_true", help="with cmd-pushed name, age, sex")
    parser.add_argument("--heavy", action="store_true", help="customers with 300+ orders")
    parser.add_argument(
        "--view",
        choices=("panel", "seed_sample", "floor"),
        default="panel",
        help="the panel, or one of bench/run.py's yardsticks for comparison",
    )
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/12")
    return parser.parse_args()


def main():
    args = parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "CACHE_URL": args.cache_url,
            "PANEL_TOKEN": "profile-panel-token-" + secrets.token_hex(8),
            "PANEL_RATE_LIMIT": "100000000",
            "SIMULATOR_ENABLED": "false",
            "ADMIN_TWO_FACTOR": "false",
            "EASEMOB_IFRAME_KEY": "",
            "DJANGO_STATIC_ROOT": tempfile.mkdtemp(prefix="crm-profile-"),
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # Production serves hashed static files from a manifest; the pages need it to render.
    call_command("collectstatic", interactive=False, verbosity=0)
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from bench.harness import workbench_params
    from bench.seed import MARKER_TABLE
    from customers.models import VisitorIdentity
    from orders.models import Order

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {MARKER_TABLE}")  # noqa: S608 -- a constant
    rng = random.Random(7)  # noqa: S311 -- test data
    identities = VisitorIdentity.objects.values_list("visitor_im_id", "channel", "customer_id")
    if args.heavy:
        heavy = (
            Order.objects.values("customer_id")
            .annotate(n=Count("pk"))
            .filter(n__gte=300)
            .values_list("customer_id", flat=True)
        )
        identities = identities.filter(customer_id__in=list(heavy))
    visitors = list(identities.order_by("?")[: args.loads])
    paths = []
    for n, (visitor_im_id, channel, _customer) in enumerate(visitors):
        params = workbench_params(rng, visitor_im_id, channel, n)
        if args.pushed:
            params = {"name": "Jack", "age": str(rng.randrange(18, 70)), "sex": "m", **params}
        prefix = {
            "panel": f"/panel/{settings.PANEL_TOKEN}/",
            "seed_sample": "/bench/seed-sample/",
            "floor": "/bench/floor/",
        }[args.view]
        paths.append(f"{prefix}?{urlencode(params)}")

    client = Client(SERVER_NAME="127.0.0.1")

    def run():
        started = time.process_time()
        for path in paths:
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path[:80]}… answered {response.status_code}")
        return (time.process_time() - started) / len(paths) * 1000

    run()  # warm: templates compiled, connections open
    figures = sorted(run() for _round in range(args.rounds))
    print(
        f"{len(paths)} loads a round: CPU per load {figures[len(figures) // 2]:.2f} ms "
        f"(median of {args.rounds}; {', '.join(f'{f:.2f}' for f in figures)})"
    )
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        with profiler:
            run()
        print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()

"""The data `bench/run.py` loads the panel against: customers, their visitor ids, notes, orders
and items in the shapes of a real shop, at any size, written with COPY on PostgreSQL (batched
INSERTs elsewhere).

The skew is what makes a benchmark honest: most customers have a few orders (one in fifteen
none), one in a thousand has hundreds (300 or more), an order holds one to four items, and a
customer reaches support from one to three channels (about 1.5 visitor ids each). Orders are
written in the order they were placed, as a shop's table fills, so that one customer's orders
lie scattered over the table rather than side by side.

A small table, `bench_seed`, records the size a database was seeded at: `ensure_seeded` reuses
such a database and only reseeds (after emptying it) when the size asked for differs.
"""

import json
import random
import time
from array import array
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from statistics import median

from django.core.management import call_command
from django.core.management.color import no_style
from django.db import transaction
from django.utils import timezone

from bench.harness import AGENT_NAMES
from customers.management.commands.seed_demo import (
    CARRIERS,
    CITIES,
    COMPANIES,
    GIVEN,
    LEVEL_WEIGHTS,
    MAIL_DOMAINS,
    PINYIN,
    PRODUCTS,
    REMARKS,
    SURNAMES,
    TAGS,
    visitor_id,
)
from customers.models import Customer, Note, Tag, VisitorIdentity
from orders.models import Order, OrderItem

# Bumped whenever the data below changes shape, so that an older bench database is reseeded.
SEED_VERSION = 1
MARKER_TABLE = "bench_seed"

HEAVY_SHARE = 1000  # one customer in this many has hundreds of orders
HEAVY_ORDERS = (300, 450)
# Everyone else: a log-normal spread around the mean the sizes ask for, capped well below the
# heavy customers so that "the customer with hundreds of orders" stays a scenario of its own.
REGULAR_SIGMA = 1.3
REGULAR_MAX = 150
ITEMS_PER_ORDER = {1: 55, 2: 28, 3: 12, 4: 5}
BASKETS_PER_SIZE = 400
VISITOR_IDS_PER_CUSTOMER = {1: 60, 2: 30, 3: 10}
CHANNEL_WEIGHTS = {
    VisitorIdentity.Channel.WEB: 35,
    VisitorIdentity.Channel.APP: 25,
    VisitorIdentity.Channel.WECHAT: 25,
    VisitorIdentity.Channel.WECOM: 10,
    VisitorIdentity.Channel.WEIBO: 5,
}
NOTE_SHARE = 0.25
NOTE_BODIES = [
    "客户咨询退货流程，已告知七天无理由退货规则。",
    "要求开具增值税专用发票，已转财务。",
    "反映快递延迟，已联系物流催件。",
    "预约周三下午回电，确认换货进度。",
    "对耳机音质不满意，建议换货。",
    "询问企业批量采购价格，已发报价单。",
]
HISTORY_DAYS = 720


class NotABenchDatabase(Exception):
    """The database holds data that bench/run.py did not seed: it is never emptied."""


class SeededDifferently(Exception):
    """The database holds a bench seed of another size, or from an older seeder."""


def seeded_size(connection):
    """What `bench_seed` says the database was seeded with, or None."""
    if MARKER_TABLE not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT size FROM {MARKER_TABLE}")  # noqa: S608 -- a constant
        row = cursor.fetchone()
    return json.loads(row[0]) if row else None


def ensure_seeded(connection, customers, orders, reseed=False, log=print):
    """The database's size record, seeding it first unless it already holds this size.

    A bench seed of another size is emptied and replaced only when `reseed` asks for it: a
    million orders take minutes to seed again. A database with customers or orders but no
    record is refused rather than emptied: the harness runs on whatever DATABASE_URL names."""
    size = seeded_size(connection)
    if size and (size["customers"], size["orders"], size["version"]) == (
        customers,
        orders,
        SEED_VERSION,
    ):
        log(
            f"Reusing the database seeded with {customers:,} customers and {orders:,} orders "
            f"(seeded in {size['seconds']:.0f} s)."
        )
        return size, True
    if size:
        held = (
            f"The database holds a bench seed of {size['customers']:,} customers and "
            f"{size['orders']:,} orders (seeder version {size['version']}; this one is "
            f"{SEED_VERSION})"
        )
        if not reseed:
            raise SeededDifferently(
                f"{held}. Ask for that size, use another database, or add --reseed to empty "
                "it and seed it again."
            )
        log(f"{held}: emptying it.")
        call_command("flush", interactive=False, verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {MARKER_TABLE}")
    elif Customer.objects.exists() or Order.objects.exists():
        raise NotABenchDatabase(
            "The database holds customers or orders that bench/run.py did not seed; it will not "
            "touch them. Point DATABASE_URL at an empty database of its own."
        )
    log(f"Seeding {customers:,} customers and {orders:,} orders ...")
    started = time.monotonic()
    with transaction.atomic(using=connection.alias):
        size = seed(connection, customers, orders)
        size["seconds"] = round(time.monotonic() - started, 1)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {MARKER_TABLE} (size text NOT NULL)")
            cursor.execute(f"INSERT INTO {MARKER_TABLE} (size) VALUES (%s)", [json.dumps(size)])  # noqa: S608 -- a constant
    analyze(connection)
    log(
        f"Seeded {size['customers']:,} customers, {size['visitor_ids']:,} visitor ids, "
        f"{size['orders']:,} orders and {size['items']:,} items in {size['seconds']:.0f} s "
        f"(then ANALYZE: {time.monotonic() - started - size['seconds']:.0f} s)."
    )
    return size, False


def analyze(connection):
    """Fresh statistics for the planner, and on PostgreSQL a visibility map for index-only
    scans: a freshly loaded table has neither until autovacuum gets round to it."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def seed(connection, customers, orders, seed=20250308):
    """Write the data into the current transaction; return its size record."""
    rng = random.Random(seed)  # noqa: S311 -- test data, not secrets
    now = timezone.now()
    counts = plan_order_counts(rng, customers, orders)
    first = {model: _next_id(connection, model) for model in _MODELS}
    tags = [Tag.objects.get_or_create(name=name)[0].pk for name in TAGS]
    people = _write_customers(connection, rng, now, first, customers, tags)
    visitor_ids = _write_visitor_ids(connection, rng, now, first, people)
    _write_notes(connection, rng, now, first[Note], people, counts)
    baskets = _baskets(rng)
    chosen = _write_orders(connection, rng, now, first[Order], people, counts, baskets)
    items = _write_items(connection, first[Order], first[OrderItem], chosen, baskets)
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), _MODELS):
            cursor.execute(statement)
    heavy = [people["ids"][i] for i, n in enumerate(counts) if n >= HEAVY_ORDERS[0]]
    return {
        "version": SEED_VERSION,
        "customers": customers,
        "orders": orders,
        "items": items,
        "visitor_ids": visitor_ids,
        "heavy_customer_ids": heavy,
        "median_orders_per_customer": median(counts),
        "max_regular_orders": max(n for n in counts if n < HEAVY_ORDERS[0]),
    }


def plan_order_counts(rng, customers, orders):
    """How many orders each customer has, summing to `orders` exactly."""
    heavy_count = max(1, customers // HEAVY_SHARE)
    heavy = [rng.randint(*HEAVY_ORDERS) for _ in range(heavy_count)]
    regular = customers - heavy_count
    rest = orders - sum(heavy)
    if regular < 1 or rest < regular:
        raise ValueError(
            f"{customers:,} customers and {orders:,} orders cannot have the skew: "
            f"{heavy_count} customer(s) get {sum(heavy):,} orders, and the other customers need "
            "at least one order each on average. Ask for more orders."
        )
    weights = [rng.lognormvariate(0, REGULAR_SIGMA) for _ in range(regular)]
    scale = rest / sum(weights)
    counts = [min(REGULAR_MAX, int(w * scale)) for w in weights]
    # Rounding down and the cap leave orders over: hand them out one by one.
    missing = rest - sum(counts)
    while missing:
        i = rng.randrange(regular)
        if counts[i] < REGULAR_MAX:
            counts[i] += 1
            missing -= 1
    for position, n in zip(sorted(rng.sample(range(customers), heavy_count)), heavy, strict=True):
        counts.insert(position, n)
    return counts


_MODELS = [Customer, Customer.tags.through, VisitorIdentity, Note, Order, OrderItem]


def _next_id(connection, model):
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(model._meta.db_table)
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608 -- a model's table
        return cursor.fetchone()[0]


@contextmanager
def _rows(connection, model):
    """A function taking one row (a tuple in the order of the model's concrete fields)."""
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                yield copy.write_row
            return
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 -- a model's table
        batch = []

        def write(row):
            batch.append(
                [f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)]
            )
            if len(batch) == 2000:
                cursor.executemany(sql, batch)
                batch.clear()

        yield write
        if batch:
            cursor.executemany(sql, batch)


def _write_customers(connection, rng, now, first, customers, tags):
    levels, level_weights = zip(*LEVEL_WEIGHTS, strict=True)
    people = {"ids": [], "names": [], "phones": [], "addresses": []}
    first_id, first_tag_row = first[Customer], first[Customer.tags.through]
    tag_rows = []
    with _rows(connection, Customer) as write:
        for n in range(customers):
            pk = first_id + n
            surname = rng.choice(SURNAMES)
            name = surname + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
            phone = "1" + rng.choice("3456789") + "".join(rng.choices("0123456789", k=9))
            city, street = rng.choice(CITIES)
            created = now - timedelta(days=rng.randrange(HISTORY_DAYS, HISTORY_DAYS + 400))
            write(
                (
                    pk,
                    name,
                    rng.choice(("", "", name[-1] + name[-1], "小" + name[-1], "阿" + surname)),
                    rng.choice((Customer.Gender.MALE, Customer.Gender.FEMALE)),
                    phone,
                    f"{rng.choice(PINYIN)}{pk:06d}@{rng.choice(MAIL_DOMAINS)}",
                    f"U{pk:08d}",
                    rng.choice(COMPANIES),
                    f"{city}{street}{rng.randrange(1, 30)}栋{rng.randrange(101, 2600)}室",
                    str(rng.randrange(10_000_000, 2_999_999_999)) if rng.random() < 0.5 else "",
                    f"wx_{rng.choice(PINYIN)}{rng.randrange(100, 9999)}"
                    if rng.random() < 0.6
                    else "",
                    rng.choices(levels, level_weights)[0],
                    rng.choice(REMARKS),
                    created,
                    now - timedelta(days=rng.randrange(0, 30)),
                    rng.getrandbits(62),  # revision
                )
            )
            for tag in rng.sample(tags, k=rng.choice((0, 1, 1, 2))):
                tag_rows.append((first_tag_row + len(tag_rows), pk, tag))
            people["ids"].append(pk)
            people["names"].append(name)
            people["phones"].append(phone)
            people["addresses"].append(city + street)
    with _rows(connection, Customer.tags.through) as write:
        for row in tag_rows:
            write(row)
    return people


def _write_visitor_ids(connection, rng, now, first, people):
    channels, channel_weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
    sizes, size_weights = zip(*VISITOR_IDS_PER_CUSTOMER.items(), strict=True)
    taken = set()
    pk = first[VisitorIdentity]
    with _rows(connection, VisitorIdentity) as write:
        for customer_id in people["ids"]:
            wanted = rng.choices(sizes, size_weights)[0]
            mine = []
            while len(mine) < wanted:
                channel = rng.choices(channels, channel_weights)[0]
                if channel not in mine:
                    mine.append(channel)
            for channel in mine:
                im_id = visitor_id(rng, channel, customer_id)
                # Random ids (Weibo's ten digits above all) can collide over 100,000 customers.
                while im_id in taken:
                    im_id = visitor_id(rng, channel, customer_id)
                taken.add(im_id)
                seen = now - timedelta(days=rng.randrange(0, 200), minutes=rng.randrange(1440))
                write(
                    (
                        pk,
                        im_id,
                        customer_id,
                        channel,
                        VisitorIdentity.BoundVia.STAFF,
                        seen - timedelta(days=rng.randrange(0, 300)),
                        seen,
                    )
                )
                pk += 1
    return len(taken)


def _write_notes(connection, rng, now, first_id, people, counts):
    pk = first_id
    with _rows(connection, Note) as write:
        for customer_id, order_count in zip(people["ids"], counts, strict=True):
            if order_count >= HEAVY_ORDERS[0]:
                how_many = 5
            elif rng.random() < NOTE_SHARE:
                how_many = rng.randint(1, 3)
            else:
                continue
            for _ in range(how_many):
                agent = rng.randrange(50)
                write(
                    (
                        pk,
                        customer_id,
                        rng.choice(NOTE_BODIES),
                        None,
                        f"{AGENT_NAMES[agent % len(AGENT_NAMES)]}{agent:02d}",
                        f"{rng.getrandbits(64):016x}",
                        f"{rng.getrandbits(128):032x}",
                        now - timedelta(days=rng.randrange(0, 400), minutes=rng.randrange(1440)),
                    )
                )
                pk += 1


def _baskets(rng):
    """What an order can hold: BASKETS_PER_SIZE baskets of each size, drawn once, so that the
    items of a million orders need not be kept in memory between the two COPYs."""
    baskets = []
    for size in ITEMS_PER_ORDER:
        for _ in range(BASKETS_PER_SIZE):
            lines = [
                (product, sku, price, rng.choice((1, 1, 1, 2, 3)))
                for product, sku, price in rng.sample(PRODUCTS, k=size)
            ]
            baskets.append((lines, sum((price * q for *_, price, q in lines), Decimal("0.00"))))
    return baskets


def _status(rng, age):
    if age < timedelta(days=1):
        return rng.choices(("pending", "paid", "shipped"), (30, 50, 20))[0]
    if age < timedelta(days=7):
        return rng.choices(("paid", "shipped", "completed", "cancelled"), (20, 60, 15, 5))[0]
    return rng.choices(("completed", "cancelled", "refunded"), (85, 7, 8))[0]


def _write_orders(connection, rng, now, first_id, people, counts, baskets):
    """Write the orders oldest first; return each order's basket (by position)."""
    horizon = HISTORY_DAYS * 86400
    owners = array("I")
    ages = array("I")
    for position, n in enumerate(counts):
        for _ in range(n):
            owners.append(position)
            ages.append(rng.randrange(horizon))
    by_time = sorted(range(len(ages)), key=ages.__getitem__, reverse=True)
    sizes, size_weights = zip(*ITEMS_PER_ORDER.items(), strict=True)
    chosen = array("H")
    sequence = [0] * len(counts)
    fees = (Decimal("0.00"), Decimal("0.00"), Decimal("12.00"))
    discounts = (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("10.00"))
    with _rows(connection, Order) as write:
        for offset, index in enumerate(by_time):
            owner = owners[index]
            age = timedelta(seconds=ages[index])
            placed = now - age
            status = _status(rng, age)
            basket = (rng.choices(sizes, size_weights)[0] - 1) * BASKETS_PER_SIZE + rng.randrange(
                BASKETS_PER_SIZE
            )
            chosen.append(basket)
            fee, discount = rng.choice(fees), rng.choice(discounts)
            paid = placed + timedelta(minutes=rng.randrange(1, 90)) if status != "pending" else None
            shipped = None
            carrier = tracking = ""
            if status in ("shipped", "completed", "refunded"):
                shipped = min(paid + timedelta(hours=rng.randrange(3, 72)), now)
                carrier, prefix = rng.choice(CARRIERS)
                tracking = f"{prefix}{rng.randrange(10**11, 10**12)}"
            customer_id = people["ids"][owner]
            sequence[owner] += 1
            write(
                (
                    first_id + offset,
                    f"{placed:%Y%m%d}{customer_id:06d}{sequence[owner]:03d}",
                    customer_id,
                    status,
                    max(baskets[basket][1] + fee - discount, Decimal("0.00")),
                    fee,
                    discount,
                    "CNY",
                    placed,
                    paid,
                    shipped,
                    people["names"][owner],
                    people["phones"][owner],
                    people["addresses"][owner],
                    carrier,
                    tracking,
                    "",
                    placed,
                    shipped or paid or placed,
                )
            )
    return chosen


def _write_items(connection, first_order, first_item, chosen, baskets):
    pk = first_item
    with _rows(connection, OrderItem) as write:
        for offset, basket in enumerate(chosen):
            order_id = first_order + offset
            for product, sku, price, quantity in baskets[basket][0]:
                write((pk, order_id, product, sku, quantity, price))
                pk += 1
    return pk - first_item


def write_panel_history(connection, count, now=None, days=30, seed=20251127):
    """`count` panel loads (audit events) spread evenly over the last `days` days up to `now`,
    as an office's month of conversations leaves them: three in four found a customer, on the
    seeded visitors' channels, by the usual agents. bench/run.py writes them after emptying the
    audit log, so that the admin's dashboard is measured against a log of that size."""
    from iframe_panel.models import AuditEvent

    rng = random.Random(seed)  # noqa: S311 -- test data, not secrets
    now = now or timezone.now()
    visitors = list(VisitorIdentity.objects.values_list("visitor_im_id", "channel", "customer_id"))
    if not visitors or not count:
        return
    first_id = _next_id(connection, AuditEvent)
    span = days * 86400
    agents = [(f"{name}{n:02d}", f"{n:016x}") for n, name in enumerate(AGENT_NAMES * 6)]
    with _rows(connection, AuditEvent) as write:
        for n in range(count):
            visitor, channel, customer = rng.choice(visitors)
            found = rng.random() < 0.75
            agent, agent_id = rng.choice(agents)
            write(
                (
                    first_id + n,
                    now - timedelta(seconds=span * (count - n) / count),
                    AuditEvent.Action.VIEW,
                    AuditEvent.Outcome.OK if found else AuditEvent.Outcome.UNKNOWN,
                    visitor if found else f"webim-visitor-H{n:012d}",
                    customer if found else None,
                    agent,
                    agent_id,
                    "",
                    "107937",
                    f"{rng.getrandbits(128):032x}",
                    "127.0.0.1",
                    "",
                    channel if found else VisitorIdentity.Channel.WEB,
                )
            )
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [AuditEvent]):
            cursor.execute(statement)
        # What autovacuum does after so many new rows: without statistics the planner takes
        # the month for a few rows and reads the whole log for the dashboard's day.
        table = connection.ops.quote_name(AuditEvent._meta.db_table)
        cursor.execute(f"ANALYZE {table}")

"""The benchmark harness's own parts (bench/): the reference views it compares the panel with,
its seeder and its arithmetic, so that `make bench` cannot rot unnoticed between runs."""

import random
import re
from collections import Counter
from statistics import median

import pytest
from django.db import connection
from django.db.models import Count, Max, Min

from bench import seed
from bench.run import summarize
from customers.management.commands.seed_demo import SURNAMES
from customers.models import Customer, VisitorIdentity
from orders.models import Order, OrderItem

SAMPLE = "/bench/seed-sample/"


@pytest.fixture
def no_marker():
    """The seeder's size record is not a Django table: nothing else removes it."""
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {seed.MARKER_TABLE}")


@pytest.mark.urls("bench.urls")
def test_it_serves_the_floor_through_the_middleware(client):
    response = client.get("/bench/floor/")

    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["X-Request-ID"]
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.urls("bench.urls")
def test_it_looks_the_visitor_up_in_one_query(client, visitor, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get(SAMPLE, {"visitorImId": visitor.visitor_im_id, "easemobId": "1"})

    assert response.status_code == 200
    assert "张伟" in response.text
    assert "13800138000" in response.text
    assert "zhangwei@example.com" in response.text


@pytest.mark.urls("bench.urls")
def test_it_escapes_what_it_shows(client, customer, visitor):
    customer.name = "<script>alert(1)</script>"
    customer.save()

    response = client.get(SAMPLE, {"visitorImId": visitor.visitor_im_id})

    assert "<script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


@pytest.mark.urls("bench.urls")
def test_it_answers_404_for_an_unknown_visitor(client, visitor):
    response = client.get(SAMPLE, {"visitorImId": "webim-visitor-NOBODY"})

    assert response.status_code == 404


@pytest.mark.urls("bench.urls")
def test_it_keeps_the_apps_urls(client, visitor, settings):
    response = client.get(
        f"/panel/{settings.PANEL_TOKEN}/",
        {"visitorImId": visitor.visitor_im_id, "easemobId": "1", "to": "2", "lang": "zh"},
    )

    assert response.status_code == 200
    assert "张伟" in response.text


def test_it_seeds_the_skew(db):
    size = seed.seed(connection, customers=300, orders=1500)

    assert Customer.objects.count() == 300
    assert Order.objects.count() == 1500
    assert OrderItem.objects.count() == size["items"]
    orders = sorted(
        Customer.objects.annotate(n=Count("orders")).values_list("n", flat=True), reverse=True
    )
    assert orders[0] >= 300  # one in a thousand (at least one) has hundreds
    assert orders[1] < 300
    assert median(orders) <= 4
    items = Order.objects.annotate(n=Count("items")).aggregate(low=Min("n"), high=Max("n"))
    assert (items["low"], items["high"]) == (1, 4)
    visitors = VisitorIdentity.objects.count()
    assert 1.3 * 300 <= visitors <= 1.7 * 300
    channels = Counter(VisitorIdentity.objects.values_list("channel", flat=True))
    assert len(channels) == 5
    assert all(name[0] in SURNAMES for name in Customer.objects.values_list("name", flat=True))
    order = Order.objects.order_by("?").first()
    assert re.fullmatch(r"\d{17}", order.number)
    assert order.total == order.recalculate_total(save=False)
    # Written in the order they were placed, as a shop's table fills.
    placed = list(Order.objects.order_by("pk").values_list("placed_at", flat=True))
    assert placed == sorted(placed)


def test_it_keeps_sequences_past_the_seeded_rows(db):
    seed.seed(connection, customers=300, orders=1500)

    customer = Customer.objects.create(name="新客户")
    order = Order.objects.create(number="NEW-1", customer=customer)

    assert customer.pk == 301
    assert order.pk == 1501


def test_it_refuses_sizes_without_room_for_the_skew():
    with pytest.raises(ValueError, match="Ask for more orders"):
        seed.plan_order_counts(random.Random(1), customers=100, orders=400)  # noqa: S311


@pytest.mark.django_db(transaction=True)
def test_it_reuses_a_database_seeded_at_that_size(no_marker):
    first, reused_first = seed.ensure_seeded(connection, 300, 1500, log=lambda _: None)
    Order.objects.filter(pk=1).delete()

    again, reused_again = seed.ensure_seeded(connection, 300, 1500, log=lambda _: None)

    assert (reused_first, reused_again) == (False, True)
    assert again == first
    assert Order.objects.count() == 1499


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_replace_a_seed_of_another_size(no_marker):
    seed.ensure_seeded(connection, 300, 1500, log=lambda _: None)

    with pytest.raises(seed.SeededDifferently, match="--reseed"):
        seed.ensure_seeded(connection, 400, 2000, log=lambda _: None)

    assert (Customer.objects.count(), Order.objects.count()) == (300, 1500)


@pytest.mark.django_db(transaction=True)
def test_it_reseeds_at_another_size_when_asked(no_marker):
    seed.ensure_seeded(connection, 300, 1500, log=lambda _: None)

    size, reused = seed.ensure_seeded(connection, 400, 2000, reseed=True, log=lambda _: None)

    assert not reused
    assert (Customer.objects.count(), Order.objects.count()) == (400, 2000)
    assert seed.seeded_size(connection) == size


def test_it_refuses_a_database_it_did_not_seed(customer):
    with pytest.raises(seed.NotABenchDatabase):
        seed.ensure_seeded(connection, 300, 1500, log=lambda _: None)

    assert Customer.objects.get() == customer


def test_it_merges_the_rounds_of_a_scenario():
    rounds = [
        {
            "requests": 90,
            "duration_us": 1_000_000,
            "connect": 0,
            "read": 1,
            "write": 0,
            "timeout": 0,
            "histogram": [[1000, 80], [2000, 10]],
            "statuses": Counter({"200": 89, "500": 1}),
            "cpu_s": 0.5,
        },
        {
            "requests": 10,
            "duration_us": 1_000_000,
            "connect": 0,
            "read": 0,
            "write": 0,
            "timeout": 1,
            "histogram": [[2000, 5], [50_000, 5]],
            "statuses": Counter({"200": 9, "302": 1}),
            "cpu_s": 0.5,
        },
    ]

    figures = summarize(rounds, sql=[9, 3, 7])

    assert figures["rps"] == 50
    assert (figures["p50_ms"], figures["p90_ms"], figures["p99_ms"]) == (1, 2, 50)
    assert figures["errors"] == 3  # the 500 and two socket errors; a redirect is no error
    assert (figures["sql_first"], figures["sql"], figures["sql_render"]) == (9, 3, 7)
    assert figures["cpu_ms"] == 10  # over the 100 requests gunicorn answered

"""Copy a reply: a ready sentence per order, from the staff's templates per status and
language, with safe placeholders; an edit shows on the next panel load."""

import html
import re
from datetime import datetime

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import replies
from orders.models import Order, ReplyTemplate

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def shipped(visitor, customer, make_order):
    order = make_order(customer, "SO20261123001", status=Order.Status.SHIPPED)
    order.carrier = "顺丰"
    order.tracking_number = "SF1234567890"
    order.paid_at = timezone.make_aware(datetime(2026, 11, 22, 20, 0))
    order.shipped_at = timezone.make_aware(datetime(2026, 11, 23, 9, 30))
    order.save()
    return order


def load(lang="zh"):
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(PANEL, {"visitorImId": VISITOR, "lang": lang})
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def reply_of(page, number):
    details = re.search(rf'data-order="{number}">(.*?)</summary>', page, re.S).group(1)
    found = re.search(r'class="link copy reply" data-copy="([^"]*)"', details)
    return html.unescape(found.group(1)) if found else None


def test_every_status_has_a_default_in_both_languages(db):
    pairs = set(ReplyTemplate.objects.values_list("status", "language"))
    assert pairs == {(s, lang) for s in Order.Status.values for lang in ("zh-hans", "en")}


def test_a_shipped_order_gets_its_sentence_in_chinese(shipped):
    page, _ = load("zh")
    assert reply_of(page, "SO20261123001") == (
        "您的订单 SO20261123001 已于 11月23日 发货，顺丰 SF1234567890。"
    )
    assert ">复制回复<" in page


def test_and_in_english(shipped):
    page, _ = load("en")
    assert reply_of(page, "SO20261123001") == (
        "Your order SO20261123001 shipped on Nov 23 with 顺丰, tracking number SF1234567890."
    )


def test_amounts_and_status_are_filled_in(shipped):
    ReplyTemplate.objects.filter(status="shipped", language="en").update(
        text="{status}: {total} for {items}, placed {placed_date}, paid {paid_date}."
    )
    page, _ = load("en")
    placed = timezone.localtime(shipped.placed_at).strftime("%b %-d")
    assert reply_of(page, "SO20261123001") == (
        f"Shipped: ¥399.00 for 无线蓝牙耳机 Pro × 1, placed {placed}, paid Nov 22."
    )


def test_an_edit_in_the_admin_shows_on_the_next_load(shipped, staff_client):
    first, miss = load("zh")
    again, hit = load("zh")
    assert hit < miss
    assert reply_of(again, "SO20261123001") == reply_of(first, "SO20261123001")
    template = ReplyTemplate.objects.get(status="shipped", language="zh-hans")
    response = staff_client.post(
        f"/admin/orders/replytemplate/{template.pk}/change/",
        {
            "status": "shipped",
            "language": "zh-hans",
            "text": "亲，{number} 已经发出啦：{carrier} {tracking_number}",
        },
    )
    assert response.status_code == 302
    page, _ = load("zh")
    assert reply_of(page, "SO20261123001") == "亲，SO20261123001 已经发出啦：顺丰 SF1234567890"
    # The English sentence comes from its own template, unchanged.
    assert "shipped on Nov 23" in reply_of(load("en")[0], "SO20261123001")


def test_a_deleted_template_leaves_no_button(shipped):
    load("zh")
    ReplyTemplate.objects.filter(status="shipped", language="zh-hans").delete()
    page, _ = load("zh")
    assert reply_of(page, "SO20261123001") is None
    assert reply_of(load("en")[0], "SO20261123001")


def test_replies_cost_no_statement(shipped):
    _, with_replies = load("zh")
    ReplyTemplate.objects.all().delete()
    cache.clear()
    _, without = load("zh")
    assert with_replies == without == 7


def test_values_are_escaped_in_the_page(shipped):
    shipped.carrier = '"><script>alert(1)</script>'
    shipped.save()
    page, _ = load("zh")
    assert "<script>alert(1)" not in page
    assert '"><script>alert(1)</script>' in reply_of(page, "SO20261123001")


# --- safe placeholders ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{number.__class__}",
        "{number[0]}",
        "{total!r}",
        "{total:>20}",
        "{customer}",
        "{% if x %}",
        "{}",
        "{0}",
        "订单 {number",
        "订单 number}",
    ],
)
def test_it_refuses_anything_but_the_named_placeholders(text):
    with pytest.raises(ValidationError):
        replies.validate(text)


def test_braces_can_be_written_doubled(shipped):
    assert replies.render("{{{number}}}", shipped, "en") == "{SO20261123001}"


def test_a_broken_template_in_the_database_renders_nothing(shipped):
    assert replies.render("{number.__class__.__mro__}", shipped, "en") == ""


def test_the_admin_refuses_an_unknown_placeholder(staff_client, db):
    template = ReplyTemplate.objects.get(status="paid", language="en")
    response = staff_client.post(
        f"/admin/orders/replytemplate/{template.pk}/change/",
        {"status": "paid", "language": "en", "text": "Paid {number.__init__}"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    assert "Unknown placeholder {number.__init__}" in response.content.decode()
    template.refresh_from_db()
    assert "__init__" not in template.text


def test_the_admin_shows_an_example(staff_client, shipped):
    template = ReplyTemplate.objects.get(status="shipped", language="zh-hans")
    response = staff_client.get(f"/admin/orders/replytemplate/{template.pk}/change/")
    assert "您的订单 SO20261123001 已于 11月23日 发货" in response.content.decode()

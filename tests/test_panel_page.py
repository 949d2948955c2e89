from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer, Note, Tag, VisitorIdentity
from iframe_panel.models import VisitorInfo
from orders.models import Order, OrderItem

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


@pytest.fixture
def gold_customer(customer):
    customer.level = Customer.Level.GOLD
    customer.save()
    customer.tags.add(Tag.objects.create(name="老客户"), Tag.objects.create(name="VIP"))
    return customer


def load(client, visitor_im_id=VISITOR, lang="en", **params):
    r = client.get(PANEL, {"visitorImId": visitor_im_id, "lang": lang, **params})
    assert r.status_code == 200
    return r.content.decode()


def bulk_orders(customer, count, prefix):
    """`count` orders of two items each, newest first, without per-row saves."""
    now = timezone.now()
    orders = Order.objects.bulk_create(
        Order(
            number=f"{prefix}{i:08d}",
            customer=customer,
            status=Order.Status.COMPLETED,
            total=Decimal("20.00"),
            placed_at=now - timedelta(hours=i),
        )
        for i in range(count)
    )
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product_name=name, unit_price=Decimal("10.00"))
        for order in orders
        for name in ("数据线", "充电头")
    )


# --- a known customer -------------------------------------------------------------------------


def test_it_shows_the_customer(client, visitor, gold_customer):
    html = load(client)
    assert "<title>张伟</title>" in html
    assert "张伟" in html
    assert "(小伟)" in html
    assert ">Gold<" in html
    assert '<span class="tag">VIP</span>' in html
    assert '<span class="tag">老客户</span>' in html
    assert "杭州云帆科技有限公司" in html
    assert "杭州市西湖区文三路478号" in html
    assert "U1001" in html
    assert "Unknown visitor" not in html


def test_it_masks_the_phone(client, visitor):
    html = load(client)
    assert "138****8000" in html
    assert "13800138000" not in html


def test_it_masks_the_email(client, visitor):
    html = load(client)
    assert "zh***@example.com" in html
    assert "zhangwei@example.com" not in html


def test_it_offers_to_reveal_phone_and_email(client, visitor):
    html = load(client)
    assert 'data-field="phone"' in html
    assert 'data-field="email"' in html


def test_it_leaves_out_empty_fields(client, db):
    customer = Customer.objects.create(name="赵敏", external_id="U3003")
    VisitorIdentity.objects.create(visitor_im_id=VISITOR, customer=customer)
    html = load(client)
    assert "赵敏" in html
    assert 'data-field="phone"' not in html
    assert 'data-field="email"' not in html
    assert ">Company<" not in html
    assert "No orders yet." in html


def test_it_shows_the_order_summary(client, visitor, customer, make_order):
    make_order(customer, "SO2024000001", items=(("耳机", 2, "100.00"),))
    make_order(customer, "SO2024000002", status=Order.Status.SHIPPED)
    make_order(customer, "SO2024000003", status=Order.Status.CANCELLED)
    last = make_order(customer, "SO2024000004", status=Order.Status.PENDING)
    html = load(client)
    summary = html[html.index('id="order-summary"') : html.index('id="orders"')]
    assert '<span class="stat-value">4</span>' in summary
    # Spent: paid + shipped (200.00 + 399.00); cancelled and unpaid orders do not count.
    assert "¥599.00" in summary
    assert timezone.localtime(last.placed_at).strftime("%Y-%m-%d") in summary


def test_it_shows_recent_orders_with_items(client, visitor, customer, make_order):
    make_order(
        customer,
        "SO2024000001",
        status=Order.Status.SHIPPED,
        items=(("无线蓝牙耳机 Pro", 1, "399.00"), ("耳机保护套", 2, "29.90")),
    )
    html = load(client)
    assert 'data-order="SO2024000001"' in html
    assert ">SO2024000001<" in html
    assert '<span class="status status-shipped">Shipped</span>' in html
    assert "无线蓝牙耳机 Pro" in html
    assert "耳机保护套" in html
    assert "¥458.80" in html


def test_it_shows_shipment_details(client, visitor, customer, make_order):
    order = make_order(customer, "SO2024000001", status=Order.Status.SHIPPED)
    order.carrier = "顺丰速运"
    order.tracking_number = "SF1234567890"
    order.save()
    html = load(client)
    assert "顺丰速运" in html
    assert "SF1234567890" in html


def test_it_shows_the_ten_latest_orders(client, visitor, customer):
    bulk_orders(customer, 12, "SO")
    html = load(client)
    assert '<span class="stat-value">12</span>' in html
    assert html.count('<details class="order"') == 10
    assert "SO00000000" in html
    assert "SO00000009" in html
    assert "SO00000010" not in html
    # Newest first.
    assert html.index("SO00000000") < html.index("SO00000009")


def test_it_shows_the_latest_notes(client, visitor, customer):
    now = timezone.now()
    for days, body in [(4, "最早的备注"), (3, "要求开发票"), (2, "喜欢顺丰"), (1, "投诉过物流")]:
        Note.objects.create(
            customer=customer, body=body, agent_name="王小明", created_at=now - timedelta(days=days)
        )
    html = load(client)
    notes = html[html.index('id="notes"') :]
    assert "投诉过物流" in notes
    assert "喜欢顺丰" in notes
    assert "要求开发票" in notes
    assert "最早的备注" not in html
    assert "王小明" in notes
    # Newest first.
    assert notes.index("投诉过物流") < notes.index("要求开发票")


def test_it_shows_no_note_list_when_there_are_none(client, visitor):
    html = load(client)
    assert '<ul class="notes">' not in html


def test_it_shows_the_visitor_id_and_channel_of_a_customer(client, visitor):
    html = load(client)
    assert f'<span class="mono">{VISITOR}</span> · Web' in html


def test_it_says_when_a_visitor_was_linked_just_now(client, customer):
    html = load(client, customUserId="U1001")
    assert "This visitor was linked to the customer just now" in html
    assert "customUserId matched the external ID" in html


# --- an unknown visitor -----------------------------------------------------------------------


def test_it_shows_an_unknown_visitor(client, db):
    html = load(client, "webim-visitor-UNKNOWN0001", name="Jack", age="40")
    assert "<title>Unknown visitor</title>" in html
    assert "No customer is linked to this visitor yet." in html
    assert '<dd class="mono">webim-visitor-UNKNOWN0001</dd>' in html
    assert "<dd>Web</dd>" in html
    assert ">Jack<" in html
    assert ">40<" in html
    assert 'id="customer"' not in html
    assert 'id="orders"' not in html


def test_it_shows_no_customer_data_to_an_unknown_visitor(client, customer, make_order):
    make_order(customer, "SO2024000001")
    html = load(client, "webim-visitor-UNKNOWN0001")
    assert "张伟" not in html
    assert "SO2024000001" not in html


# --- the session ------------------------------------------------------------------------------


def test_it_shows_the_session_context(client, visitor):
    html = load(
        client,
        agentName="王小明",
        agentId="agent-7",
        ssid="3f6c7a2e-1b9d-4c1e-9f2a-5d8e7c6b4a30",
        tenantId="107937",
        originType="webim",
        techChannelName="官网",
    )
    session = html[html.index('id="session"') :]
    assert "<dt>Agent</dt><dd>王小明</dd>" in session
    assert "<dt>Agent ID</dt><dd>agent-7</dd>" in session
    assert "<dt>Session ID</dt><dd>3f6c7a2e-1b9d-4c1e-9f2a-5d8e7c6b4a30</dd>" in session
    assert "<dt>Tenant ID</dt><dd>107937</dd>" in session
    assert "<dt>Channel name</dt><dd>官网</dd>" in session


def test_it_shows_call_params_as_session_context(client, db):
    html = load(client, "caller-session-1", callId="call-42", calleeNumber="4008001234")
    session = html[html.index('id="session"') :]
    assert "<dt>callId</dt><dd>call-42</dd>" in session
    assert "<dt>calleeNumber</dt><dd>4008001234</dd>" in session


def test_it_leaves_out_the_session_without_session_params(client, visitor):
    html = load(client)
    assert 'id="session"' not in html


# --- languages --------------------------------------------------------------------------------


def test_it_speaks_english(client, visitor, customer, make_order):
    make_order(customer, "SO2024000001")
    html = load(client, lang="en")
    assert '<html lang="en"' in html
    for text in ["Recent orders", "Orders", "Spent", "Last order", "Phone", "Email", "Show"]:
        assert text in html
    assert ">Paid<" in html


def test_it_speaks_chinese_by_default(client, visitor, gold_customer):
    r = client.get(PANEL, {"visitorImId": VISITOR})
    assert r.status_code == 200
    html = r.content.decode()
    assert '<html lang="zh-hans"' in html
    assert 'data-lang="zh"' in html
    assert "张伟" in html
    assert ">黄金会员<" in html
    assert "最近订单" in html
    assert "暂无订单。" in html


def test_an_unknown_visitor_in_chinese(client, db):
    r = client.get(PANEL, {"visitorImId": "webim-visitor-UNKNOWN0001", "name": "Jack"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "<title>未识别的访客</title>" in html
    assert "访客端推送的信息" in html


def test_it_speaks_chinese_for_zh_cn(client, visitor):
    html = load(client, lang="zh-CN")
    assert '<html lang="zh-hans"' in html
    assert 'data-lang="zh"' in html


def test_it_carries_the_language_to_its_actions(client, visitor):
    html = load(client, lang="en-US")
    assert 'data-lang="en"' in html


# --- cost -------------------------------------------------------------------------------------


def queries_for(client, visitor_im_id):
    with CaptureQueriesContext(connection) as queries:
        r = client.get(PANEL, {"visitorImId": visitor_im_id, "agentName": "Amy", "name": "Jack"})
    assert r.status_code == 200
    return len(queries)


def test_its_query_count_does_not_grow_with_orders(client, db):
    few = Customer.objects.create(name="少", phone="13900000001")
    many = Customer.objects.create(name="多", phone="13900000002")
    vip = Tag.objects.create(name="VIP")
    for customer in (few, many):
        customer.tags.add(vip)
        Note.objects.create(customer=customer, body="note")
    VisitorIdentity.objects.create(visitor_im_id="visitor-few", customer=few)
    VisitorIdentity.objects.create(visitor_im_id="visitor-many", customer=many)
    bulk_orders(few, 3, "FEW")
    bulk_orders(many, 300, "MANY")

    # A first load creates the visitor's cached info; compare the steady state.
    queries_for(client, "visitor-few")
    queries_for(client, "visitor-many")
    assert queries_for(client, "visitor-few") == queries_for(client, "visitor-many")


def test_it_needs_at_most_8_queries(client, visitor, customer, django_assert_max_num_queries):
    bulk_orders(customer, 300, "SO")
    Note.objects.create(customer=customer, body="note")
    customer.tags.add(Tag.objects.create(name="VIP"))
    with django_assert_max_num_queries(8):
        r = client.get(PANEL, {"visitorImId": VISITOR, "agentName": "Amy"})
    assert r.status_code == 200
    assert '<span class="stat-value">300</span>' in r.content.decode()


def test_its_content_language_follows_lang_not_the_browser(client, visitor):
    response = client.get(
        "/panel/panel-token-for-tests-7Qm2x/",
        {"visitorImId": visitor.visitor_im_id, "lang": "en"},
        HTTP_ACCEPT_LANGUAGE="zh-CN",
    )
    assert response["Content-Language"] == "en"
    assert '<html lang="en"' in response.content.decode()


def statements_of(client, query):
    """Every SQL statement a load sends; Django logs BEGIN, COMMIT and savepoints too."""
    with CaptureQueriesContext(connection) as queries:
        r = client.get(PANEL, query)
    assert r.status_code == 200
    return [q["sql"] for q in queries]


@pytest.mark.django_db(transaction=True)
def test_a_first_load_with_pushed_parameters_needs_at_most_10_statements(client):
    customer = Customer.objects.create(name="张伟", phone="13800138000")
    VisitorIdentity.objects.create(
        visitor_im_id=VISITOR, customer=customer, last_seen_at=timezone.now() - timedelta(days=1)
    )
    customer.tags.add(Tag.objects.create(name="VIP"))
    Note.objects.create(customer=customer, body="note")
    bulk_orders(customer, 30, "SO")
    statements = statements_of(
        client,
        {"visitorImId": VISITOR, "name": "Jack", "age": "40", "agentName": "Amy"},
    )
    assert len(statements) <= 10, statements
    # The same visitor pushing again: the merge is one UPDATE, the last-seen time is fresh.
    again = statements_of(client, {"visitorImId": VISITOR, "sex": "man"})
    assert len(again) <= 8, again
    assert VisitorInfo.objects.get().params == {"name": "Jack", "age": "40", "sex": "man"}


@pytest.mark.django_db(transaction=True)
def test_a_known_visitors_panel_needs_7_statements(client):
    customer = Customer.objects.create(name="张伟", phone="13800138000")
    VisitorIdentity.objects.create(visitor_im_id=VISITOR, customer=customer)
    bulk_orders(customer, 300, "SO")
    assert len(statements_of(client, {"visitorImId": VISITOR})) == 7

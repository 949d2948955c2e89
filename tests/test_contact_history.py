"""Contact history: every panel load with an Easemob session id (ssid) records that
conversation once; the panel shows the customer's earlier ones, the admin a timeline."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer, FollowUp, Note, VisitorIdentity
from iframe_panel.models import Conversation
from tests.test_panel_page import bulk_orders

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"
WECHAT = "oVXyZ1a2B3c4D5e6F7g8H9i0J1kL"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


def load(client, ssid="", visitor_im_id=VISITOR, agent="小美", lang="en", **params):
    query = {"visitorImId": visitor_im_id, "lang": lang, "agentName": agent, **params}
    if ssid:
        query["ssid"] = ssid
    with CaptureQueriesContext(connection) as queries:
        response = client.get(PANEL, query)
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in queries]


def history(page):
    start = page.find('id="history"')
    return page[start : page.index("</section>", start)] if start != -1 else ""


def test_a_load_with_an_ssid_records_the_conversation(client, visitor, customer):
    load(client, "S-1", agentId="a-7", originType="webim")
    conversation = Conversation.objects.get()
    assert conversation.ssid == "S-1"
    assert conversation.visitor_im_id == VISITOR
    assert conversation.customer == customer
    assert conversation.channel == "web"
    assert (conversation.agent_name, conversation.agent_id) == ("小美", "a-7")


def test_it_records_a_conversation_once(client, visitor):
    load(client, "S-1")
    _, statements = load(client, "S-1")
    assert Conversation.objects.count() == 1
    assert not any(s.startswith(("INSERT", "UPDATE")) and "conversation" in s for s in statements)


def test_a_long_session_id_is_recorded_once(client, visitor):
    ssid = "S" * 150
    load(client, ssid)
    _, statements = load(client, ssid)
    assert Conversation.objects.get().ssid == ssid[:100]
    assert not any(s.startswith("INSERT") and "conversation" in s for s in statements)


def test_a_load_without_an_ssid_records_nothing(client, visitor):
    load(client)
    assert not Conversation.objects.exists()


def test_the_second_session_shows_the_first(client, visitor, customer):
    page, _ = load(client, "S-1", agent="小美")
    assert history(page) == ""
    Note.objects.create(customer=customer, body="要求开发票", ssid="S-1", agent_name="小美")
    Note.objects.create(customer=customer, body="喜欢顺丰", ssid="S-1", agent_name="小美")
    Note.objects.create(customer=customer, body="别的会话", ssid="S-OTHER")
    page, _ = load(client, "S-2", agent="阿强")
    box = history(page)
    today = timezone.localdate().isoformat()
    assert f"One earlier conversation, on {today} with 小美" in box
    assert "喜欢顺丰" in box
    assert "(+1 notes)" in box
    assert "别的会话" not in box
    # Under the customer's header, above their orders.
    assert page.index('id="customer"') < page.index('id="history"') < page.index('id="orders"')


def test_it_counts_and_lists_the_latest_earlier_conversations(client, visitor, customer):
    now = timezone.now()
    for n in range(5):
        Conversation.objects.create(
            ssid=f"OLD-{n}",
            visitor_im_id=VISITOR,
            customer=customer,
            agent_name=f"坐席{n}",
            first_seen_at=now - timedelta(days=10 - n),
        )
    page, _ = load(client, "S-NEW")
    box = history(page)
    assert "5 earlier conversations, the last on" in box
    assert "with 坐席4" in box
    assert box.count("<li") == 3
    assert "坐席1" not in box


def test_it_shows_the_conversations_of_the_customers_other_channels(client, visitor, customer):
    VisitorIdentity.objects.create(visitor_im_id=WECHAT, customer=customer, channel="wechat")
    load(client, "S-WECHAT", visitor_im_id=WECHAT, originType="weixin")
    page, _ = load(client, "S-WEB")
    assert "One earlier conversation" in history(page)
    assert "WeChat" in history(page)


def test_it_speaks_chinese(client, visitor):
    load(client, "S-1")
    page, _ = load(client, "S-2", lang="zh")
    assert "此前有 1 次会话：" in history(page)


def test_a_conversation_gets_its_customer_once_the_visitor_is_linked(client, customer):
    load(client, "S-1", visitor_im_id="webim-visitor-LATER000000000001")
    assert Conversation.objects.get().customer is None
    VisitorIdentity.objects.create(
        visitor_im_id="webim-visitor-LATER000000000001", customer=customer
    )
    load(client, "S-1", visitor_im_id="webim-visitor-LATER000000000001")
    assert Conversation.objects.get().customer == customer


def test_last_seen_is_refreshed_at_most_every_ten_minutes(client, visitor):
    load(client, "S-1")
    long_ago = timezone.now() - timedelta(minutes=11)
    Conversation.objects.update(last_seen_at=long_ago)
    load(client, "S-1")
    refreshed = Conversation.objects.get().last_seen_at
    assert refreshed > long_ago
    load(client, "S-1")
    assert Conversation.objects.get().last_seen_at == refreshed


# --- cost: the statement budget of a panel load -----------------------------------------------


@pytest.fixture
def busy_customer(db):
    """A known visitor whose customer has everything the panel shows: orders, tags, notes,
    open follow-ups and earlier conversations."""
    customer = Customer.objects.create(name="张伟", phone="13800138000")
    VisitorIdentity.objects.create(visitor_im_id=VISITOR, customer=customer)
    bulk_orders(customer, 30, "SO")
    customer.tags.create(name="VIP")
    Note.objects.create(customer=customer, body="note", ssid="OLD-1")
    for days in range(3):
        FollowUp.objects.create(
            customer=customer, due_at=timezone.now() + timedelta(days=days), what="回电"
        )
    for n in range(20):
        Conversation.objects.create(ssid=f"OLD-{n}", visitor_im_id=VISITOR, customer=customer)
    return customer


@pytest.mark.django_db(transaction=True)
def test_a_render_with_a_new_conversation_needs_at_most_8_statements(client, busy_customer):
    page, statements = load(client, "S-NEW")
    assert len(statements) <= 8, statements
    assert "20 earlier conversations" in page
    assert "回电" in page


@pytest.mark.django_db(transaction=True)
def test_a_render_of_a_known_conversation_needs_7_statements(client, busy_customer):
    load(client, "S-1")
    cache.clear()
    _, statements = load(client, "S-1")
    assert len(statements) == 7, statements


@pytest.mark.django_db(transaction=True)
def test_a_cached_load_with_a_new_conversation_needs_at_most_4_statements(client, busy_customer):
    load(client, "S-1")
    _, statements = load(client, "S-2")
    assert len(statements) <= 4, statements
    _, statements = load(client, "S-2")
    assert len(statements) == 3, statements


@pytest.mark.django_db(transaction=True)
def test_a_first_load_with_pushed_parameters_and_a_new_conversation(client, busy_customer):
    VisitorIdentity.objects.update(last_seen_at=timezone.now() - timedelta(days=1))
    _, statements = load(client, "S-NEW", name="Jack", age="40")
    assert len(statements) <= 10, statements


def test_the_history_query_does_not_grow_with_conversations(client, busy_customer):
    load(client, "S-1")
    _, few = load(client, "S-1")
    Conversation.objects.bulk_create(
        Conversation(ssid=f"MORE-{n}", visitor_im_id=VISITOR, customer=busy_customer)
        for n in range(200)
    )
    page, many = load(client, "S-1")
    assert len(many) == len(few)
    assert "220 earlier conversations" in page


# --- the admin's timeline, export and erasure -------------------------------------------------


def test_the_admin_shows_a_timeline(staff_client, visitor, customer, make_order, client):
    load(client, "S-1", agent="小美")
    Note.objects.create(customer=customer, body="要求开发票", ssid="S-1", agent_name="小美")
    make_order(customer, "SO-TIMELINE-1")
    FollowUp.objects.create(customer=customer, due_at=timezone.now(), what="回电确认")
    change = staff_client.get(f"/admin/customers/customer/{customer.pk}/change/")
    url = f"/admin/customers/customer/{customer.pk}/timeline/"
    assert url in change.content.decode()
    response = staff_client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("Conversation", "Web · 小美", "要求开发票", "SO-TIMELINE-1", "回电确认"):
        assert text in page
    # Newest first: the follow-up was set after the order was placed.
    assert page.index("回电确认") < page.index("SO-TIMELINE-1")


def test_the_timeline_needs_the_view_permission(client, customer, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="pw-123456", is_staff=True)
    client.force_login(user)
    response = client.get(f"/admin/customers/customer/{customer.pk}/timeline/")
    assert response.status_code == 403


def test_erasure_deletes_the_customers_conversations(staff_client, visitor, customer, client):
    load(client, "S-1")
    Conversation.objects.create(ssid="S-OTHER", visitor_im_id="someone-else")
    export = staff_client.get(f"/admin/customers/customer/{customer.pk}/personal-data/export/")
    assert [c["ssid"] for c in export.json()["conversations"]] == ["S-1"]
    staff_client.post(f"/admin/customers/customer/{customer.pk}/personal-data/erase/")
    assert list(Conversation.objects.values_list("ssid", flat=True)) == ["S-OTHER"]

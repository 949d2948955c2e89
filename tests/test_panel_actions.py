import html
import re
import time

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client

from customers.models import Customer
from iframe_panel.models import AuditEvent
from iframe_panel.signing import SALT
from orders.models import Order

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
REVEAL = PANEL + "reveal/"
LOOKUP = PANEL + "lookup/"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


def open_panel(client, visitor_im_id=VISITOR, **params):
    """Load the panel as Easemob does; return what its page gives its actions."""
    r = client.get(PANEL, {"visitorImId": visitor_im_id, "lang": "en", **params})
    assert r.status_code == 200
    main = re.search(r'<main class="panel" id="panel"(.*?)>', r.content.decode(), re.S).group(1)
    token = re.search(r'data-token="([^"]*)"', main).group(1)
    visitor = re.search(r'data-visitor="([^"]*)"', main).group(1)
    return {"t": html.unescape(token), "v": html.unescape(visitor), "lang": "en"}


def signed_ago(token, seconds):
    """The same token, as if the page had been loaded `seconds` ago."""

    class Signer(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - seconds)

    payload = signing.loads(token, salt=SALT)
    return Signer(salt=SALT).sign_object(payload, compress=True)


def events(action):
    return AuditEvent.objects.filter(action=action)


@pytest.fixture
def page(client, visitor):
    return open_panel(client, agentName="王小明", agentId="agent-7", ssid="s-42")


@pytest.fixture
def orders(customer, make_order):
    first = make_order(
        customer,
        "SO2024000001",
        status=Order.Status.SHIPPED,
        items=(("无线蓝牙耳机 Pro", 1, "399.00"), ("耳机保护套", 2, "29.90")),
    )
    second = make_order(customer, "SO2024000002")
    return first, second


@pytest.fixture
def other_customer(db, make_order):
    other = Customer.objects.create(name="李娜", phone="13900001111", external_id="U2002")
    make_order(other, "SO2024009999")
    return other


# --- reveal -----------------------------------------------------------------------------------


def test_it_reveals_the_phone(client, page):
    r = client.post(REVEAL, {**page, "field": "phone"})
    assert r.status_code == 200
    assert r.json() == {"value": "13800138000"}


def test_it_reveals_the_email(client, page):
    r = client.post(REVEAL, {**page, "field": "email"})
    assert r.status_code == 200
    assert r.json() == {"value": "zhangwei@example.com"}


def test_it_records_a_reveal(client, page, customer):
    r = client.post(REVEAL, {**page, "field": "phone"})
    assert r.status_code == 200
    event = events("reveal").get()
    assert event.outcome == "ok"
    assert event.detail == "phone"
    assert event.customer == customer
    assert event.visitor_im_id == VISITOR
    assert event.agent_name == "王小明"
    assert event.agent_id == "agent-7"
    assert event.ssid == "s-42"
    assert event.ip == "127.0.0.1"


def test_a_reveal_is_not_stored_by_caches(client, page):
    r = client.post(REVEAL, {**page, "field": "phone"})
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert not r.cookies


def test_it_reveals_without_a_csrf_cookie(page):
    # The iframe has no cookies: the signed token is the protection.
    r = Client(enforce_csrf_checks=True).post(REVEAL, {**page, "field": "phone"})
    assert r.status_code == 200
    assert r.json() == {"value": "13800138000"}


def test_reveal_refuses_get(client, page):
    r = client.get(REVEAL, {**page, "field": "phone"})
    assert r.status_code == 405
    assert r.json() == {"error": "This action needs a POST request."}
    assert "13800138000" not in r.content.decode()
    assert not events("reveal").exists()


def test_reveal_refuses_a_token_for_another_visitor(client, customer, visitor):
    other_page = open_panel(client, "webim-visitor-OTHER")
    r = client.post(REVEAL, {**other_page, "v": VISITOR, "field": "phone"})
    assert r.status_code == 403
    assert r.json() == {"error": "This panel page has expired. Reload it from the conversation."}
    event = events("reveal").get()
    assert event.outcome == "denied"
    assert event.detail == "token other_visitor"


def test_reveal_answers_in_the_pages_language(client, visitor):
    zh_page = {**open_panel(client), "lang": "zh"}
    r = client.post(REVEAL, {**zh_page, "t": "forged", "field": "phone"})
    assert r.status_code == 403
    assert r.json() == {"error": "此面板页面已过期，请在会话中重新打开。"}


def test_reveal_refuses_an_expired_token(client, page):
    old = signed_ago(page["t"], 9 * 3600)
    r = client.post(REVEAL, {**page, "t": old, "field": "phone"})
    assert r.status_code == 403
    assert "expired" in r.json()["error"]
    assert events("reveal").get().detail == "token expired"


def test_the_token_lifetime_is_a_setting(client, page, settings):
    settings.PANEL_ACTION_MAX_AGE = 60
    assert (
        client.post(REVEAL, {**page, "t": signed_ago(page["t"], 30), "field": "phone"}).status_code
        == 200
    )
    r = client.post(REVEAL, {**page, "t": signed_ago(page["t"], 120), "field": "phone"})
    assert r.status_code == 403


def test_reveal_refuses_a_tampered_token(client, page):
    token = page["t"]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    r = client.post(REVEAL, {**page, "t": tampered, "field": "phone"})
    assert r.status_code == 403
    assert events("reveal").get().detail == "token invalid"


def test_reveal_refuses_a_token_with_another_customer(client, page, other_customer):
    payload = signing.loads(page["t"], salt=SALT)
    payload["c"] = other_customer.pk
    forged = signing.dumps(payload, salt="not-" + SALT, compress=True)
    r = client.post(REVEAL, {**page, "t": forged, "field": "phone"})
    assert r.status_code == 403
    assert "13900001111" not in r.content.decode()


@pytest.mark.parametrize("token", ["", "abc", "e30:1tKxyz:abc"])
def test_reveal_refuses_garbage_tokens(client, page, token):
    r = client.post(REVEAL, {**page, "t": token, "field": "phone"})
    assert r.status_code == 403


def test_reveal_refuses_a_wrong_panel_token(client, page):
    r = client.post("/panel/wrong-token/reveal/", {**page, "field": "phone"})
    assert r.status_code == 404
    assert r.json() == {"error": "This panel address is not valid."}
    assert not events("reveal").exists()


@pytest.mark.parametrize("field", ["", "name", "address", "external_id", "pk"])
def test_reveal_refuses_other_fields(client, page, field):
    r = client.post(REVEAL, {**page, "field": field})
    assert r.status_code == 400
    assert r.json() == {"error": "Nothing to reveal."}
    assert not events("reveal").exists()


def test_it_reveals_a_pushed_email_and_records_it(client, customer):
    unknown = open_panel(
        client, "webim-visitor-PUSHED", customerEmail="pushed.person@example.com", tel="13912345678"
    )
    r = client.post(REVEAL, {**unknown, "field": "param:customerEmail"})
    assert r.status_code == 200
    assert r.json() == {"value": "pushed.person@example.com"}
    r = client.post(REVEAL, {**unknown, "field": "param:tel"})
    assert r.json() == {"value": "13912345678"}
    assert [(e.detail, e.customer) for e in events("reveal").order_by("pk")] == [
        ("param:customerEmail", None),
        ("param:tel", None),
    ]


@pytest.mark.parametrize("field", ["param:city", "param:customerEmail", "param:", "param:phone"])
def test_it_reveals_only_pushed_contact_values_that_exist(client, db, field):
    unknown = open_panel(client, "webim-visitor-PUSHED", city="杭州")
    r = client.post(REVEAL, {**unknown, "field": field})
    assert r.status_code == 400
    assert r.json() == {"error": "Nothing to reveal."}
    assert not events("reveal").exists()


def test_reveal_has_nothing_for_an_unknown_visitor(client, customer):
    unknown = open_panel(client, "webim-visitor-UNKNOWN")
    r = client.post(REVEAL, {**unknown, "field": "phone"})
    assert r.status_code == 400
    assert r.json() == {"error": "Nothing to reveal."}


def test_reveal_has_nothing_once_the_customer_is_gone(client, page, customer):
    customer.visitor_identities.all().delete()
    customer.delete()
    r = client.post(REVEAL, {**page, "field": "phone"})
    assert r.status_code == 400


def test_reveal_never_fails_on_a_visitor_with_control_characters(client, page):
    r = client.post(REVEAL, {**page, "v": VISITOR + "\x00", "field": "phone"})
    assert r.status_code == 403


# --- lookup -----------------------------------------------------------------------------------


def test_it_looks_up_an_order_of_the_customer(client, page, orders):
    r = client.get(LOOKUP, {**page, "q": "SO2024000001"})
    assert r.status_code == 200
    body = r.json()
    assert body["message"] == ""
    [order] = body["orders"]
    assert order["number"] == "SO2024000001"
    assert order["status"] == "shipped"
    assert order["statusLabel"] == "Shipped"
    assert order["total"] == "458.80"
    assert order["items"] == [
        {"name": "无线蓝牙耳机 Pro", "quantity": 1, "unitPrice": "399.00"},
        {"name": "耳机保护套", "quantity": 2, "unitPrice": "29.90"},
    ]


def test_it_looks_up_an_order_number_as_typed(client, page, orders):
    r = client.get(LOOKUP, {**page, "q": "  so2024000001 "})
    assert r.status_code == 200
    assert [o["number"] for o in r.json()["orders"]] == ["SO2024000001"]


def test_it_records_a_lookup(client, page, orders, customer):
    client.get(LOOKUP, {**page, "q": "SO2024000001"})
    event = events("lookup").get()
    assert event.outcome == "ok"
    assert event.detail == "SO2024000001"
    assert event.customer == customer
    assert event.agent_name == "王小明"


def test_it_does_not_find_another_customers_order(client, page, orders, other_customer):
    r = client.get(LOOKUP, {**page, "q": "SO2024009999"})
    assert r.status_code == 200
    assert r.json() == {"orders": [], "message": "No order SO2024009999 for this customer."}
    assert events("lookup").get().outcome == "unknown"


def test_it_looks_up_the_customers_phone(client, page, orders):
    r = client.get(LOOKUP, {**page, "q": "+86 138-0013-8000"})
    assert r.status_code == 200
    body = r.json()
    assert [o["number"] for o in body["orders"]] == ["SO2024000002", "SO2024000001"]
    assert body["message"] == "Orders of 张伟, whose phone this is."


def test_another_customers_phone_says_so_and_offers_that_customer(
    client, page, orders, other_customer, customer
):
    r = client.get(LOOKUP, {**page, "q": "139 0000 1111"})
    assert r.status_code == 200
    body = r.json()
    assert body["orders"] == []
    assert body["message"] == "13900001111 is not the phone of 张伟."
    assert [(c["id"], c["name"], c["phone"]) for c in body["results"]] == [
        (other_customer.pk, "李娜", "139****1111")
    ]
    event = events("lookup").get()
    assert (event.outcome, event.customer, event.detail) == ("ok", customer, "139 0000 1111")


def test_a_phone_nobody_has_says_so(client, page, orders):
    r = client.get(LOOKUP, {**page, "q": "13712345678"})
    assert r.json() == {
        "orders": [],
        "results": [],
        "message": "13712345678 is not the phone of 张伟. No customer has 13712345678.",
    }
    assert events("lookup").get().outcome == "unknown"


def test_a_phone_lookup_returns_the_ten_latest_orders(client, page, customer, make_order):
    for i in range(12):
        make_order(customer, f"SO20240000{i:02d}")
    r = client.get(LOOKUP, {**page, "q": "13800138000"})
    assert r.status_code == 200
    assert len(r.json()["orders"]) == 10


def test_lookup_needs_a_query(client, page):
    r = client.get(LOOKUP, {**page, "q": "  "})
    assert r.status_code == 400
    assert r.json() == {"error": "Nothing to look up."}


@pytest.mark.parametrize("query", ["138-0013-8000", "SO2024000001"])
def test_a_lookup_for_an_unknown_visitor_finds_the_customers(client, customer, orders, query):
    unknown = open_panel(client, "webim-visitor-UNKNOWN")
    r = client.get(LOOKUP, {**unknown, "q": query})
    assert r.status_code == 200
    body = r.json()
    assert body["orders"] == []
    assert body["message"] == ""
    # Masked, as the search shows them: the agent links, then sees the card.
    assert [(c["id"], c["phone"]) for c in body["results"]] == [(customer.pk, "138****8000")]
    event = events("lookup").get()
    assert (event.outcome, event.customer, event.detail) == ("ok", None, query)


def test_a_lookup_for_an_unknown_visitor_says_when_nobody_matches(client, customer):
    unknown = open_panel(client, "webim-visitor-UNKNOWN")
    r = client.get(LOOKUP, {**unknown, "q": "13712345678"})
    assert r.json() == {
        "orders": [],
        "results": [],
        "message": "No customer has 13712345678.",
    }
    assert events("lookup").get().outcome == "unknown"


def test_lookup_refuses_a_token_for_another_visitor(client, page, orders):
    r = client.get(LOOKUP, {**page, "v": "webim-visitor-OTHER", "q": "SO2024000001"})
    assert r.status_code == 403
    assert "SO2024000001" not in r.content.decode()


def test_lookup_refuses_an_expired_token(client, page, orders):
    old = signed_ago(page["t"], 9 * 3600)
    r = client.get(LOOKUP, {**page, "t": old, "q": "SO2024000001"})
    assert r.status_code == 403


def test_lookup_refuses_a_wrong_panel_token(client, page, orders):
    r = client.get("/panel/wrong-token/lookup/", {**page, "q": "SO2024000001"})
    assert r.status_code == 404
    assert r.json() == {"error": "This panel address is not valid."}


@pytest.mark.parametrize("query", ["\x00", "SO2024\x00000001", "%", "_" * 12, "中"])
def test_lookup_never_fails_on_odd_queries(client, page, orders, query):
    r = client.get(LOOKUP, {**page, "q": query})
    assert r.status_code in (200, 400)
    if r.status_code == 200:
        assert r.json()["orders"] == []


def test_search_never_fails_on_a_nul_character(client, db):
    unknown = open_panel(client, "webim-visitor-UNKNOWN")
    r = client.get(PANEL + "search/", {**unknown, "q": "张\x00伟"})
    assert r.status_code in (200, 400)

"""Actions answer the part of the panel they change, rendered as the page renders it: what the
agent sees after an action is what the next full load shows (views.visitor_part,
views._customer_html)."""

import html
import re

import pytest
from django.core.cache import cache

from customers.models import Customer, Note, VisitorIdentity
from iframe_panel.models import AuditEvent

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
UNKNOWN = "webim-visitor-INPLACE0000000001"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


def open_panel(client, visitor_im_id, **params):
    query = {"visitorImId": visitor_im_id, "lang": "en", "agentName": "小美", "ssid": "s-42"}
    response = client.get(PANEL, {**query, **params})
    assert response.status_code == 200
    page = response.content.decode()
    token = html.unescape(re.search(r'data-token="([^"]*)"', page).group(1))
    return {"t": token, "v": visitor_im_id, "lang": "en"}, page


def post(client, action, data):
    return client.post(f"{PANEL}{action}/", data)


def test_a_note_answers_the_notes_the_next_load_shows(client, visitor):
    tokens, _ = open_panel(client, visitor.visitor_im_id)
    response = post(client, "note", {**tokens, "body": "客户要求周末送货"})
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Note saved."
    assert "客户要求周末送货" in body["notes"]
    _, page = open_panel(client, visitor.visitor_im_id)
    assert f'<div id="note-list">{body["notes"]}</div>' in page


def test_a_second_note_answers_both(client, visitor):
    tokens, _ = open_panel(client, visitor.visitor_im_id)
    post(client, "note", {**tokens, "body": "第一条"})
    notes = post(client, "note", {**tokens, "body": "第二条"}).json()["notes"]
    assert notes.index("第二条") < notes.index("第一条")


def test_a_link_answers_the_customers_part_and_a_token_for_them(client, customer):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(client, "link", {**tokens, "customer": customer.pk})
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Linked to 张伟."
    assert 'id="customer"' in body["visitor"]
    assert 'id="unknown-visitor"' not in body["visitor"]
    # The phone stays masked, as on the page.
    assert "138****8000" in body["visitor"]
    assert "13800138000" not in body["visitor"]
    _, page = open_panel(client, UNKNOWN)
    assert body["visitor"] in page

    # The old token names no customer; the new one names the linked customer.
    assert post(client, "note", {**tokens, "body": "旧令牌"}).status_code == 400
    new = {**tokens, "t": body["token"]}
    assert post(client, "note", {**new, "body": "新令牌"}).status_code == 200
    assert Note.objects.get().customer == customer


def test_a_create_answers_the_new_customers_part(client, db):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(client, "create", {**tokens, "name": "王芳", "phone": "13911112222"})
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Customer 王芳 created and linked."
    assert "王芳" in body["visitor"]
    _, page = open_panel(client, UNKNOWN)
    assert body["visitor"] in page
    customer = Customer.objects.get(name="王芳")
    new = {**tokens, "t": body["token"]}
    assert post(client, "reveal", {**new, "field": "phone"}).json() == {"value": "13911112222"}
    assert AuditEvent.objects.filter(action="reveal", customer=customer).exists()


def test_an_unlink_answers_the_unknown_visitors_part(client, visitor, customer):
    tokens, _ = open_panel(client, visitor.visitor_im_id)
    response = post(client, "unlink", tokens)
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Visitor unlinked from 张伟."
    assert 'id="unknown-visitor"' in body["visitor"]
    assert 'id="search-form"' in body["visitor"]
    assert "张伟" not in body["visitor"]
    new = {**tokens, "t": body["token"]}
    assert post(client, "reveal", {**new, "field": "phone"}).status_code == 400
    assert post(client, "link", {**new, "customer": customer.pk}).status_code == 200


def test_an_unlink_prefills_the_new_customer_form_from_pushed_values(client, visitor):
    tokens, _ = open_panel(client, visitor.visitor_im_id, trueName="赵六", mobile="13722223333")
    body = post(client, "unlink", tokens).json()
    assert 'value="13722223333"' in body["visitor"]


def test_linking_a_known_visitor_to_another_customer_moves_the_link(client, visitor, customer):
    other = Customer.objects.create(name="李娜", phone="13900001111")
    tokens, _ = open_panel(client, visitor.visitor_im_id)
    response = post(client, "link", {**tokens, "customer": other.pk})
    assert response.status_code == 200
    assert "李娜" in response.json()["visitor"]
    identity = VisitorIdentity.objects.get(visitor_im_id=visitor.visitor_im_id)
    assert (identity.customer, identity.bound_via) == (other, "agent")
    events = AuditEvent.objects.filter(action__in=["unlink", "link"]).order_by("pk")
    assert [(e.action, e.customer) for e in events] == [("unlink", customer), ("link", other)]
    # The page token still names the old customer: a second move is refused.
    third = Customer.objects.create(name="王五")
    response = post(client, "link", {**tokens, "customer": third.pk})
    assert response.status_code == 409
    assert VisitorIdentity.objects.get(visitor_im_id=visitor.visitor_im_id).customer == other


def test_the_messages_card_sits_under_the_customers_card(client, visitor):
    _, page = open_panel(client, visitor.visitor_im_id)
    assert page.index('id="customer"') < page.index('id="messages"') < page.index('id="orders"')


def test_the_messages_card_sits_under_the_unknown_visitors_card(client, db):
    _, page = open_panel(client, UNKNOWN)
    assert page.index('id="unknown-visitor"') < page.index('id="messages"')
    assert page.index('id="messages"') < page.index('id="find-customer"')


# --- masking and labels -----------------------------------------------------------------------


def test_pushed_email_and_phone_are_masked(client, visitor):
    _, page = open_panel(
        client, visitor.visitor_im_id, customerEmail="pushed.person@example.com", tel="13912345678"
    )
    assert "pushed.person@example.com" not in page
    assert "13912345678" not in page
    assert "pu***@example.com" in page
    assert "139****5678" in page
    assert 'data-field="param:customerEmail"' in page
    assert 'data-field="param:tel"' in page


def test_other_pushed_values_are_shown_as_pushed(client, visitor):
    _, page = open_panel(client, visitor.visitor_im_id, city="杭州")
    assert '<span class="value">杭州</span>' in page


@pytest.mark.parametrize(
    "origin, lang, label",
    [("webim", "en", "Web"), ("weixin", "zh", "微信"), ("app", "en", "App"), ("odd", "en", "odd")],
)
def test_the_session_card_names_the_channel(client, db, origin, lang, label):
    _, page = open_panel(client, UNKNOWN, originType=origin, lang=lang)
    session = page[page.index('id="session"') :]
    assert re.search(r"<dd>\s*" + re.escape(label) + r"\s*</dd>", session)

"""What agents do from the panel: search, link, create, note, unlink (each audited)."""

import html
import re
import threading

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models.signals import pre_save
from django.test import Client

from customers.models import Customer, Note, VisitorIdentity
from iframe_panel.models import AuditEvent, VisitorInfo

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
UNKNOWN = "webim-visitor-AGENTACTIONS000001"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


def open_panel(client, visitor_im_id, **params):
    response = client.get(
        PANEL,
        {
            "visitorImId": visitor_im_id,
            "lang": "en",
            "agentName": "小美",
            "agentId": "a-7",
            "ssid": "s-42",
            **params,
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    token = html.unescape(re.search(r'data-token="([^"]*)"', page).group(1))
    return {"t": token, "v": visitor_im_id, "lang": "en"}, page


def post(client, action, data):
    return client.post(f"{PANEL}{action}/", data)


# --- search -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["张伟", "138-0013-8000", "ZhangWei@Example.com", "SO-SEARCH-1", "U1001"]
)
def test_it_finds_customers_by_name_phone_email_order_number_or_external_id(
    client, customer, make_order, query
):
    make_order(customer, "SO-SEARCH-1")
    Customer.objects.create(name="李娜", phone="13900000000")
    tokens, _ = open_panel(client, UNKNOWN)
    response = client.get(PANEL + "search/", {**tokens, "q": query})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["name"] for r in results] == ["张伟"]
    # Contact details stay masked in search results.
    assert results[0]["phone"] == "138****8000"
    assert AuditEvent.objects.filter(action="search", detail=query[:64]).exists()


def test_search_needs_two_characters(client, db):
    tokens, _ = open_panel(client, UNKNOWN)
    response = client.get(PANEL + "search/", {**tokens, "q": "张"})
    assert response.status_code == 400
    assert response.json()["error"] == "Type at least two characters."


def test_search_says_when_nothing_matches(client, customer):
    tokens, _ = open_panel(client, UNKNOWN)
    response = client.get(PANEL + "search/", {**tokens, "q": "nobody-here"})
    assert response.json() == {"results": [], "message": "Nothing found."}


# --- link -------------------------------------------------------------------------------------


def test_it_links_an_unknown_visitor_to_a_customer(client, customer):
    tokens, _ = open_panel(client, UNKNOWN, originType="webim")
    response = post(client, "link", {**tokens, "customer": customer.pk})
    assert response.status_code == 200
    assert response.json()["message"] == "Linked to 张伟."
    identity = VisitorIdentity.objects.get(visitor_im_id=UNKNOWN)
    assert (identity.customer, identity.bound_via, identity.channel) == (customer, "agent", "web")
    event = AuditEvent.objects.get(action="link")
    assert (event.customer, event.agent_name, event.ssid) == (customer, "小美", "s-42")
    _, page = open_panel(client, UNKNOWN)
    assert 'id="customer"' in page


@pytest.mark.parametrize("value", ["", "abc", "999999", "1.5"])
def test_link_refuses_a_customer_that_does_not_exist(client, db, value):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(client, "link", {**tokens, "customer": value})
    assert response.status_code == 400
    assert response.json()["error"] == "Choose a customer from the search results."
    assert not VisitorIdentity.objects.exists()


def test_link_refuses_a_visitor_linked_meanwhile_to_someone_else(client, customer):
    tokens, _ = open_panel(client, UNKNOWN)
    other = Customer.objects.create(name="李娜")
    VisitorIdentity.objects.create(visitor_im_id=UNKNOWN, customer=other)
    response = post(client, "link", {**tokens, "customer": customer.pk})
    assert response.status_code == 409
    assert "already linked to 李娜" in response.json()["error"]
    assert VisitorIdentity.objects.get(visitor_im_id=UNKNOWN).customer == other


def test_actions_refuse_a_token_for_another_visitor(client, customer):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(client, "link", {**tokens, "v": "webim-visitor-SOMEONEELSE", "customer": 1})
    assert response.status_code == 403
    assert "expired" in response.json()["error"]
    assert not VisitorIdentity.objects.exists()
    assert AuditEvent.objects.filter(action="link", outcome="denied").exists()


def test_actions_refuse_a_forged_token(client, customer):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(client, "link", {**tokens, "t": tokens["t"][:-2] + "xx", "customer": 1})
    assert response.status_code == 403


def test_actions_refuse_an_expired_token(client, customer, settings):
    tokens, _ = open_panel(client, UNKNOWN)
    settings.PANEL_ACTION_MAX_AGE = -1
    response = post(client, "link", {**tokens, "customer": customer.pk})
    assert response.status_code == 403
    assert not VisitorIdentity.objects.exists()


def test_actions_refuse_get(client, db):
    tokens, _ = open_panel(client, UNKNOWN)
    response = client.get(PANEL + "link/", tokens)
    assert response.status_code == 405
    assert response.json()["error"] == "This action needs a POST request."


# --- create -----------------------------------------------------------------------------------


def test_the_create_form_is_prefilled_from_the_visitor_but_never_with_the_agents_email(client, db):
    _, page = open_panel(
        client,
        UNKNOWN,
        nickname="阿杰",
        name="杰克",
        mobile="13911112222",
        customerEmail="jack@example.com",
        customUserId="U-777",
        email="agent@kefu.example.com",
    )
    form = page.split('id="create-form"', 1)[1].split("</form>", 1)[0]
    assert 'value="杰克"' in form
    assert 'value="阿杰"' in form
    assert 'value="13911112222"' in form
    assert 'value="jack@example.com"' in form
    assert 'value="U-777"' in form
    assert "agent@kefu.example.com" not in form


def test_unverified_values_are_not_prefilled(client, db, settings):
    settings.EASEMOB_IFRAME_KEY = "12345678abc"
    _, page = open_panel(client, UNKNOWN, name="plain-name", phone="13911112222")
    form = page.split('id="create-form"', 1)[1].split("</form>", 1)[0]
    assert "plain-name" not in form and "13911112222" not in form


def test_it_creates_a_customer_and_links_the_visitor(client, db):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(
        client, "create", {**tokens, "name": "王芳", "phone": "+86 139 0000 1111", "email": ""}
    )
    assert response.status_code == 200
    assert response.json()["message"] == "Customer 王芳 created and linked."
    customer = Customer.objects.get(name="王芳")
    assert customer.phone == "13900001111"
    assert VisitorIdentity.objects.get(visitor_im_id=UNKNOWN).customer == customer
    assert AuditEvent.objects.filter(action="create", customer=customer).exists()


def test_create_reports_field_errors_and_saves_nothing(client, customer):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(
        client, "create", {**tokens, "name": "", "email": "nope", "external_id": "U1001"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Please correct the fields below."
    assert set(body["fields"]) >= {"name", "email"}
    assert Customer.objects.count() == 1
    assert not VisitorIdentity.objects.exists()


def test_create_does_not_leave_a_customer_behind_when_the_visitor_got_linked(client, customer):
    tokens, _ = open_panel(client, UNKNOWN)
    VisitorIdentity.objects.create(visitor_im_id=UNKNOWN, customer=customer)
    response = post(client, "create", {**tokens, "name": "重复创建"})
    assert response.status_code == 409
    assert not Customer.objects.filter(name="重复创建").exists()


DUPLICATE = "A customer with this external ID already exists; search and link it instead."


def test_it_refuses_to_create_a_second_customer_with_an_external_id(client, customer):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(client, "create", {**tokens, "name": "张伟", "external_id": " U1001 "})
    assert response.status_code == 409
    assert response.json() == {
        "error": DUPLICATE,
        "fields": {"external_id": ["Another customer already has this external ID."]},
    }
    assert Customer.objects.count() == 1
    assert not VisitorIdentity.objects.exists()


def test_the_duplicate_external_id_message_follows_lang(client, customer):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(
        client, "create", {**tokens, "lang": "zh", "name": "张伟", "external_id": "U1001"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "已有客户使用此业务系统 ID，请搜索并关联该客户。"


def test_customers_without_an_external_id_are_never_duplicates(client, db):
    Customer.objects.create(name="李娜")
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(client, "create", {**tokens, "name": "王芳", "external_id": ""})
    assert response.status_code == 200
    assert Customer.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_simultaneous_creates_of_one_external_id_give_one_customer_and_a_409(caplog):
    if connection.vendor != "postgresql":
        pytest.skip("needs a database where the second insert waits for the first one's commit")
    visitors = ["webim-visitor-RACE0000000000001", "webim-visitor-RACE0000000000002"]
    forms = [open_panel(Client(), visitor)[0] for visitor in visitors]
    # Both requests have passed the form's duplicate check before either inserts: the loser
    # meets the unique constraint, not the check.
    both_validated = threading.Barrier(2, timeout=10)

    def wait_for_the_other(sender, instance, **kwargs):
        both_validated.wait()

    responses = []

    def create(tokens):
        try:
            # As in production: an exception becomes a 500 and a log record.
            agent = Client(raise_request_exception=False)
            data = {**tokens, "name": "赵敏", "external_id": "U-RACE-1"}
            responses.append(post(agent, "create", data))
        finally:
            connection.close()

    pre_save.connect(wait_for_the_other, sender=Customer)
    try:
        threads = [threading.Thread(target=create, args=(tokens,)) for tokens in forms]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        pre_save.disconnect(wait_for_the_other, sender=Customer)
    assert sorted(r.status_code for r in responses) == [200, 409]
    [conflict] = [r for r in responses if r.status_code == 409]
    assert conflict.json()["error"] == DUPLICATE
    customer = Customer.objects.get(external_id="U-RACE-1")
    assert VisitorIdentity.objects.get().customer == customer
    assert "U-RACE-1" not in caplog.text
    assert "IntegrityError" not in caplog.text


# --- note -------------------------------------------------------------------------------------


def test_it_saves_a_note_with_the_agent_and_session(client, visitor):
    tokens, _ = open_panel(client, visitor.visitor_im_id)
    response = post(client, "note", {**tokens, "body": "  客户要求周末送货  "})
    assert response.status_code == 200
    note = Note.objects.get()
    assert (note.customer, note.body, note.agent_name, note.agent_id, note.ssid) == (
        visitor.customer,
        "客户要求周末送货",
        "小美",
        "a-7",
        "s-42",
    )
    _, page = open_panel(client, visitor.visitor_im_id)
    assert "客户要求周末送货" in page


@pytest.mark.parametrize(
    "body, message", [("", "Write the note first."), ("   ", "Write the note first.")]
)
def test_it_refuses_an_empty_note(client, visitor, body, message):
    tokens, _ = open_panel(client, visitor.visitor_im_id)
    response = post(client, "note", {**tokens, "body": body})
    assert response.status_code == 400
    assert response.json()["error"] == message
    assert not Note.objects.exists()


def test_it_refuses_an_overlong_note(client, visitor):
    tokens, _ = open_panel(client, visitor.visitor_im_id)
    response = post(client, "note", {**tokens, "body": "长" * 2001})
    assert response.status_code == 400
    assert not Note.objects.exists()


def test_a_note_needs_a_linked_customer(client, db):
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(client, "note", {**tokens, "body": "无主备注"})
    assert response.status_code == 400
    assert not Note.objects.exists()


# --- unlink -----------------------------------------------------------------------------------


def test_it_unlinks_and_the_pushed_values_do_not_bind_again(client, customer):
    tokens, _ = open_panel(client, UNKNOWN, customUserId="U1001")
    assert VisitorIdentity.objects.get(visitor_im_id=UNKNOWN).bound_via == "custom_user_id"
    tokens, _ = open_panel(client, UNKNOWN)
    response = post(client, "unlink", tokens)
    assert response.status_code == 200
    assert not VisitorIdentity.objects.filter(visitor_im_id=UNKNOWN).exists()
    assert AuditEvent.objects.filter(action="unlink", customer=customer).exists()

    _, page = open_panel(client, UNKNOWN, customUserId="U1001")
    assert 'id="unknown-visitor"' in page
    assert VisitorInfo.objects.get(visitor_im_id=UNKNOWN).unlinked_customer_ids == [customer.pk]

    # An agent can still link the two by hand, and that ends the exclusion.
    tokens, _ = open_panel(client, UNKNOWN)
    assert post(client, "link", {**tokens, "customer": customer.pk}).status_code == 200
    assert VisitorInfo.objects.get(visitor_im_id=UNKNOWN).unlinked_customer_ids == []


def test_unlink_twice_is_refused_the_second_time(client, visitor):
    tokens, _ = open_panel(client, visitor.visitor_im_id)
    assert post(client, "unlink", tokens).status_code == 200
    response = post(client, "unlink", tokens)
    assert response.status_code == 409
    assert response.json()["error"] == "This visitor is no longer linked to that customer."


def test_unlink_never_touches_another_visitors_link(client, visitor, customer):
    other = VisitorIdentity.objects.create(
        visitor_im_id="oOtherVisitorOfTheSameCustomer", customer=customer
    )
    tokens, _ = open_panel(client, visitor.visitor_im_id)
    post(client, "unlink", tokens)
    assert VisitorIdentity.objects.filter(pk=other.pk).exists()


def test_actions_answer_in_the_panels_language(client, db):
    tokens, _ = open_panel(client, UNKNOWN)
    response = client.get(PANEL + "search/", {**tokens, "q": "x", "lang": "zh"})
    assert response.json()["error"] == "请至少输入两个字符。"

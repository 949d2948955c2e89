"""Follow-ups (待回访): set and closed from the panel, listed and closed in bulk in the admin."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Customer, FollowUp, VisitorIdentity
from iframe_panel.models import AuditEvent
from tests.test_panel_agent_actions import PANEL, UNKNOWN, open_panel, post

VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


def local_input(moment):
    """A time as the browser's datetime-local input sends it."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def due(days=0, hours=0, customer=None, **fields):
    return FollowUp.objects.create(
        customer=customer,
        due_at=timezone.now() + timedelta(days=days, hours=hours),
        **fields,
    )


# --- the panel --------------------------------------------------------------------------------


def test_an_agent_sets_a_follow_up(client, visitor, customer):
    tokens, page = open_panel(client, VISITOR)
    assert 'id="follow-up-form"' in page
    when = timezone.now() + timedelta(days=1)
    data = {**tokens, "due_at": local_input(when), "what": "回电确认退款"}
    response = post(client, "follow-up", data)
    assert response.status_code == 200
    assert response.json()["message"] == "Follow-up set."
    # The panel's visitor part, swapped in place: the new follow-up shows at once.
    assert "回电确认退款" in response.json()["visitor"]
    follow_up = FollowUp.objects.get()
    assert follow_up.customer == customer
    assert follow_up.what == "回电确认退款"
    assert (follow_up.agent_name, follow_up.agent_id, follow_up.ssid) == ("小美", "a-7", "s-42")
    assert abs(follow_up.due_at - when) < timedelta(minutes=1)
    assert follow_up.done_at is None
    assert AuditEvent.objects.filter(action="follow_up", customer=customer).exists()


def test_a_follow_up_shows_on_the_next_load_of_a_cached_card(client, visitor):
    tokens, page = open_panel(client, VISITOR)
    _, page = open_panel(client, VISITOR)
    assert 'class="follow-up' not in page
    when = local_input(timezone.now() + timedelta(hours=3))
    post(client, "follow-up", {**tokens, "due_at": when, "what": "下午回电"})
    _, page = open_panel(client, VISITOR)
    assert "下午回电" in page[page.index('id="follow-ups"') : page.index('id="order-summary"')]


def test_it_refuses_a_time_that_has_passed(client, visitor):
    tokens, _ = open_panel(client, VISITOR)
    yesterday = timezone.now() - timedelta(days=1)
    response = post(client, "follow-up", {**tokens, "due_at": local_input(yesterday), "what": "x"})
    assert response.status_code == 400
    assert response.json()["fields"]["due_at"] == ["Choose a time that has not passed yet."]
    assert not FollowUp.objects.exists()


def test_it_needs_a_time_and_what_to_do(client, visitor):
    tokens, _ = open_panel(client, VISITOR)
    response = post(client, "follow-up", {**tokens, "due_at": "", "what": " "})
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert fields["due_at"] == ["Choose when to follow up."]
    assert fields["what"] == ["Write what to follow up on."]


def test_it_answers_a_bad_date_in_the_panels_language(client, visitor):
    tokens, _ = open_panel(client, VISITOR)
    tokens["lang"] = "zh"
    response = post(client, "follow-up", {**tokens, "due_at": "tomorrow-ish", "what": "x"})
    assert response.status_code == 400
    assert response.json()["error"] == "请修正以下字段。"


def test_an_unknown_visitor_cannot_have_one(client, db):
    tokens, page = open_panel(client, UNKNOWN)
    assert 'id="follow-up-form"' not in page
    when = local_input(timezone.now() + timedelta(days=1))
    response = post(client, "follow-up", {**tokens, "due_at": when, "what": "x"})
    assert response.status_code == 400
    assert not FollowUp.objects.exists()


def test_the_panel_shows_the_next_open_follow_up(client, visitor, customer):
    due(days=3, customer=customer, what="以后再说")
    due(hours=-2, customer=customer, what="回电确认退款", agent_name="王小明")
    due(days=-5, customer=customer, what="已经办完", done_at=timezone.now())
    _, page = open_panel(client, VISITOR)
    box = page[page.index('id="follow-ups"') : page.index('id="order-summary"')]
    assert "回电确认退款" in box
    assert "Overdue" in box
    assert "Set by 王小明 · 1 more open" in box
    assert "1 more open" in box
    assert "以后再说" not in box
    assert "已经办完" not in page
    # Between the customer's header and their orders.
    assert page.index('id="customer"') < page.index('id="follow-ups"') < page.index('id="orders"')


def test_a_customer_bound_on_this_load_shows_theirs_too(client, customer):
    due(days=1, customer=customer, what="寄发票")
    _, page = open_panel(client, "webim-visitor-NEWLYBOUND000000001", customUserId="U1001")
    assert "寄发票" in page


def test_an_agent_marks_it_done(client, visitor, customer):
    follow_up = due(hours=-1, customer=customer, what="回电")
    tokens, page = open_panel(client, VISITOR)
    assert f'name="follow_up" value="{follow_up.pk}"' in page
    response = post(client, "follow-up/done", {**tokens, "follow_up": follow_up.pk})
    assert response.status_code == 200
    follow_up.refresh_from_db()
    assert follow_up.done_at is not None
    assert follow_up.done_by_agent == "小美"
    assert AuditEvent.objects.filter(action="follow_up_done", detail=str(follow_up.pk)).exists()
    _, page = open_panel(client, VISITOR)
    assert "回电" not in page[page.index('id="follow-ups"') : page.index('id="order-summary"')]


def test_it_does_not_close_another_customers_follow_up(client, visitor):
    other = Customer.objects.create(name="李娜")
    theirs = due(days=1, customer=other, what="theirs")
    tokens, _ = open_panel(client, VISITOR)
    response = post(client, "follow-up/done", {**tokens, "follow_up": theirs.pk})
    assert response.status_code == 409
    theirs.refresh_from_db()
    assert theirs.done_at is None


@pytest.mark.parametrize("value", ["", "abc"])
def test_it_refuses_a_missing_follow_up(client, visitor, value):
    tokens, _ = open_panel(client, VISITOR)
    response = post(client, "follow-up/done", {**tokens, "follow_up": value})
    assert response.status_code == 400


def test_it_needs_a_genuine_token(client, visitor, customer):
    follow_up = due(days=1, customer=customer, what="x")
    response = post(
        client, "follow-up/done", {"t": "forged", "v": VISITOR, "follow_up": follow_up.pk}
    )
    assert response.status_code == 403
    follow_up.refresh_from_db()
    assert follow_up.done_at is None


# --- cost -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_open_follow_ups_cost_no_statement(client):
    customer = Customer.objects.create(name="张伟", phone="13800138000")
    VisitorIdentity.objects.create(visitor_im_id=VISITOR, customer=customer)

    def statements():
        cache.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(PANEL, {"visitorImId": VISITOR, "lang": "en"})
        assert response.status_code == 200
        return len(queries), response.content.decode()

    without, _ = statements()
    for days in range(5):
        due(days=days + 1, customer=customer, what=f"第{days}件事")
    with_them, page = statements()
    assert with_them == without
    assert "第0件事" in page
    assert "4 more open" in page


# --- the admin --------------------------------------------------------------------------------


@pytest.fixture
def follow_ups(customer):
    return {
        "overdue": due(days=-2, customer=customer, what="overdue one"),
        "today": due(customer=customer, what="today one", hours=0.01),
        "upcoming": due(days=3, customer=customer, what="upcoming one"),
        "done": due(days=-1, customer=customer, what="done one", done_at=timezone.now()),
    }


def listed(staff_client, **query):
    response = staff_client.get("/admin/customers/followup/", query, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    page = response.content.decode()
    return {name for name in ("overdue", "today", "upcoming", "done") if f"{name} one" in page}


def test_the_admin_lists_what_is_due(staff_client, follow_ups):
    # Late at night "today" may already be over; the due list is what is due by today's end.
    assert {"overdue"} <= listed(staff_client, state="due") <= {"overdue", "today"}
    assert listed(staff_client, state="overdue") == {"overdue"}
    assert listed(staff_client, state="done") == {"done"}
    assert listed(staff_client, state="open") == {"overdue", "today", "upcoming"}


def test_the_admin_marks_follow_ups_done_in_bulk(staff_client, follow_ups):
    chosen = [follow_ups["overdue"].pk, follow_ups["upcoming"].pk]
    response = staff_client.post(
        "/admin/customers/followup/",
        {"action": "mark_done", "_selected_action": chosen},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert response.status_code == 200
    assert "2 follow-ups marked as done." in response.content.decode()
    assert set(FollowUp.objects.exclude(done_at=None).values_list("what", flat=True)) == {
        "overdue one",
        "upcoming one",
        "done one",
    }
    assert FollowUp.objects.get(pk=chosen[0]).done_by.username == "boss"


def test_the_customer_page_lists_their_follow_ups(staff_client, customer, follow_ups):
    response = staff_client.get(f"/admin/customers/customer/{customer.pk}/change/")
    assert response.status_code == 200
    assert "upcoming one" in response.content.decode()


def test_staff_adding_one_are_recorded(staff_client, customer):
    response = staff_client.post(
        "/admin/customers/followup/add/",
        {
            "customer": customer.pk,
            "due_at_0": timezone.localdate().isoformat(),
            "due_at_1": "23:59",
            "what": "staff one",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert FollowUp.objects.get().created_by.username == "boss"

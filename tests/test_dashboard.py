"""The admin's home page: sales, the 30-day chart, orders by status and the panel's day
(crm_project/dashboard.py)."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm_project import dashboard
from customers.models import Customer, FollowUp, VisitorIdentity
from iframe_panel.models import AuditEvent
from orders.models import Order

pytestmark = pytest.mark.django_db

# A Wednesday afternoon in Shanghai: "this week" began on Monday the 23rd.
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=timezone.get_fixed_timezone(8 * 60))


def order(customer, number, placed, total, status=Order.Status.PAID, currency="CNY"):
    o = Order.objects.create(
        number=number, customer=customer, status=status, placed_at=placed, currency=currency
    )
    Order.objects.filter(pk=o.pk).update(total=Decimal(total))
    return o


@pytest.fixture
def sales(customer):
    order(customer, "T1", NOW - timedelta(hours=1), "100.00")
    order(customer, "T2", NOW - timedelta(hours=2), "50.00", status=Order.Status.PENDING)
    order(customer, "W1", NOW - timedelta(days=2), "30.00", status=Order.Status.SHIPPED)
    order(customer, "W2", NOW - timedelta(days=2), "999.00", status=Order.Status.CANCELLED)
    order(customer, "M1", NOW - timedelta(days=10), "20.00", status=Order.Status.COMPLETED)
    order(customer, "M2", NOW - timedelta(days=10), "7.00", currency="USD")
    order(customer, "OLD", NOW - timedelta(days=40), "500.00")


def test_sales_count_orders_and_paid_revenue_today_this_week_and_this_month(sales, customer):
    Customer.objects.filter(pk=customer.pk).update(created_at=NOW - timedelta(days=1))
    today, week, month = dashboard.figures(now=NOW)["periods"]
    assert (today.orders, week.orders, month.orders) == (2, 4, 6)
    # Pending, cancelled and non-CNY orders are no paid revenue.
    assert (today.revenue, week.revenue, month.revenue) == (
        Decimal("100.00"),
        Decimal("130.00"),
        Decimal("150.00"),
    )
    assert (today.customers, week.customers, month.customers) == (0, 1, 1)


def test_the_chart_has_a_column_a_day_ending_today_scaled_to_the_best_day(sales):
    chart = dashboard.figures(now=NOW)["chart"]
    columns = chart["columns"]
    assert len(columns) == 30
    assert columns[-1]["day"] == NOW.date()
    assert columns[-1]["value"] == Decimal("100.00")
    assert columns[-1]["count"] == 2
    assert columns[-1]["height"] == chart["baseline"] - columns[-1]["y"]
    # The best day reaches the top; an empty day has no height.
    assert max(c["height"] for c in columns) == chart["baseline"] - 10
    assert columns[0]["height"] == 0
    assert [c["label"] for c in columns].count(True) == 5


def test_orders_by_status_cover_the_last_30_days_and_every_status(sales):
    statuses = dict(dashboard.figures(now=NOW)["statuses"])
    assert statuses[Order.Status.PAID.label] == 2  # T1 and M2; OLD is older
    assert statuses[Order.Status.REFUNDED.label] == 0
    assert sum(statuses.values()) == 6


def test_the_panel_day_counts_loads_by_channel_found_unknown_and_agents(customer):
    today = timezone.localtime(NOW).replace(hour=9)

    def load(outcome, channel, visitor="v", agent="小王", when=today):
        event = AuditEvent.objects.create(
            action=AuditEvent.Action.VIEW,
            outcome=outcome,
            channel=channel,
            visitor_im_id=visitor,
            agent_name=agent,
            customer=customer if outcome == AuditEvent.Outcome.OK else None,
        )
        AuditEvent.objects.filter(pk=event.pk).update(created_at=when)

    web, app = VisitorIdentity.Channel.WEB, VisitorIdentity.Channel.APP
    for _ in range(3):
        load(AuditEvent.Outcome.OK, web)
    load(AuditEvent.Outcome.UNKNOWN, web, visitor="u1", agent="Amy")
    load(AuditEvent.Outcome.UNKNOWN, web, visitor="u1", agent="Amy")
    load(AuditEvent.Outcome.UNKNOWN, app, visitor="u2", agent="Amy")
    load(AuditEvent.Outcome.OK, web, when=today - timedelta(days=1))  # yesterday
    panel = dashboard.figures(now=NOW)["panel"]
    assert panel["loads"] == 6
    assert panel["found_percent"] == 50
    assert panel["unknown_visitors"] == 2
    by_channel = {c["label"]: c for c in panel["channels"]}
    assert by_channel["Web"]["loads"] == 5
    assert by_channel["Web"]["found_percent"] == 60
    assert by_channel["App"]["unknown_visitors"] == 1
    assert [(a["agent_name"], a["loads"]) for a in panel["agents"]] == [("Amy", 3), ("小王", 3)]


def test_the_admin_home_shows_the_dashboard_in_chinese(staff_client, sales):
    response = staff_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    html = response.text
    assert 'id="revenue-chart"' in html
    assert "今日" in html and "已付款收入" in html
    assert "今日面板" in html


def test_the_dashboard_costs_the_same_queries_whatever_the_number_of_orders(staff_client, customer):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert staff_client.get("/admin/").status_code == 200
        return len(captured)

    before = queries()
    for n in range(40):
        order(customer, f"N{n}", timezone.now() - timedelta(days=n % 35), "10.00")
    assert queries() == before


def test_staff_who_may_not_see_orders_see_no_sales(client, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="pw-123456", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(clerk)
    html = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").text
    assert 'id="revenue-chart"' not in html
    assert "The panel today" not in html


def test_follow_ups_due_today_and_overdue_are_counted_and_linked(staff_client, customer):
    now = timezone.now()
    FollowUp.objects.create(customer=customer, due_at=now - timedelta(hours=3), what="回电")
    FollowUp.objects.create(customer=customer, due_at=now + timedelta(minutes=5), what="退款")
    FollowUp.objects.create(customer=customer, due_at=now + timedelta(days=3), what="回访")
    done = FollowUp.objects.create(customer=customer, due_at=now - timedelta(days=1), what="x")
    FollowUp.objects.filter(pk=done.pk).mark_done(agent_name="小王")
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if now + timedelta(minutes=5) >= midnight + timedelta(days=1):
        pytest.skip("a few minutes before midnight the second one is due tomorrow")
    assert dashboard.figures()["follow_ups"] == {"due": 2, "overdue": 1}
    html = staff_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").text
    assert "今天结束前到期的回访 2 个，其中已逾期 1 个。" in html
    assert "/admin/customers/followup/?state=due" in html

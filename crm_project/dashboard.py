"""The figures on the admin's home page: sales today, this week and this month, the last 30 days
as a chart, orders by status, and the panel's day (loads, customers found by channel, unknown
visitors, the busiest agents).

Each block is one grouped query over an indexed time range (orders by `placed_at`, customers by
`created_at`, panel loads by `created_at`), never a scan of all orders: the page stays fast at a
million orders and a million audit events (bench/run.py, `admin_dashboard`).

The chart is an SVG drawn here, not a charting library: a column chart of 30 values is a few
rectangles, and the admin then needs no JavaScript and nothing from a CDN.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, FollowUp, VisitorIdentity
from iframe_panel.models import AuditEvent
from orders.models import Order

CHART_DAYS = 30
BUSIEST_AGENTS = 5


@dataclass
class Period:
    label: str
    start: datetime
    customers: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0.00")


def figures(now=None, sales=True, panel=True, follow_ups=True):
    now = timezone.localtime(now)
    zone = now.tzinfo
    today = datetime.combine(now.date(), time.min, tzinfo=zone)
    periods = [
        Period(_("Today"), today),
        Period(_("This week"), today - timedelta(days=now.weekday())),
        Period(_("This month"), today.replace(day=1)),
    ]
    chart_start = today - timedelta(days=CHART_DAYS - 1)
    result = {}
    if sales:
        _sales(periods)
        result.update(
            periods=periods,
            chart=_chart(chart_start, CHART_DAYS, zone),
            statuses=_statuses(chart_start),
        )
    if panel:
        result["panel"] = _panel_day(today)
    if follow_ups:
        result["follow_ups"] = _follow_ups(now, today + timedelta(days=1))
    return result


def _follow_ups(now, tomorrow):
    """Open follow-ups due by the end of today, and those of them already overdue: one query
    over the open ones' partial index."""
    return FollowUp.objects.due_by(tomorrow).aggregate(
        due=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=now))
    )


def _sales(periods):
    """New customers, orders and paid revenue (orders placed in the period that are paid,
    shipped or completed; CNY only) for each period: one query for customers, one for orders."""
    earliest = min(p.start for p in periods)
    paid = Q(status__in=Order.SPENDING_STATUSES, currency="CNY")
    customers = Customer.objects.filter(created_at__gte=earliest).aggregate(
        **{f"c{n}": Count("pk", filter=Q(created_at__gte=p.start)) for n, p in enumerate(periods)}
    )
    orders = Order.objects.filter(placed_at__gte=earliest).aggregate(
        **{f"o{n}": Count("pk", filter=Q(placed_at__gte=p.start)) for n, p in enumerate(periods)},
        **{
            f"r{n}": Sum("total", filter=paid & Q(placed_at__gte=p.start))
            for n, p in enumerate(periods)
        },
    )
    for n, period in enumerate(periods):
        period.customers = customers[f"c{n}"]
        period.orders = orders[f"o{n}"]
        period.revenue = orders[f"r{n}"] or Decimal("0.00")


def _chart(start, days, zone):
    """Orders and paid revenue per day since `start`, as SVG columns."""
    rows = (
        Order.objects.filter(placed_at__gte=start)
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values("day")
        .annotate(
            orders=Count("pk"),
            revenue=Sum("total", filter=Q(status__in=Order.SPENDING_STATUSES, currency="CNY")),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    dates = [start.date() + timedelta(days=n) for n in range(days)]
    values = [by_day.get(d, {}).get("revenue") or Decimal("0") for d in dates]
    counts = [by_day.get(d, {}).get("orders", 0) for d in dates]
    return column_chart(dates, values, counts)


# The chart's geometry, in SVG user units; the SVG scales to the module's width.
WIDTH, HEIGHT, TOP, BOTTOM = 600, 180, 10, 20


def column_chart(dates, values, counts):
    best = max(values, default=0)
    top = best or 1
    step = WIDTH / max(len(dates), 1)
    columns = []
    for n, (day, value, count) in enumerate(zip(dates, values, counts, strict=True)):
        height = float(value) / float(top) * (HEIGHT - TOP - BOTTOM)
        columns.append(
            {
                "x": round(n * step + step * 0.15, 1),
                "y": round(HEIGHT - BOTTOM - height, 1),
                "width": round(step * 0.7, 1),
                "height": round(height, 1),
                "day": day,
                "value": value,
                "count": count,
                # A date under every seventh column, from the last one back: today is labelled.
                "label": (len(dates) - 1 - n) % 7 == 0,
                # The last column's date ends at the chart's edge instead of crossing it.
                "label_x": round(n * step + step / 2, 1) if n < len(dates) - 1 else WIDTH,
                "label_anchor": "middle" if n < len(dates) - 1 else "end",
            }
        )
    return {
        "columns": columns,
        "width": WIDTH,
        "height": HEIGHT,
        "baseline": HEIGHT - BOTTOM,
        "label_y": HEIGHT - 5,
        "best": best,
    }


def _statuses(start):
    counts = dict(
        Order.objects.filter(placed_at__gte=start)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return [(Order.Status(s).label, counts.get(s, 0)) for s in Order.Status.values]


def _panel_day(today):
    """Panel loads since midnight: by channel, with the share that showed a customer and the
    visitors nobody knew; and the agents who opened it most."""
    loads = AuditEvent.objects.filter(created_at__gte=today, action=AuditEvent.Action.VIEW)
    found = Q(outcome=AuditEvent.Outcome.OK)
    unknown = Q(outcome=AuditEvent.Outcome.UNKNOWN)
    rows = (
        loads.values("channel")
        .annotate(
            loads=Count("pk"),
            found=Count("pk", filter=found),
            unknown_visitors=Count("visitor_im_id", filter=unknown, distinct=True),
        )
        .order_by("-loads")
    )
    labels = dict(VisitorIdentity.Channel.choices)
    channels = [
        {
            "label": labels.get(row["channel"], _("Not recorded")),
            "loads": row["loads"],
            "found": row["found"],
            "found_percent": round(100 * row["found"] / row["loads"]),
            "unknown_visitors": row["unknown_visitors"],
        }
        for row in rows
    ]
    agents = list(
        loads.exclude(agent_name="")
        .values("agent_name")
        .annotate(loads=Count("pk"), customers=Count("customer", distinct=True))
        .order_by("-loads", "agent_name")[:BUSIEST_AGENTS]
    )
    total = sum(c["loads"] for c in channels)
    return {
        "loads": total,
        "found_percent": round(100 * sum(c["found"] for c in channels) / total) if total else 0,
        "unknown_visitors": sum(c["unknown_visitors"] for c in channels),
        "channels": channels,
        "agents": agents,
    }

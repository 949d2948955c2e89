"""A customer's timeline in the admin: what happened with them, newest first, in one list.

The CRM core contributes notes, follow-ups and orders; apps built around it add theirs through
`signals.customer_timeline` (the Easemob panel: the conversations it was loaded in), so the core
imports none of them.
"""

from dataclasses import dataclass
from datetime import datetime

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .signals import customer_timeline

# Entries of each kind read: a customer with years of history still gets a page that loads.
LIMIT = 100


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # a CSS-friendly code: "note", "order", "follow_up", "conversation"…
    label: str  # the kind, in the user's language
    text: str
    detail: str = ""
    url: str = ""


def timeline(customer, limit=LIMIT):
    entries = [*_notes(customer, limit), *_follow_ups(customer, limit), *_orders(customer, limit)]
    for _receiver, found in customer_timeline.send(
        sender=type(customer), customer=customer, limit=limit
    ):
        entries.extend(found or [])
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries


def _notes(customer, limit):
    for note in customer.notes.select_related("author").order_by("-created_at")[:limit]:
        yield Entry(
            at=note.created_at,
            kind="note",
            label=_("Note"),
            text=note.body,
            detail=" · ".join(filter(None, [note.written_by, note.ssid])),
        )


def _follow_ups(customer, limit):
    for follow_up in customer.follow_ups.select_related("created_by").order_by("-created_at")[
        :limit
    ]:
        state = _("Done") if follow_up.done_at else _("Open")
        yield Entry(
            at=follow_up.created_at,
            kind="follow_up",
            label=_("Follow-up"),
            text=follow_up.what,
            detail=_("due %(due)s, %(state)s") % {"due": _local(follow_up.due_at), "state": state},
            url=reverse("admin:customers_followup_change", args=[follow_up.pk]),
        )


def _orders(customer, limit):
    for order in customer.orders.order_by("-placed_at")[:limit]:
        yield Entry(
            at=order.placed_at,
            kind="order",
            label=_("Order"),
            text=f"{order.number} · {order.get_status_display()} · {order.total} {order.currency}",
            url=reverse("admin:orders_order_change", args=[order.pk]),
        )


def _local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")

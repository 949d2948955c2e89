"""The customer's open follow-ups (待回访) as the panel shows them: the next one due, and how
many are open. Shown on every load, outside the cached card, so read on every load: with a
known visitor, as subqueries of the identity query (no statement of their own)."""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Count, OuterRef, Subquery, Window
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from customers.models import FollowUp


@dataclass(frozen=True)
class Pending:
    next: FollowUp | None = None
    count: int = 0


def annotations():
    """For matching.find_identity: the next open follow-up of the identity's customer (as one
    JSON object) and the number of open ones. Both read the partial index of open follow-ups."""
    open_ones = FollowUp.objects.open().filter(customer=OuterRef("customer_id"))
    first = JSONObject(id="pk", due_at="due_at", what="what", agent_name="agent_name")
    return {
        "follow_up_next": Subquery(open_ones.order_by("due_at", "pk").values(data=first)[:1]),
        "follow_up_count": Subquery(
            open_ones.order_by().values("customer").annotate(n=Count("pk")).values("n")
        ),
    }


def from_identity(identity):
    data = identity.follow_up_next
    if not data:
        return Pending()
    follow_up = FollowUp(
        pk=data["id"],
        customer_id=identity.customer_id,
        due_at=_aware(data["due_at"]),
        what=data["what"],
        agent_name=data["agent_name"],
    )
    return Pending(next=follow_up, count=identity.follow_up_count or 1)


def for_customer(customer):
    """The same read for a customer found otherwise (bound on this load): one query."""
    follow_up = (
        FollowUp.objects.open()
        .filter(customer=customer)
        .annotate(open_count=Window(Count("pk")))
        .order_by("due_at", "pk")
        .first()
    )
    if follow_up is None:
        return Pending()
    return Pending(next=follow_up, count=follow_up.open_count)


def _aware(text):
    # PostgreSQL's JSON carries the offset; SQLite's a naive UTC time.
    moment = parse_datetime(text) if isinstance(text, str) else text
    if isinstance(moment, datetime) and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment

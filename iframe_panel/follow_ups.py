"""The customer's open follow-ups (待回访) as the panel shows them: the next one due, and how
many are open. Shown on every load, outside the cached card, so read on every load: with a
known visitor, as subqueries of the identity query (no statement of their own)."""

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Subquery, Window

from customers.models import FollowUp

# What the panel shows of the next open follow-up.
_SHOWN = ("id", "due_at", "what", "agent_name")


@dataclass(frozen=True)
class Pending:
    next: FollowUp | None = None
    count: int = 0


def annotations():
    """For matching.find_identity: the next open follow-up of the identity's customer and the
    number of open ones, as subqueries on the partial index of open follow-ups."""
    open_ones = FollowUp.objects.open().filter(customer=OuterRef("customer_id"))
    first = open_ones.order_by("due_at", "pk")
    return {
        **{f"follow_up_{name}": Subquery(first.values(name)[:1]) for name in _SHOWN},
        "follow_up_count": Subquery(
            open_ones.order_by().values("customer").annotate(n=Count("pk")).values("n")
        ),
    }


def from_identity(identity):
    if identity.follow_up_id is None:
        return Pending()
    follow_up = FollowUp(
        customer_id=identity.customer_id,
        **{name: getattr(identity, f"follow_up_{name}") for name in _SHOWN},
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

"""Contact history: the Easemob sessions (`ssid`) the panel was loaded in, per visitor and
customer, and what the panel shows of them ("3 earlier conversations, the last on 11-23 with
小美").

Bounded cost, on every load: one indexed query reads the customer's latest conversations, this
one included if it was recorded; an INSERT follows only for a session seen for the first time,
and an UPDATE at most every LAST_SEEN_RESOLUTION (or when the visitor got linked meanwhile).
"""

from dataclasses import dataclass, field

from django.db import IntegrityError
from django.db.models import BooleanField, Case, Count, OuterRef, Q, Subquery, Value, When, Window
from django.utils import timezone

from customers.models import Note

from .matching import LAST_SEEN_RESOLUTION
from .models import Conversation

# Earlier conversations listed in the panel.
SHOWN = 3


@dataclass
class History:
    # How many conversations before this one, and the latest few of them, newest first.
    earlier_count: int = 0
    earlier: list = field(default_factory=list)

    @property
    def last(self):
        return self.earlier[0] if self.earlier else None


def record(ssid, visitor_im_id, customer, channel, agent):
    """Record this load's conversation if it is new, and return the history the panel shows.

    Without an ssid (a quality check, a history view in Easemob) nothing is recorded; the
    customer's history is still shown. An unknown visitor without an ssid has none to show.
    """
    if not ssid and customer is None:
        return History()
    # Stored and looked up the same way: a longer id (the panel takes values of up to
    # PANEL_MAX_VALUE_LENGTH) would otherwise never be found, and be inserted again each time.
    ssid = ssid[: Conversation._meta.get_field("ssid").max_length]
    scope = Q(visitor_im_id=visitor_im_id)
    if customer is not None:
        scope |= Q(customer=customer)
    if ssid:
        scope |= Q(ssid=ssid)
    # The notes an agent wrote in each conversation: a lookup of the customer's notes by their
    # index, for each of the few rows read.
    notes = Note.objects.filter(customer=OuterRef("customer_id"), ssid=OuterRef("ssid"))
    rows = list(
        Conversation.objects.filter(scope)
        .annotate(
            total=Window(Count("pk")),
            current=Case(When(ssid=ssid, then=Value(True)), default=Value(False))
            if ssid
            else Value(False, output_field=BooleanField()),
            note_count=Subquery(
                notes.order_by().values("customer").annotate(n=Count("pk")).values("n")
            ),
            last_note=Subquery(notes.order_by("-created_at").values("body")[:1]),
        )
        .order_by("-current", "-first_seen_at", "-pk")[: SHOWN + 1]
    )
    current = rows[0] if rows and rows[0].current else None
    earlier = [row for row in rows if row is not current][:SHOWN]
    total = rows[0].total if rows else 0
    if ssid:
        _remember(current, ssid, visitor_im_id, customer, channel, agent)
    return History(earlier_count=total - (1 if current else 0), earlier=earlier)


def _remember(current, ssid, visitor_im_id, customer, channel, agent):
    now = timezone.now()
    customer_id = customer.pk if customer else None
    if current is None:
        try:
            # A plain INSERT, like visitor_info.merge: the panel runs in autocommit.
            Conversation.objects.create(
                ssid=ssid,
                visitor_im_id=visitor_im_id,
                customer_id=customer_id,
                channel=channel,
                agent_name=str(agent.get("name") or "")[:100],
                agent_id=str(agent.get("id") or "")[:100],
                first_seen_at=now,
                last_seen_at=now,
            )
        except IntegrityError:
            # The workbench's two iframes load at once: the other load recorded it.
            pass
        return
    linked_since = customer_id is not None and current.customer_id != customer_id
    if linked_since or now - current.last_seen_at > LAST_SEEN_RESOLUTION:
        changes = {"last_seen_at": now}
        if linked_since:
            changes["customer_id"] = customer_id
        Conversation.objects.filter(pk=current.pk).update(**changes)

"""What the panel holds about a customer, in their export and their erasure.

The CRM core sends `customers.signals.customer_data_export` and `customer_erasing` without
knowing about the panel; these receivers (connected in `apps.py`) add and erase the panel's part:
what the visitors' apps pushed (`VisitorInfo`), the conversations (contact history) and the
audit log; and the conversations to the customer's timeline in the admin.
"""

from django.db.models import Q
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.signals import customer_data_export, customer_erasing, customer_timeline
from customers.timeline import Entry

from .models import AuditEvent, Conversation, VisitorInfo

# Stands for an erased customer's visitor ids in the audit entries, which stay: who looked at
# or changed what, and when, remains on record.
ERASED_VISITOR_IM_ID = "[erased]"

# Actions whose detail is what the agent typed: a phone, a name, an email, an order number.
TYPED_DETAIL_ACTIONS = (AuditEvent.Action.LOOKUP, AuditEvent.Action.SEARCH)


def _about(customer, visitor_im_ids):
    return Q(customer=customer) | Q(visitor_im_id__in=visitor_im_ids)


@receiver(customer_data_export)
def export_panel_data(sender, customer, visitor_im_ids, **kwargs):
    infos = VisitorInfo.objects.filter(visitor_im_id__in=visitor_im_ids).order_by("visitor_im_id")
    events = AuditEvent.objects.filter(_about(customer, visitor_im_ids)).order_by("created_at")
    return {
        "visitor_info": [
            {
                "visitor_im_id": info.visitor_im_id,
                "params": info.params,
                "param_meta": info.param_meta,
                "updated_at": info.updated_at,
            }
            for info in infos
        ],
        "conversations": [
            {
                "ssid": c.ssid,
                "visitor_im_id": c.visitor_im_id,
                "channel": c.channel,
                "first_seen_at": c.first_seen_at,
                "last_seen_at": c.last_seen_at,
            }
            for c in Conversation.objects.filter(_about(customer, visitor_im_ids)).order_by(
                "first_seen_at", "pk"
            )
        ],
        # What was done with their data and when. The agent, their address and what they typed
        # are the colleagues' data, not the customer's.
        "panel_audit": [
            {
                "created_at": event.created_at,
                "action": event.action,
                "outcome": event.outcome,
                "visitor_im_id": event.visitor_im_id,
                "ssid": event.ssid,
            }
            for event in events.iterator()
        ],
    }


@receiver(customer_erasing)
def erase_panel_data(sender, customer, visitor_im_ids, **kwargs):
    VisitorInfo.objects.filter(visitor_im_id__in=visitor_im_ids).delete()
    # A session id leads back to the conversation in Easemob, and so to the visitor.
    Conversation.objects.filter(_about(customer, visitor_im_ids)).delete()

    # Lookups and searches keep what the agent typed. Cleared in the entries about the customer,
    # and wherever another search held their name, phone, email or external ID as stored (a
    # search for a namesake loses its text too; one typed as "138 0013 8000" is not found).
    typed = Q()
    for value in (customer.name, customer.phone, customer.email, customer.external_id):
        if len(value) >= 2:
            typed |= Q(detail__icontains=value)
    AuditEvent.objects.filter(action__in=TYPED_DETAIL_ACTIONS).filter(
        _about(customer, visitor_im_ids) | typed
    ).update(detail="")

    # The session id goes with the visitor id: in Easemob it leads back to the conversation,
    # and so to the visitor. The agent fields are the agents' and stay.
    AuditEvent.objects.filter(_about(customer, visitor_im_ids)).update(
        visitor_im_id=ERASED_VISITOR_IM_ID, ssid=""
    )


@receiver(customer_timeline)
def conversations_in_timeline(sender, customer, limit, **kwargs):
    """The conversations the panel was loaded in, for the customer's timeline in the admin."""
    conversations = Conversation.objects.filter(customer=customer).order_by("-first_seen_at")
    return [
        Entry(
            at=conversation.first_seen_at,
            kind="conversation",
            label=_("Conversation"),
            text=" · ".join(filter(None, [conversation.get_channel_display(), conversation.agent]))
            or conversation.ssid,
            detail=_("session %(ssid)s, last seen %(when)s")
            % {
                "ssid": conversation.ssid,
                "when": timezone.localtime(conversation.last_seen_at).strftime("%Y-%m-%d %H:%M"),
            },
            url=reverse("admin:iframe_panel_conversation_change", args=[conversation.pk]),
        )
        for conversation in conversations[:limit]
    ]

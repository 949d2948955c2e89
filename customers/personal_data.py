"""One customer's personal data: a copy for an access request, and its erasure (PIPL).

Other apps keep personal data of their own about a customer (the Easemob panel: what the
visitor's app pushed, the panel's audit log). They add it to the export and erase it through
the signals in `customers.signals`, so the CRM core imports nothing from them.

Both are recorded in the admin's log of the customer (who, when); the erasure is also in the
customer's change history, whose earlier versions it scrubs.
"""

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from orders.models import Order

from . import history
from .models import Customer, FollowUp, Note, VisitorIdentity
from .signals import customer_data_export, customer_erasing

# What the admin's history of the customer says; they name no personal data.
EXPORTED = gettext_noop("Exported the customer's personal data for an access request.")
ERASED = gettext_noop("Erased the customer's personal data.")


def erased_name(pk):
    # Stored in the database, so in the installation's language rather than in that of whoever
    # erased; the primary key keeps erased customers apart in lists and in the orders.
    with translation.override(settings.LANGUAGE_CODE):
        return gettext("Erased customer #%(pk)s") % {"pk": pk}


def export(customer, user):
    """Everything the CRM holds about `customer`, as JSON-serialisable sections; recorded."""
    visitor_im_ids = _visitor_im_ids(customer)
    data = {
        "exported_at": timezone.now(),
        "customer": {
            **_fields(customer),
            "tags": list(customer.tags.values_list("name", flat=True)),
        },
        "visitor_identities": [
            _fields(identity, exclude=("id", "customer"))
            for identity in customer.visitor_identities.order_by("first_seen_at", "pk")
        ],
        # The note and when and in which session it was written; who wrote it is a colleague's
        # personal data, not the customer's.
        "notes": [
            {"body": note.body, "ssid": note.ssid, "created_at": note.created_at}
            for note in customer.notes.order_by("created_at", "pk")
        ],
        "follow_ups": [
            {"what": f.what, "due_at": f.due_at, "created_at": f.created_at, "done_at": f.done_at}
            for f in customer.follow_ups.order_by("created_at", "pk")
        ],
        "orders": [
            {
                **_fields(order, exclude=("id", "customer")),
                "items": [_fields(item, exclude=("id", "order")) for item in order.items.all()],
            }
            for order in customer.orders.prefetch_related("items").order_by("placed_at", "pk")
        ],
    }
    for _receiver, sections in customer_data_export.send(
        sender=Customer, customer=customer, visitor_im_ids=visitor_im_ids
    ):
        data.update(sections)
    _record(user, customer, EXPORTED)
    # In the change history too, which the History page shows: a version without changes,
    # saying who took a copy and when.
    with history.recorded_as(EXPORTED, user=user):
        history.record_changes(Customer, [customer])
    return data


def erase(customer, user):
    """Erase `customer`'s personal data, in one transaction.

    Deleted: their visitor identities, notes and follow-ups (and, through `customer_erasing`,
    what other apps hold about their visitor ids). Anonymised: the customer and the personal
    fields of their orders. The customer is kept as an anonymous record rather than deleted:
    their orders must stay for the books (and refer to a customer), and an anonymous customer
    keeps the order history and the audit entries that pointed at them coherent.
    """
    with transaction.atomic():
        # Serialises two erasures of the same customer, and edits in the admin meanwhile.
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        visitor_im_ids = _visitor_im_ids(customer)
        customer_erasing.send(sender=Customer, customer=customer, visitor_im_ids=visitor_im_ids)
        placeholder = erased_name(customer.pk)
        _scrub_admin_history(customer, visitor_im_ids, placeholder)
        _scrub_change_history(customer, placeholder)
        customer.visitor_identities.all().delete()
        customer.notes.all().delete()
        customer.follow_ups.all().delete()
        customer.orders.update(
            **dict.fromkeys(Order.PERSONAL_FIELDS, ""), updated_at=timezone.now()
        )
        for field in Customer.PERSONAL_FIELDS:
            setattr(customer, field, "")
        customer.name = placeholder
        customer.gender = Customer.Gender.UNKNOWN
        with history.recorded_as(ERASED, user=user):
            customer.save()
        customer.tags.clear()
        _record(user, customer, ERASED)
    return customer


def _visitor_im_ids(customer):
    return list(customer.visitor_identities.values_list("visitor_im_id", flat=True))


def _fields(obj, exclude=()):
    return {
        field.attname: field.value_from_object(obj)
        for field in obj._meta.concrete_fields
        if field.name not in exclude
    }


def _scrub_admin_history(customer, visitor_im_ids, placeholder):
    """The admin's history names each object as it was when changed (`object_repr`): the
    customer's name, a visitor id, the start of a note. Those entries stay, under the
    placeholder."""
    types = ContentType.objects.get_for_models(Customer, VisitorIdentity, Note, FollowUp)
    identity_ids = [str(pk) for pk in customer.visitor_identities.values_list("pk", flat=True)]
    note_ids = [str(pk) for pk in customer.notes.values_list("pk", flat=True)]
    follow_up_ids = [str(pk) for pk in customer.follow_ups.values_list("pk", flat=True)]
    about = (
        Q(content_type=types[Customer], object_id=str(customer.pk))
        | Q(content_type=types[VisitorIdentity], object_id__in=identity_ids)
        # Identities deleted earlier are known only by their visitor id.
        | Q(content_type=types[VisitorIdentity], object_repr__in=visitor_im_ids)
        | Q(content_type=types[Note], object_id__in=note_ids)
        | Q(content_type=types[FollowUp], object_id__in=follow_up_ids)
    )
    LogEntry.objects.filter(about).update(object_repr=placeholder)


def _scrub_change_history(customer, placeholder):
    """The change history (customers/history.py) keeps every version of the customer and of
    their orders, with the personal data each had: those versions lose it as the records do.
    An order's versions are found by the customer they belonged to at the time, so an order
    since moved to another customer keeps only what it held under them. What changed and when
    stays (status, amounts, items, who changed them); who the person was goes."""
    Customer.history.filter(id=customer.pk).update(
        **dict.fromkeys(Customer.PERSONAL_FIELDS, ""),
        name=placeholder,
        gender=Customer.Gender.UNKNOWN,
    )
    Order.history.filter(customer_id=customer.pk).update(**dict.fromkeys(Order.PERSONAL_FIELDS, ""))


def _record(user, customer, message):
    # In the installation's language, like the placeholder name: every member of staff reads
    # the same history. The entry names the customer as the admin does (after an erasure, by
    # the placeholder).
    with translation.override(settings.LANGUAGE_CODE):
        message = gettext(message)
    LogEntry.objects.log_actions(
        user.pk, [customer], CHANGE, change_message=message, single_object=True
    )

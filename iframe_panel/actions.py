"""What an agent can do from the panel: reveal contact details, look up orders, find and link a
customer, create one, write a note, unlink a wrong binding.

Each action is called by the page's script with the page's signed action token (signing.py)
instead of a CSRF cookie, which a third-party iframe cannot rely on. Each answers JSON: a message
on success (the page then reloads to show the new state) or an error in the panel's language.
"""

import functools

from django.conf import settings
from django.core.exceptions import BadRequest, TooManyFieldsSent
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http.multipartparser import MultiPartParserError
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from customers.models import Customer, FollowUp, Note, VisitorIdentity
from customers.phones import normalize_phone
from ops.db import round_trip_limit
from orders.models import Order

from . import ratelimit, signing, visitor_info
from .forms import FollowUpForm, NewCustomerForm, NoteForm
from .masking import mask_email, mask_phone
from .matching import bind, infer_channel
from .models import AuditEvent
from .params import parse_lang
from .responses import (
    HTML_LANG,
    audit,
    json_error,
    json_response,
    retry_after,
    too_many_failures,
    too_many_loads,
)

MAX_QUERY_LENGTH = 64
SEARCH_RESULTS = 8


def _query_text(data):
    """The `q` of a lookup or search, control characters read as spaces (PostgreSQL refuses
    NUL outright)."""
    text = "".join(ch if ch.isprintable() else " " for ch in data.get("q") or "")
    return text.strip()[:MAX_QUERY_LENGTH]


class Action:
    """The request as an action sees it: its data, the token's payload, and who is acting."""

    def __init__(self, request, data, payload):
        self.request = request
        self.data = data
        self.visitor_im_id = payload["v"]
        self.ssid = payload.get("s") or ""
        self.customer_id = payload.get("c")
        self.agent = payload.get("a") or {}
        self.origin_type = payload.get("o") or ""

    def customer(self):
        if not self.customer_id:
            return None
        return Customer.objects.filter(pk=self.customer_id).first()

    def audit(self, action, outcome=AuditEvent.Outcome.OK, customer=None, detail=""):
        audit(
            self.request,
            action,
            outcome,
            visitor_im_id=self.visitor_im_id,
            customer=customer,
            agent=self.agent,
            ssid=self.ssid,
            detail=detail,
        )


def _too_many():
    return retry_after(json_error(429, _("Too many requests from this address.")))


def panel_action(audit_action, method):
    """Wrap an action: method, rate limit, panel token and signed action token checks."""

    def decorator(handler):
        @csrf_exempt  # protected by the signed action token instead; see signing.py
        @functools.wraps(handler)
        def view(request, token):
            try:
                data = request.POST if method == "POST" else request.GET
                visitor_im_id = data.get("v", "")
                action_token = data.get("t", "")
                lang = parse_lang(data.get("lang") or request.GET.get("lang", ""))
            except (TooManyFieldsSent, MultiPartParserError, BadRequest):
                # BadRequest: a url-encoded form declared in another charset than UTF-8.
                return json_error(400, _("The request is malformed."))
            with translation.override(HTML_LANG[lang]):
                if request.method != method:
                    return json_error(
                        405, _("This action needs a %(method)s request.") % {"method": method}
                    )
                address = ratelimit.client_ip(request)
                if not constant_time_compare(token, settings.PANEL_TOKEN):
                    if too_many_failures(address):
                        return _too_many()
                    return json_error(404, _("This panel address is not valid."))
                if too_many_loads(address):
                    return _too_many()
                try:
                    payload = signing.read(action_token, visitor_im_id)
                except signing.ActionTokenError as error:
                    if too_many_failures(address):
                        return _too_many()
                    audit(
                        request,
                        audit_action,
                        AuditEvent.Outcome.DENIED,
                        visitor_im_id=visitor_im_id,
                        detail=f"token {error}",
                    )
                    return json_error(
                        403, _("This panel page has expired. Reload it from the conversation.")
                    )
                with round_trip_limit(settings.PANEL_DATABASE_TIMEOUT):
                    return handler(Action(request, data, payload))

        return view

    return decorator


@panel_action(AuditEvent.Action.REVEAL, "POST")
def reveal(action):
    field = action.data.get("field", "")
    customer = action.customer()
    if field not in ("phone", "email") or customer is None:
        return json_error(400, _("Nothing to reveal."))
    action.audit(AuditEvent.Action.REVEAL, customer=customer, detail=field)
    return json_response({"value": getattr(customer, field)})


@panel_action(AuditEvent.Action.LOOKUP, "GET")
def lookup(action):
    """Orders behind an order number or phone spotted in a synced chat message, limited to the
    customer this panel shows."""
    query = _query_text(action.data)
    customer = action.customer()
    if not query:
        return json_error(400, _("Nothing to look up."))
    if customer is None:
        return json_error(404, _("This visitor is not linked to a customer yet."))
    orders = customer.orders.prefetch_related("items")
    phone = normalize_phone(query)
    if phone and phone == customer.phone:
        orders = orders.order_by("-placed_at")[:10]
        message = _("Orders of %(name)s, whose phone this is.") % {"name": customer.name}
    else:
        orders = orders.filter(number__iexact=query)
        message = ""
    found = [_order_json(order) for order in orders]
    if not found:
        message = _("No order %(query)s for this customer.") % {"query": query}
    outcome = AuditEvent.Outcome.OK if found else AuditEvent.Outcome.UNKNOWN
    action.audit(AuditEvent.Action.LOOKUP, outcome, customer=customer, detail=query)
    return json_response({"orders": found, "message": message})


def _order_json(order):
    return {
        "number": order.number,
        "status": order.status,
        "statusLabel": order.get_status_display(),
        "total": f"{order.total:.2f}",
        "currency": order.currency,
        "placedAt": order.placed_at.isoformat(),
        "carrier": order.carrier,
        "trackingNumber": order.tracking_number,
        "items": [
            {
                "name": item.product_name,
                "quantity": item.quantity,
                "unitPrice": f"{item.unit_price:.2f}",
            }
            for item in order.items.all()
        ],
    }


@panel_action(AuditEvent.Action.SEARCH, "GET")
def search(action):
    """Customers an unknown visitor might be, by phone, name, email or order number."""
    query = _query_text(action.data)
    if len(query) < 2:
        return json_error(400, _("Type at least two characters."))
    condition = Q(name__icontains=query) | Q(email__iexact=query) | Q(external_id=query)
    phone = normalize_phone(query)
    if len(phone) >= 5:
        condition |= Q(phone=phone)
    condition |= Q(pk__in=Order.objects.filter(number__iexact=query).values("customer_id"))
    customers = (
        Customer.objects.filter(condition)
        .annotate(order_count=Count("orders"))
        .order_by("name", "pk")[:SEARCH_RESULTS]
    )
    results = [
        {
            "id": customer.pk,
            "name": customer.name,
            "nickname": customer.nickname,
            "phone": mask_phone(customer.phone),
            "email": mask_email(customer.email),
            "company": customer.company,
            "orders": customer.order_count,
        }
        for customer in customers
    ]
    outcome = AuditEvent.Outcome.OK if results else AuditEvent.Outcome.UNKNOWN
    action.audit(AuditEvent.Action.SEARCH, outcome, detail=query)
    return json_response({"results": results, "message": "" if results else _("Nothing found.")})


def _bind_to(action, customer):
    """Bind the visitor to `customer` for an agent's link or create; None if it worked, else
    the error response (the visitor got bound to someone in the meantime)."""
    channel = infer_channel(action.visitor_im_id, action.origin_type)
    identity, created = bind(
        action.visitor_im_id, customer, VisitorIdentity.BoundVia.AGENT, channel
    )
    if not created and identity.customer_id != customer.pk:
        return json_error(
            409,
            _("This visitor is already linked to %(name)s. Reload the panel.")
            % {"name": identity.customer.name},
        )
    return None


@panel_action(AuditEvent.Action.LINK, "POST")
def link(action):
    try:
        customer = Customer.objects.filter(pk=int(action.data.get("customer", ""))).first()
    except ValueError:
        customer = None
    if customer is None:
        return json_error(400, _("Choose a customer from the search results."))
    conflict = _bind_to(action, customer)
    if conflict:
        return conflict
    visitor_info.forget_unlink(action.visitor_im_id, customer.pk)
    action.audit(AuditEvent.Action.LINK, customer=customer)
    return json_response({"message": _("Linked to %(name)s.") % {"name": customer.name}})


def _duplicate_external_id(fields):
    return json_error(
        409,
        _("A customer with this external ID already exists; search and link it instead."),
        fields=fields,
    )


@panel_action(AuditEvent.Action.CREATE, "POST")
def create(action):
    form = NewCustomerForm(action.data)
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        if len(fields) == 1 and form.has_error("external_id", "duplicate"):
            return _duplicate_external_id(fields)
        return json_error(400, _("Please correct the fields below."), fields=fields)
    try:
        with transaction.atomic():
            customer = form.save()
            conflict = _bind_to(action, customer)
            if conflict:
                transaction.set_rollback(True)
                return conflict
    except IntegrityError:
        # Two agents created the same customer at once: both passed the form's check, and the
        # second insert met the unique constraint. Answered like the check, and kept out of the
        # error log, whose traceback would hold the external ID.
        external_id = form.cleaned_data["external_id"]
        if not Customer.objects.filter(external_id=external_id).exists():
            raise
        return _duplicate_external_id(
            {"external_id": [_("Another customer already has this external ID.")]}
        )
    action.audit(AuditEvent.Action.CREATE, customer=customer)
    return json_response(
        {"message": _("Customer %(name)s created and linked.") % {"name": customer.name}}
    )


@panel_action(AuditEvent.Action.NOTE, "POST")
def note(action):
    customer = action.customer()
    if customer is None:
        return json_error(400, _("Link the visitor to a customer before writing a note."))
    form = NoteForm(action.data)
    if not form.is_valid():
        return json_error(400, form.errors["body"][0], fields=form.errors)
    Note.objects.create(
        customer=customer,
        body=form.cleaned_data["body"],
        agent_name=str(action.agent.get("name", ""))[:100],
        agent_id=str(action.agent.get("id", ""))[:100],
        ssid=action.ssid[:100],
    )
    action.audit(AuditEvent.Action.NOTE, customer=customer)
    return json_response({"message": _("Note saved.")})


@panel_action(AuditEvent.Action.FOLLOW_UP, "POST")
def follow_up(action):
    customer = action.customer()
    if customer is None:
        return json_error(400, _("Link the visitor to a customer before setting a follow-up."))
    form = FollowUpForm(action.data)
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        return json_error(400, _("Please correct the fields below."), fields=fields)
    form.instance.customer = customer
    form.instance.agent_name = str(action.agent.get("name", ""))[:100]
    form.instance.agent_id = str(action.agent.get("id", ""))[:100]
    form.instance.ssid = action.ssid[:100]
    form.save()
    action.audit(AuditEvent.Action.FOLLOW_UP, customer=customer)
    return json_response({"message": _("Follow-up set.")})


@panel_action(AuditEvent.Action.FOLLOW_UP_DONE, "POST")
def follow_up_done(action):
    """Close one of the customer's open follow-ups: the page's token names the customer, so an
    id of another customer's follow-up closes nothing."""
    customer = action.customer()
    try:
        follow_up_id = int(action.data.get("follow_up", ""))
    except ValueError:
        follow_up_id = None
    if customer is None or follow_up_id is None:
        return json_error(400, _("Nothing to mark as done."))
    done = FollowUp.objects.filter(pk=follow_up_id, customer=customer).mark_done(
        agent_name=str(action.agent.get("name") or action.agent.get("id") or "")[:100]
    )
    if not done:
        return json_error(409, _("This follow-up is already done. Reload the panel."))
    action.audit(AuditEvent.Action.FOLLOW_UP_DONE, customer=customer, detail=str(follow_up_id))
    return json_response({"message": _("Follow-up done.")})


@panel_action(AuditEvent.Action.UNLINK, "POST")
def unlink(action):
    customer = action.customer()
    deleted, _rows = VisitorIdentity.objects.filter(
        visitor_im_id=action.visitor_im_id, customer_id=action.customer_id
    ).delete()
    if not deleted:
        return json_error(409, _("This visitor is no longer linked to that customer."))
    visitor_info.remember_unlink(action.visitor_im_id, customer.pk)
    action.audit(AuditEvent.Action.UNLINK, customer=customer)
    return json_response(
        {"message": _("Visitor unlinked from %(name)s.") % {"name": customer.name}}
    )

"""What an agent can do from the panel: reveal contact details, look up orders, find and link a
customer, create one, write a note, set a follow-up and mark it done, unlink a wrong binding.

Each action is called by the page's script with the page's signed action token (signing.py)
instead of a CSRF cookie, which a third-party iframe cannot rely on. Each answers JSON: an error
in the panel's language, or on success a message and, for the actions that change the panel,
the part they change rendered by the page's own templates (views.visitor_part,
views._customer_html), which panel.js swaps in place.

Why fragments in a JSON answer fetched by a few lines of panel.js, rather than htmx: the panel
already posts every action with fetch (the signed token rides in the form, not in a cookie or a
header htmx would have to be taught), shows field errors from the JSON error answers, and keeps
synced messages that exist only in the page's script; one answer carries the notice, the HTML
and the new token together. htmx would add a second request path beside that script, and its
default indicator styles are an inline <style> the panel's CSP refuses.
"""

import functools
import re

from django.conf import settings
from django.core.exceptions import BadRequest, TooManyFieldsSent
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.http.multipartparser import MultiPartParserError
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.csrf import csrf_exempt

from customers import history as change_history
from customers.models import Customer, FollowUp, Note, VisitorIdentity
from customers.phones import normalize_phone
from ops.db import round_trip_limit
from orders.search import matching_customers

from . import history, ratelimit, signing, views, visitor_info
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
# A mainland mobile, as panel.js spots them in chat messages (normalized by normalize_phone).
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def _query_text(data):
    """The `q` of a lookup or search, control characters read as spaces (PostgreSQL refuses
    NUL outright)."""
    text = "".join(ch if ch.isprintable() else " " for ch in data.get("q") or "")
    return text.strip()[:MAX_QUERY_LENGTH]


class Action:
    """The request as an action sees it: its data, the token's payload, and who is acting."""

    def __init__(self, request, data, payload, lang):
        self.request = request
        self.data = data
        self.lang = lang
        self.visitor_im_id = payload["v"]
        self.ssid = payload.get("s") or ""
        self.customer_id = payload.get("c")
        self.agent = payload.get("a") or {}
        self.origin_type = payload.get("o") or ""

    def agent_label(self):
        """The agent as the change history names them: Easemob's name, else its id."""
        return str(self.agent.get("name") or self.agent.get("id") or "?")

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


# The change reason of what a panel action writes (customers/history.py): the agent acting.
BY_PANEL = gettext_noop("Panel: %(agent)s")


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
                action = Action(request, data, payload, lang)
                with (
                    round_trip_limit(settings.PANEL_DATABASE_TIMEOUT),
                    change_history.recorded_as(BY_PANEL, agent=action.agent_label()),
                ):
                    return handler(action)

        return view

    return decorator


@panel_action(AuditEvent.Action.REVEAL, "POST")
def reveal(action):
    """The full phone or email: the customer's (`phone`, `email`) or a pushed one
    (`param:<name>`, a name of PANEL_PHONE_PARAMS or PANEL_EMAIL_PARAMS)."""
    field = action.data.get("field", "")
    customer = action.customer()
    if field.startswith("param:"):
        value = _pushed_contact(action.visitor_im_id, field.removeprefix("param:"))
    elif field in ("phone", "email") and customer is not None:
        value = getattr(customer, field)
    else:
        value = None
    if not value:
        return json_error(400, _("Nothing to reveal."))
    action.audit(AuditEvent.Action.REVEAL, customer=customer, detail=field)
    return json_response({"value": value})


def _pushed_contact(visitor_im_id, name):
    if name not in settings.PANEL_PHONE_PARAMS and name not in settings.PANEL_EMAIL_PARAMS:
        return None
    info = visitor_info.load(visitor_im_id)
    return str(info.params.get(name) or "") if info else None


@panel_action(AuditEvent.Action.LOOKUP, "GET")
def lookup(action):
    """What an order number or phone spotted in a synced chat message leads to: the orders of
    the customer this panel shows; for an unknown visitor, or a phone that is not the
    customer's, the customers it belongs to, whom the agent may link to this visitor."""
    query = _query_text(action.data)
    customer = action.customer()
    if not query:
        return json_error(400, _("Nothing to look up."))
    phone = normalize_phone(query)
    if customer is None:
        return _lookup_customers(action, query, None, "")
    if phone and phone == customer.phone:
        orders = customer.orders.prefetch_related("items").order_by("-placed_at")[:10]
        message = _("Orders of %(name)s, whose phone this is.") % {"name": customer.name}
    elif _MOBILE.match(phone):
        message = _("%(phone)s is not the phone of %(name)s.") % {
            "phone": phone,
            "name": customer.name,
        }
        return _lookup_customers(action, query, customer, message)
    else:
        orders = customer.orders.prefetch_related("items").filter(number__iexact=query)
        message = ""
    found = [_order_json(order) for order in orders]
    if not found:
        message = _("No order %(query)s for this customer.") % {"query": query}
    outcome = AuditEvent.Outcome.OK if found else AuditEvent.Outcome.UNKNOWN
    action.audit(AuditEvent.Action.LOOKUP, outcome, customer=customer, detail=query)
    return json_response({"orders": found, "message": message})


def _lookup_customers(action, query, customer, message):
    """A lookup answered with the customers the query finds (the search below), each offered
    for linking; `customer`, the one the panel shows, is left out."""
    results = [r for r in _search_results(query) if not customer or r["id"] != customer.pk]
    if not results:
        nobody = _("No customer has %(query)s.") % {"query": query}
        message = f"{message} {nobody}" if message else nobody
    outcome = AuditEvent.Outcome.OK if results else AuditEvent.Outcome.UNKNOWN
    action.audit(AuditEvent.Action.LOOKUP, outcome, customer=customer, detail=query)
    return json_response({"orders": [], "results": results, "message": message})


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
    results = _search_results(query)
    outcome = AuditEvent.Outcome.OK if results else AuditEvent.Outcome.UNKNOWN
    action.audit(AuditEvent.Action.SEARCH, outcome, detail=query)
    return json_response({"results": results, "message": "" if results else _("Nothing found.")})


def _search_results(query):
    # The admin's search (orders.search): indexed lookups only, where an OR over the customers
    # and `number__iexact` read all of them and a million orders (177 ms at full size).
    customers = (
        Customer.objects.filter(pk__in=matching_customers(query))
        .annotate(order_count=Count("orders"))
        .order_by("name", "pk")[:SEARCH_RESULTS]
    )
    return [
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
    if action.customer_id and action.customer_id != customer.pk:
        conflict = _move_to(action, customer)
    else:
        conflict = _bind_to(action, customer)
    if conflict:
        return conflict
    visitor_info.forget_unlink(action.visitor_im_id, customer.pk)
    action.audit(AuditEvent.Action.LINK, customer=customer)
    return _swap_visitor(action, customer, _("Linked to %(name)s.") % {"name": customer.name})


def _move_to(action, customer):
    """A known visitor linked by the agent to another customer (a phone in the chat was
    someone else's): the binding moves, audited as the unlink it also is, and the old customer
    is remembered so that pushed values do not bind the visitor back."""
    moved = VisitorIdentity.objects.filter(
        visitor_im_id=action.visitor_im_id, customer_id=action.customer_id
    ).update(customer=customer, bound_via=VisitorIdentity.BoundVia.AGENT)
    if not moved:
        return json_error(409, _("This visitor is no longer linked to that customer."))
    visitor_info.remember_unlink(action.visitor_im_id, action.customer_id)
    action.audit(AuditEvent.Action.UNLINK, customer=action.customer(), detail="moved")
    return None


def _swap_visitor(action, customer, message):
    """The answer of link, create, unlink and the follow-ups: the notice, the panel's visitor
    part as the page renders it for `customer` (or for an unknown visitor), and a fresh action
    token naming that customer, for the actions the new part offers."""
    info = visitor_info.load(action.visitor_im_id)
    # As the page would after `bind`, which records this channel.
    channel = infer_channel(action.visitor_im_id, action.origin_type)
    # The contact history as the next load shows it; recording it here also gives the
    # conversation the customer it was just linked to.
    contact_history = history.record(
        action.ssid, action.visitor_im_id, customer, channel, action.agent
    )
    context = views.visitor_part(
        settings.PANEL_TOKEN,
        action.lang,
        action.visitor_im_id,
        customer,
        channel,
        info,
        contact_history=contact_history,
    )
    token = signing.make(
        action.visitor_im_id,
        ssid=action.ssid,
        customer_id=customer.pk if customer else None,
        agent=action.agent,
        origin_type=action.origin_type,
    )
    return json_response(
        {"message": message, "visitor": views.render_visitor_part(context), "token": token}
    )


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
    return _swap_visitor(
        action, customer, _("Customer %(name)s created and linked.") % {"name": customer.name}
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
    # The notes as the next load shows them: the cached card's own rendering, under the
    # revision the new note gave the customer (customers/revisions.py).
    customer.refresh_from_db(fields=["revision"])
    notes = views._customer_html(customer, action.lang)["notes"]
    return json_response({"message": _("Note saved."), "notes": str(notes)})


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
    return _swap_visitor(action, customer, _("Follow-up set."))


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
    return _swap_visitor(action, customer, _("Follow-up done."))


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
    return _swap_visitor(
        action, None, _("Visitor unlinked from %(name)s.") % {"name": customer.name}
    )

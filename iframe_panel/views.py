"""The panel Easemob's workbench loads in its iframe, and the small actions the page calls.

Every request is untrusted: the token is compared in constant time, parameters are decoded by
`params`, and every failure renders a small page (or JSON) in the panel's language with a 4xx
status and what to check.
"""

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from customers.models import Customer, VisitorIdentity
from customers.phones import normalize_phone

from . import ratelimit, signing, visitor_info
from .matching import infer_channel, match_visitor
from .models import AuditEvent
from .params import ParamError, decode_params, parse_lang

HTML_LANG = {"zh": "zh-hans", "en": "en"}

# Everything the page needs is served by us; nothing inline, nothing from elsewhere.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'"
)


def _session_labels():
    # Built per request so that the labels follow the panel's language.
    return {
        "agentName": _("Agent"),
        "agentId": _("Agent ID"),
        "email": _("Agent email"),
        "ssid": _("Session ID"),
        "tenantId": _("Tenant ID"),
        "userId": _("Easemob visitor ID"),
        "nickname": _("Nickname in Easemob"),
        "trueName": _("Name in Easemob"),
        "desc": _("Description in Easemob"),
        "originType": _("Channel"),
        "techChannelName": _("Channel name"),
        "serviceNumber": _("Service number"),
    }


def _frameable(response):
    """The panel may be framed by the Easemob workbench, and by nothing else."""
    ancestors = " ".join(settings.PANEL_FRAME_ANCESTORS) or "'none'"
    response["Content-Security-Policy"] = f"{_CSP}; frame-ancestors {ancestors}"
    # Personal data: never stored by a browser or proxy cache.
    response["Cache-Control"] = "no-store"
    response.xframe_options_exempt = True
    return response


def _error_page(request, lang, status, message, hint=""):
    response = render(
        request,
        "iframe_panel/error.html",
        {"html_lang": HTML_LANG[lang], "message": message, "hint": hint, "status": status},
        status=status,
    )
    return _frameable(response)


def _query(request):
    """The query parameters, or None when there are more than Django will parse."""
    try:
        return request.GET
    except TooManyFieldsSent:
        return None


def _audit(
    request,
    action,
    outcome,
    *,
    visitor_im_id="",
    customer=None,
    agent=None,
    ssid="",
    tenant_id="",
    detail="",
):
    agent = agent or {}
    AuditEvent.objects.create(
        action=action,
        outcome=outcome,
        visitor_im_id=visitor_im_id[:255],
        customer=customer,
        agent_name=agent.get("name", "")[:100],
        agent_id=agent.get("id", "")[:100],
        agent_email=agent.get("email", "")[:254],
        tenant_id=tenant_id[:64],
        ssid=ssid[:100],
        ip=ratelimit.client_ip(request),
        detail=detail[:300],
    )


def _rate_limited(address):
    return ratelimit.exceeded("failure", address, settings.PANEL_FAILURE_RATE_LIMIT) or not (
        ratelimit.hit("load", address, settings.PANEL_RATE_LIMIT)
    )


def _count_failure(address):
    ratelimit.hit("failure", address, settings.PANEL_FAILURE_RATE_LIMIT)


def panel(request, token):
    query = _query(request)
    lang = parse_lang(query.get("lang") if query is not None else "")
    with translation.override(HTML_LANG[lang]):
        return _panel(request, token, query, lang)


def _panel(request, token, query, lang):
    address = ratelimit.client_ip(request)
    if _rate_limited(address):
        return _error_page(
            request,
            lang,
            429,
            _("Too many requests from this address."),
            _("Wait a minute, then switch conversations again."),
        )
    if not constant_time_compare(token, settings.PANEL_TOKEN):
        _count_failure(address)
        return _error_page(
            request,
            lang,
            404,
            _("This panel address is not valid."),
            _(
                "Check the URL in Easemob's iframe settings: it must end with "
                "/panel/<PANEL_TOKEN>/."
            ),
        )
    if request.method not in ("GET", "HEAD"):
        return _error_page(request, lang, 405, _("The panel only answers GET requests."))
    try:
        if query is None:
            raise ParamError("too_many_params", _("The request has too many parameters."))
        params = decode_params(
            query,
            key=settings.EASEMOB_IFRAME_KEY,
            encrypt_system=settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS,
            max_params=settings.PANEL_MAX_PARAMS,
            max_value_length=settings.PANEL_MAX_VALUE_LENGTH,
            call_names=settings.PANEL_CALL_PARAMS,
        )
    except ParamError as error:
        _count_failure(address)
        raw_visitor = query.get("visitorImId", "") if query is not None else ""
        _audit(
            request,
            AuditEvent.Action.VIEW,
            AuditEvent.Outcome.BAD_REQUEST,
            visitor_im_id=raw_visitor,
            detail=error.code,
        )
        return _error_page(request, lang, 400, error.message, error.hint)

    visitor_im_id = params.visitor_im_id
    if params.custom:
        info = visitor_info.merge(visitor_im_id, params.custom)
    else:
        info = visitor_info.load(visitor_im_id)
    trusted = visitor_info.trusted(info)
    trusted.update({n: v.text for n, v in params.call.items() if not v.unverified})
    origin_type = params.session_text("originType")
    match = match_visitor(visitor_im_id, trusted, origin_type=origin_type)
    customer = match.customer

    agent = {
        "name": params.session_text("agentName"),
        "id": params.session_text("agentId"),
        "email": params.session_text("email"),
    }
    audit = {
        "visitor_im_id": visitor_im_id,
        "customer": customer,
        "agent": agent,
        "ssid": params.session_text("ssid"),
        "tenant_id": params.session_text("tenantId"),
    }
    if match.bound:
        _audit(request, AuditEvent.Action.BIND, AuditEvent.Outcome.OK, detail=match.via, **audit)
    outcome = AuditEvent.Outcome.OK if customer else AuditEvent.Outcome.UNKNOWN
    _audit(request, AuditEvent.Action.VIEW, outcome, **audit)

    labels = _session_labels()
    context = {
        "html_lang": HTML_LANG[lang],
        "lang": lang,
        "token": token,
        "visitor_im_id": visitor_im_id,
        "channel": match.identity.get_channel_display()
        if match.identity
        else _channel_label(infer_channel(visitor_im_id, origin_type)),
        "match": match,
        "customer": customer,
        "visitor_info": visitor_info.entries(info),
        "session": [(labels[n], params.session[n]) for n in labels if n in params.session],
        "call": sorted(params.call.items()),
        "action_token": signing.make(
            visitor_im_id,
            ssid=params.session_text("ssid"),
            customer_id=customer.pk if customer else None,
            agent=agent,
            lang=lang,
        ),
        "strings": {
            "lookup": _("Look up"),
            "failed": _("That did not work. Reload the panel and try again."),
            "noResult": _("Nothing found."),
        },
        "panel_config": {
            "frameOrigins": settings.PANEL_FRAME_ANCESTORS,
            "orderPattern": settings.PANEL_ORDER_NUMBER_PATTERN,
        },
    }
    if customer:
        context.update(
            summary=customer.order_summary(),
            orders=customer.recent_orders(),
            notes=customer.latest_notes(),
        )
    return _frameable(render(request, "iframe_panel/panel.html", context))


def _channel_label(channel):
    return VisitorIdentity.Channel(channel).label


# --- Actions called by the page (JSON) --------------------------------------------------------


def _json_error(status, message):
    return _frameable(JsonResponse({"error": message}, status=status))


def _action(request, token, handler):
    """Common checks of the page's actions: rate limit, panel token, signed action token."""
    data = request.POST if request.method == "POST" else request.GET
    address = ratelimit.client_ip(request)
    try:
        visitor_im_id = data.get("v", "")
        action_token = data.get("t", "")
    except (TooManyFieldsSent, MultiPartParserError):
        return _json_error(400, _("The request is malformed."))
    lang = parse_lang(data.get("lang", ""))
    with translation.override(HTML_LANG[lang]):
        if _rate_limited(address):
            return _json_error(429, _("Too many requests from this address."))
        if not constant_time_compare(token, settings.PANEL_TOKEN):
            _count_failure(address)
            return _json_error(404, _("This panel address is not valid."))
        try:
            payload = signing.read(action_token, visitor_im_id)
        except signing.ActionTokenError as error:
            _count_failure(address)
            _audit(
                request,
                handler.action,
                AuditEvent.Outcome.DENIED,
                visitor_im_id=visitor_im_id,
                detail=f"token {error}",
            )
            return _json_error(
                403, _("This panel page has expired. Reload it from the conversation.")
            )
        return handler(request, data, payload)


def _customer_of(payload):
    if not payload.get("c"):
        return None
    return Customer.objects.filter(pk=payload["c"]).first()


def _payload_audit(payload, customer):
    return {
        "visitor_im_id": payload["v"],
        "customer": customer,
        "agent": payload.get("a") or {},
        "ssid": payload.get("s") or "",
    }


def _reveal(request, data, payload):
    field = data.get("field", "")
    customer = _customer_of(payload)
    if field not in ("phone", "email") or customer is None:
        return _json_error(400, _("Nothing to reveal."))
    _audit(
        request,
        AuditEvent.Action.REVEAL,
        AuditEvent.Outcome.OK,
        detail=field,
        **_payload_audit(payload, customer),
    )
    return _frameable(JsonResponse({"value": getattr(customer, field)}))


_reveal.action = AuditEvent.Action.REVEAL


def _lookup(request, data, payload):
    query = (data.get("q") or "").strip()[:64]
    customer = _customer_of(payload)
    if not query:
        return _json_error(400, _("Nothing to look up."))
    if customer is None:
        return _json_error(404, _("This visitor is not linked to a customer yet."))
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
    _audit(
        request,
        AuditEvent.Action.LOOKUP,
        AuditEvent.Outcome.OK if found else AuditEvent.Outcome.UNKNOWN,
        detail=query,
        **_payload_audit(payload, customer),
    )
    return _frameable(JsonResponse({"orders": found, "message": message}))


_lookup.action = AuditEvent.Action.LOOKUP


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


@csrf_exempt  # protected by the signed action token instead; see signing.py
def reveal(request, token):
    if request.method != "POST":
        return _json_error(405, _("Use POST."))
    return _action(request, token, _reveal)


def lookup(request, token):
    return _action(request, token, _lookup)

"""The panel Easemob's workbench loads in its iframe.

Every request is untrusted: the token is compared in constant time, parameters are decoded by
`params`, and every failure renders a small page in the panel's language with a 4xx status and
what to check.
"""

import functools
import hashlib
from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import TooManyFieldsSent
from django.shortcuts import render
from django.template.loader import get_template, render_to_string
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from markupsafe import Markup

from customers.models import VisitorIdentity
from ops.db import round_trip_limit
from orders import replies
from orders.models import Order, ReplyTemplate

from . import follow_ups, history, ratelimit, signing, visitor_info
from .forms import FollowUpForm, NewCustomerForm
from .matching import Match, channel_label, find_identity, infer_channel, match_by_params
from .models import AuditEvent
from .params import ParamError, decode_params, parse_lang
from .responses import (
    HTML_LANG,
    audit,
    error_page,
    frameable,
    raw_lang,
    retry_after,
    too_many_failures,
    too_many_loads,
)

# Pushed parameter names that may carry the visitor's real name, in order of preference.
NAME_PARAMS = ("name", "trueName", "realName", "userName", "username")


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


def _query(request):
    """The query parameters, or None when there are more than Django will parse."""
    try:
        return request.GET
    except TooManyFieldsSent:
        return None


@csrf_exempt  # GET only: a POST gets the 405 page in the panel's language, not a CSRF failure
def panel(request, token):
    query = _query(request)
    lang = parse_lang(query.get("lang") if query is not None else raw_lang(request))
    # The agent's workbench waits for this page: a lock or a stalled database costs it
    # PANEL_DATABASE_TIMEOUT seconds and the 503 page, not the length of the stall.
    with translation.override(HTML_LANG[lang]), round_trip_limit(settings.PANEL_DATABASE_TIMEOUT):
        response = _panel(request, token, query, lang)
    # The panel's language is Easemob's `lang`, not the browser's Accept-Language.
    response["Content-Language"] = HTML_LANG[lang]
    return response


@functools.cache
def _identity_annotations():
    """Built once per process: the expressions are the same on every load, and Django copies
    them as it resolves them into a query. Building them took 0.5 ms of CPU a load."""
    return {
        **visitor_info.annotations(),
        **follow_ups.annotations(),
        "replies_revision": ReplyTemplate.revision_sum(),
    }


def _too_many(request, lang):
    page = error_page(
        request,
        lang,
        429,
        _("Too many requests from this address."),
        _("Wait a minute, then switch conversations again."),
    )
    return retry_after(page)


def _panel(request, token, query, lang):
    address = ratelimit.client_ip(request)
    if not constant_time_compare(token, settings.PANEL_TOKEN):
        if too_many_failures(address):
            return _too_many(request, lang)
        return error_page(
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
        return error_page(request, lang, 405, _("The panel only answers GET requests."))
    if too_many_loads(address):
        return _too_many(request, lang)
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
        if too_many_failures(address):
            # Past the budget the failure is not audited either: the log stays readable.
            return _too_many(request, lang)
        raw_visitor = query.get("visitorImId", "") if query is not None else ""
        audit(
            request,
            AuditEvent.Action.VIEW,
            AuditEvent.Outcome.BAD_REQUEST,
            visitor_im_id=raw_visitor,
            detail=error.code,
        )
        return error_page(request, lang, 400, error.message, error.hint)

    visitor_im_id = params.visitor_im_id
    # A known visitor's identity, customer, pushed info, open follow-up and the revision of the
    # reply templates, in one statement.
    identity = find_identity(visitor_im_id, annotations=_identity_annotations())
    info = visitor_info.from_identity(identity) if identity else visitor_info.load(visitor_im_id)
    if params.custom:
        info = visitor_info.merge(visitor_im_id, params.custom, info=info)
    trusted = visitor_info.trusted(info)
    trusted.update({n: v.text for n, v in params.call.items() if not v.unverified})
    origin_type = params.session_text("originType")
    if identity:
        match = Match(customer=identity.customer, identity=identity, via="identity")
        pending = follow_ups.from_identity(identity)
    else:
        match = match_by_params(
            visitor_im_id,
            trusted,
            origin_type=origin_type,
            exclude_customer_ids=info.unlinked_customer_ids if info else (),
        )
        pending = follow_ups.for_customer(match.customer) if match.customer else None
    customer = match.customer

    agent = {
        "name": params.session_text("agentName"),
        "id": params.session_text("agentId"),
        "email": params.session_text("email"),
    }
    who = {
        "visitor_im_id": visitor_im_id,
        "customer": customer,
        "agent": agent,
        "ssid": params.session_text("ssid"),
        "tenant_id": params.session_text("tenantId"),
    }
    channel = (
        match.identity.channel if match.identity else infer_channel(visitor_im_id, origin_type)
    )
    if match.bound:
        audit(request, AuditEvent.Action.BIND, AuditEvent.Outcome.OK, detail=match.via, **who)
    outcome = AuditEvent.Outcome.OK if customer else AuditEvent.Outcome.UNKNOWN
    audit(request, AuditEvent.Action.VIEW, outcome, channel=channel, **who)
    contact_history = history.record(who["ssid"], visitor_im_id, customer, channel, agent)
    context = {
        "html_lang": HTML_LANG[lang],
        "lang": lang,
        "token": token,
        "visitor_im_id": visitor_im_id,
        "match": match,
        "customer": customer,
        "session": _session(params),
        "call": sorted(params.call.items()),
        "action_token": signing.make(
            visitor_im_id,
            ssid=params.session_text("ssid"),
            customer_id=customer.pk if customer else None,
            agent=agent,
            origin_type=origin_type,
        ),
        "strings": {
            "lookup": _("Look up"),
            "link": _("Link to this visitor"),
            "noResult": _("Nothing found."),
            "failed": _("That did not work. Reload the panel and try again."),
            "copied": _("Copied"),
        },
        "panel_config": {
            "frameOrigins": settings.PANEL_FRAME_ANCESTORS,
            "orderPattern": settings.PANEL_ORDER_NUMBER_PATTERN,
        },
        **visitor_part(
            token,
            lang,
            visitor_im_id,
            customer,
            channel,
            info,
            session=params.session,
            trusted=trusted,
            pending=pending,
            contact_history=contact_history,
            replies_revision=identity.replies_revision if identity else None,
        ),
    }
    return frameable(render(request, "iframe_panel/panel.html", context, using="jinja2"))


def _session(params):
    """The session card's rows: Easemob's session parameters under their labels, the channel
    (`originType`, a code such as `webim`) under its name in the panel's language."""
    labels = _session_labels()
    rows = []
    for name in labels:
        value = params.session.get(name)
        if value is None:
            continue
        if name == "originType":
            value = replace(value, text=channel_label(value.text) or value.text)
        rows.append((labels[name], value))
    return rows


def visitor_part(
    token,
    lang,
    visitor_im_id,
    customer,
    channel,
    info,
    session=None,
    trusted=None,
    pending=None,
    contact_history=None,
    replies_revision=None,
):
    """What `_visitor.html` shows: the customer's card, open follow-up, contact history and
    notes, or the unknown visitor's search and new-customer form, with the pushed values. The
    page renders it, and so do link, create, unlink and the follow-ups (actions.py) to swap it
    in place: one rendering for both, so the panel after an action and the next full load
    agree. An action has no session parameters and prefills the new-customer form from the
    pushed values alone. The page passes what it read with the visitor's identity (`pending`,
    `replies_revision`); an action leaves them to be read here."""
    context = {
        "token": token,
        "visitor_im_id": visitor_im_id,
        "customer": customer,
        "channel": VisitorIdentity.Channel(channel).label,
        "visitor_info": visitor_info.entries(info),
        "masked_params": _masked_params(),
    }
    if customer:
        context["customer_html"] = _customer_html(customer, lang, replies_revision)
        context["follow_ups"] = pending or follow_ups.for_customer(customer)
        context["history"] = contact_history or history.History()
        context["follow_up_form"] = FollowUpForm()
    else:
        if trusted is None:
            trusted = visitor_info.trusted(info)
        context["new_customer_form"] = NewCustomerForm(initial=_prefill(session or {}, trusted))
    return context


def render_visitor_part(context):
    return render_to_string("iframe_panel/_visitor.html", context, using="jinja2")


def _masked_params():
    """Pushed parameters shown masked until the agent asks (and the reveal is audited), as the
    card's phone and email are: name -> "phone" or "email"."""
    masked = dict.fromkeys(settings.PANEL_PHONE_PARAMS, "phone")
    masked.update(dict.fromkeys(settings.PANEL_EMAIL_PARAMS, "email"))
    return masked


@functools.cache
def _card_version():
    """What the cached card was rendered with besides the customer: its templates, the filters
    and the translations. A deploy that changes any of them renders every card afresh, instead
    of serving the old release's cards from Redis until they expire."""
    here = Path(__file__).resolve().parent
    sources = [
        here / "jinja2" / "iframe_panel" / "_customer.html",
        here / "jinja2" / "iframe_panel" / "_orders.html",
        here / "jinja2" / "iframe_panel" / "_notes.html",
        here / "jinja_env.py",
        here / "masking.py",
        Path(settings.BASE_DIR, "orders", "replies.py"),
        *sorted(Path(settings.BASE_DIR, "locale").glob("*/LC_MESSAGES/django.mo")),
    ]
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def _customer_html(customer, lang, replies_revision=None):
    """The customer's card, order summary and recent orders, and notes, rendered once per revision
    of the customer and language, and cached under both: the same agents switch back and forth
    between the same few conversations all day. A change to the customer or to anything of
    theirs changes the revision (Customer.revision), so the next load renders afresh whatever
    the cache holds; with the cache server down, the fallback cache or a fresh render serve the
    same page.

    Each order carries a copy-ready reply from the staff's reply templates: the key carries
    their revision too (`replies_revision`, ReplyTemplate.revision_sum; read here if None), so
    that an edit shows on the next load of every customer. Read with the visitor's identity, it
    costs no statement; touching every customer instead would rewrite every row of the table on each
    edit (measured: 3.1 s for 100,000 customers, every row locked meanwhile)."""
    if replies_revision is None:
        replies_revision = ReplyTemplate.current_revision()
    key = (
        f"panel:customer:{customer.pk}:{customer.revision}:{lang}:{_card_version()}"
        f":{replies_revision}"
    )
    seconds = settings.PANEL_CACHE_SECONDS
    parts = cache.get(key) if seconds else None
    if parts is None:
        language = HTML_LANG[lang]
        summary, orders = Order.objects.overview(
            customer, annotations={"reply_template": ReplyTemplate.text_for(language)}
        )
        for order in orders:
            order.reply = replies.render(order.reply_template, order, language)
        card = {"customer": customer, "summary": summary, "orders": orders}
        parts = {
            # The card and the orders apart: synced messages go between them (_visitor.html).
            "card": get_template("iframe_panel/_customer.html", using="jinja2").render(card),
            "orders": get_template("iframe_panel/_orders.html", using="jinja2").render(card),
            "notes": get_template("iframe_panel/_notes.html", using="jinja2").render(
                {"notes": customer.latest_notes()}
            ),
        }
        if seconds:
            cache.set(key, parts, seconds)
    # Rendered (and escaped) by our own templates above.
    return {name: Markup(html) for name, html in parts.items()}  # noqa: S704


def _prefill(session, trusted):
    """A new customer's fields from what is known about the visitor: Easemob's own name and
    nickname for them (`session`, empty when an action renders the form), and what their app
    pushed. Never the agent's `email`."""

    def verified_session(name):
        value = session.get(name)
        return value.text if value and not value.unverified else ""

    def first(names):
        return next((trusted[n] for n in names if trusted.get(n)), "")

    nickname = verified_session("nickname") or trusted.get("nickname", "")
    return {
        "name": first(NAME_PARAMS) or verified_session("trueName") or nickname,
        "nickname": nickname,
        "phone": first(settings.PANEL_PHONE_PARAMS),
        "email": first(settings.PANEL_EMAIL_PARAMS),
        "external_id": trusted.get("customUserId", ""),
    }

"""A local stand-in for Easemob's agent workbench, so a team can try the whole integration —
the iframe URL, DES parameters, cmd messages, message sync — before paying for the edition
of Easemob that has iframes (DESIGN.md, "The Easemob protocol").

Staff only, and only while `SIMULATOR_ENABLED`. The iframe URL is built here rather than in
the browser because the parameters are DES-encrypted exactly as Easemob would, with the
configured key.
"""

import json
import unicodedata
import uuid
from dataclasses import dataclass, field
from functools import wraps
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.db.models import Exists, OuterRef
from django.http import Http404, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from customers.models import VISITOR_IM_ID_MAX_LENGTH, Customer, VisitorIdentity
from orders.models import Order

from . import crypto
from .matching import infer_channel
from .params import LANG_PARAM, MAX_NAME_LENGTH, SESSION_PARAMS, SYSTEM_PARAMS, parse_lang
from .responses import HTML_LANG

# Easemob's `originType` for each of our channels.
ORIGIN_TYPES = {
    VisitorIdentity.Channel.WEB: "webim",
    VisitorIdentity.Channel.APP: "app",
    VisitorIdentity.Channel.WECHAT: "weixin",
    VisitorIdentity.Channel.WEIBO: "weibo",
    VisitorIdentity.Channel.WECOM: "wxwork",
    VisitorIdentity.Channel.OTHER: "",
}
# The IM service number in Easemob's own example URL; the tenant id is made up.
EASEMOB_ID = "107937"
TENANT_ID = "66032"
# Visitors no customer is linked to. Their ids have the shapes of the real channels' ids, and
# are fixed so that browser tests and people can find them again.
NEW_WEB_VISITOR = "webim-visitor-SIMNEWVISITOR00001"
NEW_WECHAT_VISITOR = "oSimNewWeChatVisitor00000001"
# Pushes the `customUserId` of an existing customer, so sending its cmd message links it.
NEW_APP_VISITOR = "app-user-SIMNEWAPP00001"
KNOWN_PER_CHANNEL = 2
# Documented in Easemob's example of a cmd message.
EXAMPLE_PARAMS = {"name": "Jack", "age": "40", "sex": "man"}
FALLBACK_PHONE = "13800138000"
MAX_BODY_BYTES = 64 * 1024

_SIMULATOR_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


@dataclass
class SimVisitor:
    visitor_im_id: str
    channel: str
    nickname: str
    customer: Customer | None = None
    suggested_params: dict = field(default_factory=dict)
    sample_message: str = ""
    frame_url: str = ""

    @property
    def origin_type(self):
        return ORIGIN_TYPES.get(self.channel, "")

    @property
    def channel_label(self):
        return VisitorIdentity.Channel(self.channel).label


class BadRequest(Exception):
    pass


def _enabled(view):
    """404 unless the simulator is switched on: in production it does not exist."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not settings.SIMULATOR_ENABLED:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _order_question(customer):
    order = customer.orders.order_by("-placed_at").first()
    if order is None:
        return _("Hello, I have a question about my account.")
    return _("My order %(number)s — when will it ship?") % {"number": order.number}


def _phone_question(phone):
    return _("Hi, my phone number is %(phone)s, can you check my orders?") % {"phone": phone}


def conversations():
    """The simulated workbench's conversations: demo visitors of customers with orders on each
    channel, then visitors nobody is linked to yet."""
    with_orders = Exists(Order.objects.filter(customer=OuterRef("customer")))
    identities = (
        VisitorIdentity.objects.filter(with_orders)
        .exclude(visitor_im_id__in=[NEW_WEB_VISITOR, NEW_WECHAT_VISITOR, NEW_APP_VISITOR])
        .select_related("customer")
        .order_by("customer_id", "pk")
    )
    visitors = []
    for channel in ORIGIN_TYPES:
        for identity in identities.filter(channel=channel)[:KNOWN_PER_CHANNEL]:
            customer = identity.customer
            visitors.append(
                SimVisitor(
                    identity.visitor_im_id,
                    channel,
                    customer.nickname or customer.name,
                    customer=customer,
                    suggested_params=dict(EXAMPLE_PARAMS),
                    sample_message=_order_question(customer),
                )
            )

    with_orders_customers = Customer.objects.filter(
        Exists(Order.objects.filter(customer=OuterRef("pk")))
    ).order_by("pk")
    phone = (
        with_orders_customers.exclude(phone="").values_list("phone", flat=True).first()
        or FALLBACK_PHONE
    )
    visitors.append(
        SimVisitor(
            NEW_WEB_VISITOR,
            VisitorIdentity.Channel.WEB,
            _("New web visitor"),
            suggested_params=dict(EXAMPLE_PARAMS),
            sample_message=_phone_question(phone),
        )
    )
    visitors.append(
        SimVisitor(
            NEW_WECHAT_VISITOR,
            VisitorIdentity.Channel.WECHAT,
            _("New WeChat follower"),
            suggested_params={"source": "公众号菜单", "city": "杭州"},
            sample_message=_phone_question(phone),
        )
    )
    # A customer with no app visitor id of their own (the simulator's app visitor aside): the
    # app visitor's cmd message carries their customUserId, and the panel links the two.
    other_app_ids = VisitorIdentity.objects.filter(
        customer=OuterRef("pk"), channel=VisitorIdentity.Channel.APP
    ).exclude(visitor_im_id=NEW_APP_VISITOR)
    app_customer = (
        with_orders_customers.exclude(external_id="").filter(~Exists(other_app_ids)).first()
    )
    app_params = {"customUserId": app_customer.external_id} if app_customer else {}
    if app_customer:
        app_params["name"] = app_customer.name
    visitors.append(
        SimVisitor(
            NEW_APP_VISITOR,
            VisitorIdentity.Channel.APP,
            _("New app user"),
            suggested_params=app_params or dict(EXAMPLE_PARAMS),
            sample_message=_order_question(app_customer) if app_customer else "",
        )
    )
    return visitors


def _agent(user):
    return {
        "agentName": user.get_full_name() or user.get_username(),
        # Easemob's agent ids are UUIDs; a fixed one per staff user.
        "agentId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm-simulator-agent:{user.pk}")),
        "email": user.email,
    }


def _session(visitor_im_id, channel, nickname, user):
    session = {
        "ssid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm-simulator-session:{visitor_im_id}")),
        **_agent(user),
        "tenantId": TENANT_ID,
        "originType": ORIGIN_TYPES.get(channel, ""),
        "nickname": nickname,
    }
    return {name: value for name, value in session.items() if value}


def frame_url(visitor_im_id, session, lang, custom=None, encrypt_app_side=False):
    """The panel URL as Easemob's workbench requests it, and the cmd message an app sends.

    Order as Easemob writes it: the params pushed by the cmd message, the system params, the
    value-added session params, `lang`. With a key, Easemob encrypts the session params, and the
    system params when 同时加密系统参数 is ticked; pushed params arrive as the app sent them
    (encrypted only if the app encrypted them); `lang` never.
    """
    key = settings.EASEMOB_IFRAME_KEY

    def encrypted(value, really):
        return crypto.encrypt(value, key) if key and really else value

    pushed = {name: encrypted(value, encrypt_app_side) for name, value in (custom or {}).items()}
    system = {"easemobId": EASEMOB_ID, "visitorImId": visitor_im_id, "to": visitor_im_id}
    query = [
        *pushed.items(),
        *((n, encrypted(v, settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS)) for n, v in system.items()),
        *((n, encrypted(v, True)) for n, v in session.items()),
        (LANG_PARAM, lang),
    ]
    url = reverse("iframe_panel:panel", args=[settings.PANEL_TOKEN]) + "?" + urlencode(query)
    message = {"ext": {"cmd": {"updateVisitorInfoSrc": {"params": pushed}}}}
    return url, message


def _page_lang(request):
    return parse_lang(request.GET.get("lang") or getattr(request, "LANGUAGE_CODE", ""))


@_enabled
@require_GET
def workbench(request):
    # The admin site's own check: staff, and with ADMIN_TWO_FACTOR on, a verified second factor.
    if not admin.site.has_permission(request):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    lang = _page_lang(request)
    with translation.override(HTML_LANG[lang]):
        return _workbench(request, lang)


def _workbench(request, lang):
    visitors = conversations()
    selected = next(
        (v for v in visitors if v.visitor_im_id == request.GET.get("visitor")), visitors[0]
    )
    data = []
    for visitor in visitors:
        url, _message = frame_url(
            visitor.visitor_im_id,
            _session(visitor.visitor_im_id, visitor.channel, visitor.nickname, request.user),
            lang,
        )
        visitor.frame_url = url
        data.append(
            {
                "visitorImId": visitor.visitor_im_id,
                "nickname": visitor.nickname,
                "channel": visitor.channel,
                "known": visitor.customer is not None,
                "frameUrl": url,
                "suggestedParams": visitor.suggested_params,
                "sampleMessage": visitor.sample_message,
            }
        )
    config = {
        "lang": lang,
        "frameUrlEndpoint": reverse("simulator:frame_url"),
        "csrfCookieName": settings.CSRF_COOKIE_NAME,
        # Also sets the CSRF cookie the frame-url requests need.
        "csrfToken": get_token(request),
        "visitors": data,
        "strings": {
            "badJson": _("The params are not valid JSON."),
            "failed": _("The request failed. Is the server running?"),
            "cmdSent": _("The visitor's app sent an updateVisitorInfoSrc cmd message."),
            "empty": _("Type a message first."),
        },
    }
    context = {
        "html_lang": HTML_LANG[lang],
        "lang": lang,
        "visitors": visitors,
        "selected": selected,
        "frame_url": request.build_absolute_uri(selected.frame_url),
        "key_set": bool(settings.EASEMOB_IFRAME_KEY),
        "encrypt_system": settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS,
        "config": config,
    }
    response = render(request, "iframe_panel/simulator.html", context)
    response["Content-Security-Policy"] = _SIMULATOR_CSP
    return response


def _json_error(message, status=400):
    return JsonResponse({"error": message}, status=status)


@_enabled
@require_POST
def frame_url_view(request):
    """POST {visitor, params, encryptAppSide, lang} → {url, cmdMessage}."""
    if not admin.site.has_permission(request):
        return _json_error(_("Log in to the admin as a staff user first."), status=403)
    try:
        body = _parse_body(request)
        visitor_im_id = _visitor(body.get("visitor"))
        custom = _custom_params(body.get("params", {}))
        encrypt_app_side = body.get("encryptAppSide", False)
        if not isinstance(encrypt_app_side, bool):
            raise BadRequest(_("“encryptAppSide” must be true or false."))
        if encrypt_app_side and not settings.EASEMOB_IFRAME_KEY:
            raise BadRequest(
                _("No EASEMOB_IFRAME_KEY is configured, so there is no key to encrypt with.")
            )
        lang = body.get("lang", "zh")
        if not isinstance(lang, str):
            raise BadRequest(_("“lang” must be a string."))
        lang = parse_lang(lang)
        with translation.override(HTML_LANG[lang]):
            visitor = next((v for v in conversations() if v.visitor_im_id == visitor_im_id), None)
        if visitor:
            channel, nickname = visitor.channel, visitor.nickname
        else:
            identity = VisitorIdentity.objects.filter(visitor_im_id=visitor_im_id).first()
            channel = identity.channel if identity else infer_channel(visitor_im_id)
            nickname = ""
        url, message = frame_url(
            visitor_im_id,
            _session(visitor_im_id, channel, nickname, request.user),
            lang,
            custom,
            encrypt_app_side,
        )
        longest = max(len(value) for _name, value in parse_qsl(urlsplit(url).query))
        if longest > settings.PANEL_MAX_VALUE_LENGTH:
            raise BadRequest(
                _("A parameter value is too long for the panel (at most %(max)d characters).")
                % {"max": settings.PANEL_MAX_VALUE_LENGTH}
            )
    except BadRequest as error:
        return _json_error(str(error))
    return JsonResponse({"url": url, "cmdMessage": message})


def _parse_body(request):
    try:
        raw = request.body
    except RequestDataTooBig:
        raise BadRequest(_("The request is too large.")) from None
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(_("The request is too large."))
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(_("The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise BadRequest(_("The request body must be a JSON object."))
    return body


def _has_controls(text):
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def _visitor(value):
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(_("“visitor” must be a non-empty string: the visitorImId."))
    if len(value) > VISITOR_IM_ID_MAX_LENGTH or _has_controls(value):
        raise BadRequest(_("“visitor” is too long or contains control characters."))
    return value


def _max_custom_params():
    # What Easemob adds itself must still fit within the panel's limit.
    return settings.PANEL_MAX_PARAMS - len(SYSTEM_PARAMS) - len(SESSION_PARAMS) - 1


def _custom_params(params):
    if not isinstance(params, dict):
        raise BadRequest(_("“params” must be a JSON object of names and string values."))
    if len(params) > _max_custom_params():
        raise BadRequest(
            _("Too many params (%(count)d; at most %(max)d).")
            % {"count": len(params), "max": _max_custom_params()}
        )
    reserved = {*SYSTEM_PARAMS, *SESSION_PARAMS, LANG_PARAM}
    for name, value in params.items():
        if not name or len(name) > MAX_NAME_LENGTH or _has_controls(name):
            raise BadRequest(_("A param name is empty, too long or invalid."))
        if name in reserved:
            raise BadRequest(
                _("“%(name)s” is a parameter Easemob sets itself; an app cannot push it.")
                % {"name": name}
            )
        if not isinstance(value, str):
            raise BadRequest(
                _("The value of “%(name)s” must be a string, as Easemob passes only strings.")
                % {"name": name}
            )
    return params

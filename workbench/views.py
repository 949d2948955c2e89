"""A local stand-in for Easemob's agent workbench, so a team can try the whole integration —
the iframe URL, DES parameters, cmd messages, message sync — before paying for the edition
of Easemob that has iframes (DESIGN.md, "The Easemob protocol").

Staff only, and only while `SIMULATOR_ENABLED`. It talks to the panel only as Easemob does:
through the panel's URL and window.postMessage.
"""

import json
import unicodedata
from functools import wraps
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from customers.models import VISITOR_IM_ID_MAX_LENGTH, VisitorIdentity
from iframe_panel.matching import infer_channel
from iframe_panel.params import (
    LANG_PARAM,
    MAX_NAME_LENGTH,
    SESSION_PARAMS,
    SYSTEM_PARAMS,
    parse_lang,
)
from iframe_panel.responses import HTML_LANG

from .conversations import conversations
from .panel_url import frame_url, session

MAX_BODY_BYTES = 64 * 1024

_SIMULATOR_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


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
            session(visitor.visitor_im_id, visitor.channel, visitor.nickname, request.user),
            lang,
            call=visitor.call_params,
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
                "history": visitor.history,
                "call": visitor.is_call,
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
    response = render(request, "workbench/simulator.html", context)
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
            channel, nickname, call = visitor.channel, visitor.nickname, visitor.call_params
        else:
            identity = VisitorIdentity.objects.filter(visitor_im_id=visitor_im_id).first()
            channel = identity.channel if identity else infer_channel(visitor_im_id)
            nickname, call = "", {}
        url, message = frame_url(
            visitor_im_id,
            session(visitor_im_id, channel, nickname, request.user),
            lang,
            custom,
            encrypt_app_side,
            call,
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

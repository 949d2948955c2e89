"""The panel URL as Easemob's workbench requests it, and the cmd message a visitor's app sends.

Built on the server rather than in the browser because the parameters are DES-encrypted
exactly as Easemob would, with the configured key (DESIGN.md, "The Easemob protocol").
"""

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from iframe_panel import crypto
from iframe_panel.params import LANG_PARAM

from .conversations import ORIGIN_TYPES

# The IM service number in Easemob's own example URL; the tenant id is made up.
EASEMOB_ID = "107937"
TENANT_ID = "66032"


def agent(user):
    return {
        "agentName": user.get_full_name() or user.get_username(),
        # Easemob's agent ids are UUIDs; a fixed one per staff user.
        "agentId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm-simulator-agent:{user.pk}")),
        "email": user.email,
    }


def session(visitor_im_id, channel, nickname, user):
    """The value-added session and agent parameters of one conversation."""
    params = {
        "ssid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm-simulator-session:{visitor_im_id}")),
        **agent(user),
        "tenantId": TENANT_ID,
        "originType": ORIGIN_TYPES.get(channel, ""),
        "nickname": nickname,
    }
    return {name: value for name, value in params.items() if value}


def frame_url(visitor_im_id, session, lang, custom=None, encrypt_app_side=False, call=None):
    """The panel URL and the cmd message that would have pushed `custom`.

    Order as Easemob writes it: the params pushed by the cmd message, the system params, the
    value-added session params (and, in the call workbench, the call params), `lang`. With a
    key, Easemob encrypts the session params, and the system params when 同时加密系统参数 is
    ticked; pushed params arrive as the app sent them (encrypted only if the app encrypted
    them); `lang` never. Easemob does not document how it passes call params: they are
    encrypted like the session ones here, which is also the only way a caller's number finds
    the customer while a key is set (the panel never matches on plaintext under a key).
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
        *((n, encrypted(v, True)) for n, v in (call or {}).items()),
        (LANG_PARAM, lang),
    ]
    url = reverse("iframe_panel:panel", args=[settings.PANEL_TOKEN]) + "?" + urlencode(query)
    message = {"ext": {"cmd": {"updateVisitorInfoSrc": {"params": pushed}}}}
    return url, message

"""The signed token a panel page carries for its actions (reveal, lookups).

The panel lives in a third-party iframe where cookies are blocked or partitioned, so a CSRF
cookie cannot be relied on. Instead each page embeds a token signed with SECRET_KEY and stamped
with the time, naming the visitor, the session and the customer the page showed; an action is
accepted only with a fresh token for that same visitor.
"""

from django.conf import settings
from django.core import signing

SALT = "iframe_panel.action"


class ActionTokenError(Exception):
    pass


def make(visitor_im_id, *, ssid="", customer_id=None, agent=None, origin_type=""):
    payload = {
        "v": visitor_im_id,
        "s": ssid,
        "c": customer_id,
        "a": agent or {},
        "o": origin_type,
    }
    return signing.dumps(payload, salt=SALT, compress=True)


def read(token, visitor_im_id):
    """The token's payload, if it is genuine, fresh and for this visitor."""
    try:
        payload = signing.loads(token or "", salt=SALT, max_age=settings.PANEL_ACTION_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ActionTokenError("expired") from exc
    except signing.BadSignature as exc:
        raise ActionTokenError("invalid") from exc
    if not isinstance(payload, dict) or payload.get("v") != visitor_im_id:
        raise ActionTokenError("other_visitor")
    return payload

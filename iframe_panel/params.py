"""The panel's query parameters: which group each belongs to, and how each is decoded.

Easemob's workbench GETs the panel with system parameters (who the visitor is), `lang`,
value-added session/agent parameters, and whatever the visitor's app pushed with a cmd
message. With a key set, Easemob DES-encrypts the customer parameters, and the system ones too
when 同时加密系统参数 is ticked (DESIGN.md, "The Easemob protocol").
"""

import unicodedata
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

from customers.models import VISITOR_IM_ID_MAX_LENGTH

from . import crypto

SYSTEM_PARAMS = ("easemobId", "visitorImId", "to")
LANG_PARAM = "lang"
# They describe the session and the agent (`email` is the agent's login), so none of them is
# ever a key to our customers.
SESSION_PARAMS = (
    "ssid",
    "agentId",
    "agentName",
    "email",
    "tenantId",
    "userId",
    "nickname",
    "desc",
    "trueName",
    "originType",
    "techChannelName",
    "serviceNumber",
)
MAX_NAME_LENGTH = 64
# Free text pushed by apps (a description, an address) may span lines.
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


@dataclass(frozen=True)
class Value:
    text: str
    # Sent as plaintext although a key is set: shown with a mark, never trusted for matching.
    unverified: bool = False


@dataclass
class PanelParams:
    lang: str
    system: dict[str, Value] = field(default_factory=dict)
    session: dict[str, Value] = field(default_factory=dict)
    call: dict[str, Value] = field(default_factory=dict)
    custom: dict[str, Value] = field(default_factory=dict)

    @property
    def visitor_im_id(self) -> str:
        return self.system["visitorImId"].text

    def session_text(self, name) -> str:
        value = self.session.get(name)
        return value.text if value else ""


class ParamError(Exception):
    """A request the panel cannot serve: rendered as a 400 page saying what to check."""

    def __init__(self, code, message, hint=""):
        super().__init__(code)
        self.code = code
        self.message = message
        self.hint = hint


def parse_lang(raw) -> str:
    """`zh`/`en` from Easemob's `lang` (`zh-CN`, `en-US` and case variants too); else `zh`."""
    primary = (raw or "").strip().lower().replace("_", "-").split("-", 1)[0]
    return "en" if primary == "en" else "zh"


def _has_controls(text, allowed=frozenset()):
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def _says_nothing(text):
    """Empty, or only white space and control characters: what a missing value looks like once
    an app or Easemob has put it through its template or through DES."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in text)


def decode_params(query, *, key, encrypt_system, max_params, max_value_length, call_names=()):
    """Sort and decode a request's query parameters, or raise ParamError."""
    if len(query) > max_params:
        raise ParamError(
            "too_many_params",
            _("The request has too many parameters (%(count)d; at most %(max)d).")
            % {"count": len(query), "max": max_params},
        )
    params = PanelParams(lang=parse_lang(query.get(LANG_PARAM)))
    call_names = set(call_names)
    for name, values in query.lists():
        if name == LANG_PARAM:
            continue
        if not name or len(name) > MAX_NAME_LENGTH or _has_controls(name):
            raise ParamError("bad_param_name", _("A parameter name is empty, too long or invalid."))
        if name in SYSTEM_PARAMS and len(set(values)) > 1:
            raise ParamError(
                "ambiguous_param",
                _("The parameter “%(name)s” appears more than once with different values.")
                % {"name": name},
            )
        raw = values[-1]
        if len(raw) > max_value_length:
            raise ParamError(
                "param_too_long",
                _("The parameter “%(name)s” is too long (at most %(max)d characters).")
                % {"name": name, "max": max_value_length},
            )
        # An empty value says nothing; it neither matches nor overwrites cached info. The same
        # goes for one that decrypts to nothing: otherwise every load with an encrypted blank
        # visitorImId would be one and the same visitor, sharing one VisitorInfo.
        if _says_nothing(raw):
            continue
        if name in SYSTEM_PARAMS:
            value = _decode_system(name, raw, key if encrypt_system else "")
            group = params.system
        else:
            value = _decode_other(raw, key)
            group = (
                params.session
                if name in SESSION_PARAMS
                else params.call
                if name in call_names
                else params.custom
            )
        if _says_nothing(value.text):
            continue
        group[name] = value
        if _has_controls(value.text, frozenset() if name in SYSTEM_PARAMS else _ALLOWED_CONTROLS):
            raise ParamError(
                "control_characters",
                _("The parameter “%(name)s” contains control characters.") % {"name": name},
            )

    if "visitorImId" not in params.system:
        raise ParamError(
            "missing_visitor",
            _("The panel was opened without a visitorImId parameter."),
            _(
                "Open it from the Easemob agent workbench, which adds visitorImId to the URL, "
                "or try it in the workbench simulator."
            ),
        )
    if len(params.visitor_im_id) > VISITOR_IM_ID_MAX_LENGTH:
        raise ParamError(
            "visitor_too_long",
            _("The visitorImId is too long (at most %(max)d characters).")
            % {"max": VISITOR_IM_ID_MAX_LENGTH},
        )
    return params


def _decode_system(name, raw, key):
    if not key:
        return Value(raw)
    try:
        return Value(crypto.decrypt(raw, key))
    except crypto.DecryptError:
        raise ParamError(
            "system_undecryptable",
            _("The system parameter “%(name)s” could not be decrypted.") % {"name": name},
            _(
                "The encryption key (加密密钥) or the 同时加密系统参数 box in Easemob's iframe "
                "settings probably differs from EASEMOB_IFRAME_KEY / "
                "EASEMOB_ENCRYPT_SYSTEM_PARAMS in this CRM's configuration."
            ),
        ) from None


def _decode_other(raw, key):
    if not key:
        return Value(raw)
    try:
        return Value(crypto.decrypt(raw, key))
    except crypto.DecryptError:
        return Value(raw, unverified=True)

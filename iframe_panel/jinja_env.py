"""The Jinja2 environment the panel's pages are rendered with.

The panel is loaded on every conversation switch, and rendering it took more than half of a panel
request (profiled). Jinja2 compiles a template to Python once: the same page renders in a third
less time than with Django's engine (docs/benchmarks.md, "Panel templates on Jinja2"). The admin
and every other page stay on Django's templates.

What the templates get mirrors what Django's template engine gave them, so the page stays the
same: Django's own translations (`_()`, from locale/…/django.po), `url()` and `static()`, and
Django's filter functions under their Django names. Strings are marked for translation only as
`_("…")` calls: that is what `makemessages` (iframe_panel/management/commands) extracts.
"""

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.html import json_script
from django.utils.timezone import template_localtime
from django.utils.translation import get_language
from django.utils.translation import gettext as django_gettext
from jinja2 import Environment
from markupsafe import Markup

from .masking import mask_email, mask_phone


def environment(**options):
    # Pages of HTML, escaped whatever the settings say; the last newline kept, as Django does.
    options.pop("autoescape", None)
    env = Environment(autoescape=True, keep_trailing_newline=True, **options)
    env.globals.update(_=gettext, url=url, static=static)
    env.filters.update(
        date=date,
        floatformat=floatformat,
        linebreaksbr=defaultfilters.linebreaksbr,
        naturaltime=naturaltime,
        json_script=json_script,
        mask_phone=mask_phone,
        mask_email=mask_email,
    )
    return env


def gettext(message, **values):
    """`_("updated %(when)s", when=…)`: Django's translation, trusted as Django's {% translate %}
    and {% blocktranslate %} trust it, with the values escaped; the msgids stay Django's.

    Jinja2's i18n extension (newstyle gettext) does the same through three more layers of calls:
    measured, nearly twice the time of this for the fifty strings of a page. Each string is
    looked up once per language and process: the catalogs do not change while it runs.
    """
    key = (get_language(), message)
    translated = _translations.get(key)
    if translated is None:
        translated = _translations[key] = Markup(django_gettext(message))  # noqa: S704 (our catalog)
    return translated % values if values else translated


_translations = {}


def url(name, *args):
    return reverse(name, args=args)


# The formats the panel's templates use, as strftime formats: Django's `date` filter and its
# time zone conversion took a tenth of the card's rendering for a dozen dates (profiled).
_STRFTIME = {"Y-m-d": "%Y-%m-%d", "Y-m-d H:i": "%Y-%m-%d %H:%M"}


def date(value, format):
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        # What Django's engine does before its date filter sees a datetime.
        value = value.astimezone(timezone.get_current_timezone())
        if format == "c":
            return value.isoformat()
        if format in _STRFTIME:
            return value.strftime(_STRFTIME[format])
    return defaultfilters.date(template_localtime(value), format)


def floatformat(value, arg=-1):
    """Django's `floatformat`; "2g" (money) formatted here with the active language's
    separators, read once per language: Django's filter reads them on every call."""
    if arg != "2g" or not isinstance(value, (Decimal, int)):
        return defaultfilters.floatformat(value, arg)
    spec = _money_formats.get(get_language(), "")
    if spec == "":
        spec = _money_formats[get_language()] = _money_format()
    if spec is None:
        return defaultfilters.floatformat(value, arg)
    return format(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), spec)


def _money_format():
    """Python's format for what Django's "2g" gives in the active language: "," every three
    digits (en) or no separator (zh-hans); None for anything else, left to Django."""
    grouped = defaultfilters.floatformat(Decimal("1234567"), "2g")
    return {"1,234,567.00": ",.2f", "1234567.00": ".2f"}.get(grouped)


_money_formats = {}

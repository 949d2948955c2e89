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

from django.contrib.humanize.templatetags.humanize import naturaltime
from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import json_script
from django.utils.timezone import template_localtime
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
        floatformat=defaultfilters.floatformat,
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
    measured, nearly twice the time of this for the fifty strings of a page.
    """
    translated = Markup(django_gettext(message))  # noqa: S704 (our own catalog)
    return translated % values if values else translated


def url(name, *args):
    return reverse(name, args=args)


def date(value, format):
    # Django's engine turns a datetime into the active time zone before its date filter sees it.
    return defaultfilters.date(template_localtime(value), format)

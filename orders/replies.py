"""Copy-ready replies: a sentence about an order, in the conversation's language, from a
template per order status that staff edit in the admin (ReplyTemplate).

Staff text is never rendered by a template engine: a template is split on its `{placeholders}`
(str.format's syntax, read with string.Formatter().parse) and each placeholder must be one of
PLACEHOLDERS, without attribute, index, conversion or format (no `{number.__class__}`, no
`{total!r}`, no `{total:>10}`). The values are plain strings put in place of their names.
"""

import string

from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.dateformat import format as format_date
from django.utils.translation import gettext_lazy as _

# What a template may use, in braces; the model's help text lists them for staff.
PLACEHOLDERS = (
    "number",
    "status",
    "total",
    "items",
    "placed_date",
    "paid_date",
    "shipped_date",
    "carrier",
    "tracking_number",
)


def parse(text):
    """[(literal text, placeholder name or None)], or ValidationError naming what is wrong."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as error:
        raise ValidationError(
            _("A brace is not closed or not opened: write {{ and }} for a brace itself.")
        ) from error
    result = []
    for literal, name, spec, conversion in parts:
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            shown = "{" + name + ("!" + conversion if conversion else "")
            shown += (":" + spec if spec else "") + "}"
            raise ValidationError(
                _("Unknown placeholder %(placeholder)s. Use: %(allowed)s.")
                % {"placeholder": shown, "allowed": ", ".join(f"{{{n}}}" for n in PLACEHOLDERS)}
            )
        result.append((literal, name))
    return result


def validate(text):
    parse(text)


def render(text, order, language):
    """The sentence for `order`; "" if the template is missing or broken (a row written around
    the admin's validation): the panel then offers no reply rather than failing."""
    if not text:
        return ""
    try:
        parts = parse(text)
    except ValidationError:
        return ""
    values = _values(order, language)
    return "".join(literal + (values[name] if name else "") for literal, name in parts)


def _values(order, language):
    with translation.override(language):
        return {
            "number": order.number,
            "status": str(order.get_status_display()),
            "total": ("¥" if order.currency == "CNY" else f"{order.currency} ")
            + f"{order.total:.2f}",
            "items": "、".join(f"{i.product_name} ×{i.quantity}" for i in order.items.all())
            if language == "zh-hans"
            else ", ".join(f"{i.product_name} × {i.quantity}" for i in order.items.all()),
            "placed_date": _date(order.placed_at, language),
            "paid_date": _date(order.paid_at, language),
            "shipped_date": _date(order.shipped_at, language),
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
        }


def _date(moment, language):
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    if language == "zh-hans":
        return f"{local.month}月{local.day}日"
    return format_date(local, "M j")

"""Phone numbers as people type them, reduced to one comparable form.

Agents, shops and apps write the same Chinese mobile as `138 1234 5678`, `138-1234-5678`,
`+86 13812345678` or `008613812345678`; matching a caller or a cmd-pushed phone to a customer
needs one form. We keep digits (and a leading `+` for foreign numbers) and drop the mainland
country code in front of an 11-digit mobile. A full phone-number library would be overkill for
this one rule.
"""

import re

from django.db.models import CharField, Func

_FULLWIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")
_MAINLAND_MOBILE = re.compile(r"^(?:\+86|0086|86)(1\d{10})$")


def normalize_phone(value: str) -> str:
    value = (value or "").translate(_FULLWIDTH).strip()
    plus = value.startswith("+")
    digits = re.sub(r"\D", "", value)
    if not digits:
        return ""
    candidate = ("+" if plus else "") + digits
    mainland = _MAINLAND_MOBILE.match(candidate)
    if mainland:
        return mainland.group(1)
    return candidate


# What staff type when a caller reads out the last digits of their number (尾号).
LAST_DIGITS = 4
_PHONE_LIKE = re.compile(r"^\+?[\d\s\-().]+$")


def looks_like_phone(value: str) -> bool:
    """Digits written the way phones are (`+86 139 1234 5678`, `139-1234-5678`, `(021) …`):
    no letters, so no name or email to look for."""
    return bool(_PHONE_LIKE.match((value or "").translate(_FULLWIDTH).strip()))


def last_digits(value: str) -> str:
    """`value`'s digits when they are just the last four of a phone (`5678`), else ''."""
    digits = normalize_phone(value)
    if looks_like_phone(value) and len(digits) == LAST_DIGITS and digits.isdigit():
        return digits
    return ""


class LastDigits(Func):
    """A stored phone's last four characters, in SQL: the expression of the index
    customer_phone_last4_idx and of the admin's search by 尾号. The length is written into
    the SQL rather than passed as a parameter: SQLite uses an expression index only for the
    very same expression, literals included."""

    template = f"RIGHT(%(expressions)s, {LAST_DIGITS})"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template=f"SUBSTR(%(expressions)s, -{LAST_DIGITS})"
        )

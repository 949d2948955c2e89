"""Phone numbers as people type them, reduced to one comparable form.

Agents, shops and apps write the same Chinese mobile as `138 1234 5678`, `138-1234-5678`,
`+86 13812345678` or `008613812345678`; matching a caller or a cmd-pushed phone to a customer
needs one form. We keep digits (and a leading `+` for foreign numbers) and drop the mainland
country code in front of an 11-digit mobile. A full phone-number library would be overkill for
this one rule.
"""

import re

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

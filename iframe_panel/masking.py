"""Phone numbers and emails as the panel shows them until the agent asks to see them."""


def mask_phone(value):
    """138****8000: enough for an agent to confirm a number the customer reads out."""
    value = str(value or "")
    if len(value) <= 4:
        return "*" * len(value)
    keep = 3 if len(value) >= 7 else 1
    return value[:keep] + "*" * (len(value) - keep - 4) + value[-4:]


def mask_email(value):
    value = str(value or "")
    local, at, domain = value.partition("@")
    if not at:
        return mask_phone(value)
    return (local[:2] if len(local) > 2 else local[:1]) + "***@" + domain

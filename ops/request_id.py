"""The id that ties a request's log lines to the proxy's and gunicorn's access logs."""

import re
import uuid
from contextvars import ContextVar

HEADER = "X-Request-ID"

# nginx's $request_id is 32 hex digits, a UUID 36 characters; anything longer, or with other
# characters, is not an id we want in a log line or echoed back in a header.
_VALID = re.compile(r"[A-Za-z0-9._-]{1,64}")

current: ContextVar[str | None] = ContextVar("request_id", default=None)


def from_header(value):
    """The proxy's id when it is a sane one, else a new one."""
    if value and _VALID.fullmatch(value):
        return value
    return uuid.uuid4().hex

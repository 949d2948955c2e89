"""Log records carry the request id; request errors never carry the query string or the token.

Panel URLs carry the visitor's name, phone and whatever the visitor's app pushed in their query
string, and their path carries the panel token, so a request is logged by its method, its path
with the token hidden, and its status only. gunicorn's logs hide the token the same way
(ops.gunicorn_logging).
"""

import logging
import re
from http import HTTPStatus

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest

from ops import request_id

_QUERY = re.compile(r"\?\S*")
_PANEL = re.compile(r"/panel/", re.IGNORECASE)
# What may follow the hidden segment: an action's name (reveal/, lookup/...), a short word,
# where a panel token is long and random.
_PANEL_REST = re.compile(r"[^/]+(?P<action>(?:/[a-z]{1,12})?/?)", re.IGNORECASE | re.ASCII)


class RequestContextFilter(logging.Filter):
    """Adds `request_id` to every record and rewrites request errors to one safe line."""

    def filter(self, record):
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            request = None
        record.request_id = getattr(request, "request_id", None) or request_id.current.get() or "-"
        if record.name == "django.request" and request is not None:
            self._rewrite_request_error(record, request)
        elif record.name.startswith("django.security.") and request is not None:
            self._rewrite_security_error(record, request)
        elif (
            record.name == "django.server"
            and isinstance(record.args, tuple)
            and record.args
            and isinstance(record.args[0], str)
        ):
            # runserver logs the whole request line; keep its path, drop the query.
            line = " ".join(map(mask_panel_path, _QUERY.sub("", record.args[0]).split(" ")))
            record.args = (line, *record.args[1:])
        return True

    @staticmethod
    def _rewrite_request_error(record, request):
        # Django's message may hold an exception's text (BadRequest("…"), PermissionDenied(…))
        # written with the parameters in it, so the line is built from the request alone.
        status = getattr(record, "status_code", None)
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        line = (
            f"{request.method} {escape_controls(mask_panel_path(request.path))} {status} {reason}"
        )
        line = line.rstrip()
        if record.exc_info and record.exc_info[0] is not None:
            line += f" ({record.exc_info[0].__name__})"
            if status is not None and (status < 500 or status == 503):
                # A 4xx is the client's mistake: the traceback says nothing new, and its last
                # line is the exception's text. A 503 is the database being unreachable
                # (crm_project.errors): one line per request, not a traceback each, while it
                # lasts; /healthz logs the cause.
                record.exc_info = None
                record.exc_text = None
        record.msg = line
        record.args = ()

    @classmethod
    def _rewrite_security_error(cls, record, request):
        # Django logs a suspicious request (a Host not in ALLOWED_HOSTS, too many fields) at
        # ERROR with its traceback, and a CSRF failure with the path as sent. Each is the
        # client's mistake, a 4xx like any other: one warning line.
        exception = record.exc_info[0] if record.exc_info else None
        csrf_reason = record.args[0] if exception is None and record.args else ""
        cls._rewrite_request_error(record, request)
        if exception is DisallowedHost:
            # The host is what to add to DJANGO_ALLOWED_HOSTS, if it is ours.
            host = request.META.get("HTTP_HOST", "")
            record.msg += f" Host: {escape_controls(host[:100])}"
        elif csrf_reason:
            record.msg += f" ({escape_controls(str(csrf_reason))})"
        record.levelno, record.levelname = logging.WARNING, "WARNING"


def mask_panel_path(path):
    """The path with whatever follows `/panel/` written `***`, but an action's name.

    The segment after /panel/ is the token, or a near miss of it (a character added, a doubled
    slash, the URL pasted twice): a log reader learns nothing of it. `path` is the decoded
    path (Django's request.path, gunicorn's PATH_INFO), which routes `/panel%2F<token>/` to the
    panel too.
    """
    found = _PANEL.search(path)
    if found is None or found.end() == len(path):
        return path
    head, rest = path[: found.end()], path[found.end() :]
    kept = _PANEL_REST.fullmatch(rest)
    return f"{head}***{kept['action'] if kept else ''}"


def escape_controls(text):
    """As Django does for the paths it logs: no newline or control character reaches the log
    (and no non-ASCII character, written as its escape)."""
    return text.encode("unicode_escape").decode("ascii")

"""Log records carry the request id; request errors never carry the query string.

Panel URLs carry the visitor's name, phone and whatever the visitor's app pushed in their query
string, so a request is logged by its method, path and status only.
"""

import logging
import re
from http import HTTPStatus

from django.conf import settings
from django.http import HttpRequest

from ops import request_id

_QUERY = re.compile(r"\?\S*")


class RequestContextFilter(logging.Filter):
    """Adds `request_id` to every record and rewrites request errors to one safe line."""

    def filter(self, record):
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            request = None
        record.request_id = getattr(request, "request_id", None) or request_id.current.get() or "-"
        if record.name == "django.request" and request is not None:
            self._rewrite_request_error(record, request)
        elif (
            record.name == "django.server"
            and isinstance(record.args, tuple)
            and record.args
            and isinstance(record.args[0], str)
        ):
            # runserver logs the whole request line; keep its path, drop the query.
            record.args = (_hide_token(_QUERY.sub("", record.args[0])), *record.args[1:])
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
        line = f"{request.method} {_escape(_hide_token(request.path))} {status} {reason}"
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


def _hide_token(path):
    # The panel token is the one secret in a panel URL: whoever reads the logs need not learn it.
    token = settings.PANEL_TOKEN
    return path.replace(f"/{token}/", "/<PANEL_TOKEN>/") if token else path


def _escape(text):
    # As Django does for the paths it logs: no newline or control character reaches the log.
    return text.encode("unicode_escape").decode("ascii")

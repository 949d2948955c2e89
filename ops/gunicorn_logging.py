"""gunicorn's access and error logs, without the panel token, query strings or control characters.

Set as `logger_class` in gunicorn.conf.py. gunicorn's own logger writes the path as sent (the
panel token in it, and a newline decoded from %0A), and its error log quotes the raw line of a
request it refuses ("Invalid request from ip=…: Invalid HTTP request line: 'GET /panel/<token>/
?name=…&phone=…'"), which happens to any request with non-ASCII bytes in it. Here:

- the path (%(U)s, and %(r)s, which is rebuilt from it) has whatever follows /panel/ hidden as
  in the app's log (ops.log.mask_panel_path), and is percent-encoded as on the wire, so that no
  control character or newline reaches a line;
- the query string (%(q)s) and the referrer (%(f)s: the panel's own URL) are never written;
- every other value has its control characters escaped;
- a refused request is logged by the name of gunicorn's exception, never by its text.
"""

import logging
import re
import sys
from urllib.parse import quote, unquote_to_bytes

from gunicorn import glogging
from gunicorn.http.errors import NoMoreData, ParseException

from ops.log import escape_controls, mask_panel_path

# RFC 3986's characters of a path (pchar and "/"); anything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=~"
_INVALID_REQUEST = re.compile(r"Invalid request from ip=(\S*): ")
_HANDLING_ERROR = "Error handling request"


class Logger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        # setup() runs again when gunicorn reloads its configuration (HUP): one filter only.
        if not any(isinstance(f, ErrorLogFilter) for f in self.error_log.filters):
            self.error_log.addFilter(ErrorLogFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        # RAW_URI, the target as sent: Django rewrites PATH_INFO while it handles the request.
        path = log_path(environ.get("RAW_URI"))
        atoms.update(
            {
                "U": path,
                "{path_info}e": path,
                "r": f"{atoms['m']} {path} {atoms['H']}",
                "q": "-",
                "{query_string}e": "-",
                "{raw_uri}e": "-",
                "f": "-",
                "{referer}i": "-",
                "{http_referer}e": "-",
            }
        )
        return {name: escape_controls(v) if isinstance(v, str) else v for name, v in atoms.items()}


class ErrorLogFilter(logging.Filter):
    """Rewrites the error log's records that would quote a request, escapes all of them."""

    def filter(self, record):
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_safe_arg(arg) for arg in record.args)
            if isinstance(record.msg, str) and record.msg.startswith(_HANDLING_ERROR):
                # "Error handling request %s %s": the method, then the raw target.
                *others, target = record.args
                record.args = (*others, log_path(target))
        message = record.getMessage()
        invalid = _INVALID_REQUEST.match(message)
        if invalid:
            # gunicorn formats the refused line or header into the message; it logs it while
            # handling the exception, whose name says what was wrong.
            error = sys.exc_info()[1]
            reason = type(error).__name__ if error is not None else "refused"
            message = f"Invalid request from ip={invalid[1]}: {reason}"
        record.msg, record.args = escape_controls(message), ()
        return True


def log_path(target):
    """A request target's path for a log line: no query, whatever follows /panel/ hidden,
    percent-encoded."""
    path = unquote_to_bytes((target or "").split("?", 1)[0].split("#", 1)[0])
    if not path:
        return "-"
    # Decoded, so that /panel%2F<token>/, which Django routes to the panel, is masked too; as
    # latin-1, one character per byte, so that any bytes at all are written back as they came.
    masked = mask_panel_path(path.decode("latin-1")).encode("latin-1")
    return quote(masked, safe=_PATH_SAFE)


def _safe_arg(arg):
    # gunicorn's parsing exceptions carry the bytes they failed on (a request line, a header).
    if isinstance(arg, ParseException | NoMoreData):
        return type(arg).__name__
    return arg

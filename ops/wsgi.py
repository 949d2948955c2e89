"""A guard in front of Django for the requests Django fails on before any middleware runs.

Django reads the request's charset from its Content-Type when it builds the request object, and
decodes the query string with it right there (WSGIRequest sets `encoding`, which parses GET).
A `charset=rot13`, `hex`, `base64`, `zlib`, `idna`, `punycode`, `undefined`, … on any URL with a
query string raised out of Django as a 500, past every middleware, rate limit and token check;
so did an RFC 2231 parameter naming an unknown codec (`x*=nope''a`) and a charset holding a NUL.
This guard answers those requests 400 before Django sees them. It wraps the application in
crm_project/wsgi.py, which gunicorn and runserver load; Django's test client builds its requests
without it, so tests/test_request_charset.py calls the WSGI application itself.
"""

import codecs
import encodings.aliases
import functools
import pkgutil
import re

from django.utils.http import parse_header_parameters

# Query strings and form bodies are ASCII, with the other bytes percent-encoded; the charset only
# says how to read those bytes. A charset that reads ASCII otherwise (UTF-16 and UTF-32 pair the
# bytes up, EBCDIC is not ASCII, UTF-7 and HZ give `+` and `~` a meaning, unicode-escape reads
# backslashes) garbles every parameter, `visitorImId` included, so it is refused with the rest.
# The probe: every printable ASCII character, the backslash only in an escape (`\u0041`) that
# the unicode-escape codecs would read as "A".
_ASCII = rb"\u0041" + bytes(c for c in range(0x20, 0x7F) if c != ord("\\"))

# The names the standard library's codecs go by, written as request headers write them. A name
# outside this list is refused without a codecs.lookup(), which would keep every unknown name in
# `encodings._cache` for the life of the process (measured: 1 KB per distinct 1,000-character
# name, so a stream of random names grows a worker without bound).
_SPELLINGS = frozenset(
    spelling
    for name in (
        *encodings.aliases.aliases,
        *encodings.aliases.aliases.values(),
        *(module.name for module in pkgutil.iter_modules(encodings.__path__)),
    )
    for spelling in (name, name.replace("_", "-"))
)

# An RFC 2231 extended parameter (`charset*=utf-8''…`, `x*0*=…`): Django looks up the codec it
# names, and fails with a 500 on an unknown one. E-mail uses them; HTTP clients do not send them.
_EXTENDED_PARAMETER = re.compile(r";\s*[^;=\s]*\*")

REFUSAL = (
    "Unsupported charset or parameter in the Content-Type header.\n"
    "Content-Type 请求头中的字符集或参数不受支持。\n"
).encode()


def is_request_charset(name):
    """Whether a request may declare its content in `name`."""
    name = name.lower()
    return name in _SPELLINGS and _reads_ascii_as_ascii(name)


@functools.cache  # bounded by _SPELLINGS
def _reads_ascii_as_ascii(name):
    try:
        codec = codecs.lookup(name)
    except LookupError:  # mbcs and oem, outside Windows
        return False
    # rot13, hex, base64, zlib…: bytes-to-bytes or str-to-str codecs, which str.encode() and
    # bytes.decode() refuse in the same way.
    if not codec._is_text_encoding:
        return False
    try:
        readable = codec.decode(_ASCII)[0] == _ASCII.decode("ascii")
        # Django decodes percent-encoded bytes with errors="replace", which idna refuses.
        codec.decode(b"\x80\xff", "replace")
    except UnicodeError:
        return False
    return readable


def acceptable_content_type(value):
    if ";" not in value:
        return True
    if _EXTENDED_PARAMETER.search(value):
        return False
    _media_type, params = parse_header_parameters(value)
    return "charset" not in params or is_request_charset(params["charset"])


class ContentTypeGuard:
    """WSGI middleware: 400 for a Content-Type that Django cannot build a request from."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        if acceptable_content_type(environ.get("CONTENT_TYPE", "")):
            return self.application(environ, start_response)
        start_response(
            "400 Bad Request",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(REFUSAL))),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [REFUSAL]

"""A Content-Type that Django cannot build a request from is a 400, never a 500 (ops/wsgi.py).

Django's test client builds its requests without crm_project/wsgi.py, so these tests call the
WSGI application gunicorn serves, with an environ as a WSGI server passes it on.
"""

import codecs
import encodings
import encodings.aliases
import html
import io
import json
import os
import pkgutil
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.core.cache import cache
from django.core.exceptions import TooManyFieldsSent
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import QueryDict

from crm_project.wsgi import application
from customers.models import Customer, Note
from ops.wsgi import is_request_charset

ROOT = Path(__file__).resolve().parent.parent
PANEL = "/panel/panel-token-for-tests-7Qm2x/"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"
QUERY = urlencode({"visitorImId": VISITOR, "name": "张三", "lang": "en"})
REFUSAL = "Unsupported charset or parameter in the Content-Type header."
REFUSAL_ZH = "Content-Type 请求头中的字符集或参数不受支持。"

# Codecs that are no text encoding (str.encode() refuses them), text codecs that Django cannot
# decode a request with, codecs that read ASCII as something else, and names that are no codec.
REFUSED = [
    "rot13",
    "rot_13",
    "hex",
    "base64",
    "zlib",
    "uu",
    "quopri",
    "bz2",
    "punycode",
    "undefined",
    "idna",
    "utf-16",
    "utf-16-le",
    "utf-32",
    "utf-7",
    "hz",
    "cp037",
    "unicode_escape",
    "raw_unicode_escape",
    "nope",
    "",
    "utf-8\x00",
    "x" * 300,
]
ACCEPTED = [
    "utf-8",
    "UTF-8",
    "utf8",
    "gbk",
    "GB2312",
    "gb18030",
    "big5",
    "latin-1",
    "ISO-8859-1",
    "windows-1252",
    "Shift_JIS",
    "euc-kr",
    "ascii",
]
URLS = [PANEL, "/admin/login/", "/api/v1/customers/", "/healthz"]


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


def call(method, path, query="", content_type="", body=b"", **headers):
    """The status, headers and body the WSGI application answers."""
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **headers,
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    # As Django's test client does: the request's end must not close the database connection
    # that holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], body.decode()


def multipart(fields, part_headers="", encoding="utf-8"):
    parts = [
        f'--B0UNDARY\r\nContent-Disposition: form-data; name="{name}"\r\n{part_headers}\r\n'
        f"{value}\r\n"
        for name, value in fields.items()
    ]
    return ("".join(parts) + "--B0UNDARY--\r\n").encode(encoding)


def assert_refused(status, headers, body):
    assert status == 400
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert REFUSAL in body and REFUSAL_ZH in body


def action_tokens(client, visitor_im_id=VISITOR):
    """Open the panel of a visitor; what its page gives its actions."""
    r = client.get(PANEL, {"visitorImId": visitor_im_id, "lang": "en"})
    assert r.status_code == 200
    token = re.search(r'data-token="([^"]*)"', r.content.decode()).group(1)
    return {"t": html.unescape(token), "v": visitor_im_id, "lang": "en"}


# --- refused --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("charset", REFUSED)
def test_it_refuses_a_get_in_a_charset_it_cannot_read(url, charset):
    assert_refused(*call("GET", url, QUERY, f"text/plain; charset={charset}"))


@pytest.mark.parametrize("url", [PANEL + "create/", "/admin/login/", "/api/v1/customers/x/"])
@pytest.mark.parametrize("charset", ["rot13", "hex", "idna", "utf-16", "nope"])
def test_it_refuses_a_multipart_post_in_a_charset_it_cannot_read(url, charset):
    body = multipart({"name": "王芳", "t": "x"})
    content_type = f"multipart/form-data; boundary=B0UNDARY; charset={charset}"
    assert_refused(*call("POST", url, "", content_type, body))


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain; charset*=utf-8''rot13",
        "text/plain; charset*0=rot; charset*1=13",
        "text/plain; x*=nope''a",
        "text/plain; charset*=idna''%ff",
        "text/plain; charset*=utf-8''utf-8%00",
        'text/plain; charset="rot13"',
        "text/plain;charset=ROT13",
    ],
)
def test_it_refuses_charsets_hidden_in_parameter_syntax(content_type):
    assert_refused(*call("GET", "/healthz", "x=1", content_type))


def test_it_refuses_unknown_charsets_without_keeping_their_names():
    # codecs.lookup() keeps every name it did not find for the life of the process.
    before = len(encodings._cache)
    for n in range(50):
        assert_refused(*call("GET", "/healthz", "x=1", f"text/plain; charset=nope-{n}"))
    assert len(encodings._cache) == before


# --- accepted -------------------------------------------------------------------------------


@pytest.mark.parametrize("charset", [*ACCEPTED, '"utf-8"'])
def test_it_passes_text_charsets_on_to_django(db, charset):
    query = urlencode({"visitorImId": VISITOR, "lang": "en"})
    status, headers, body = call("GET", PANEL, query, f"text/plain; charset={charset}")
    assert status == 200
    assert f'data-visitor="{VISITOR}"' in body


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/json; boundary=x*y"])
def test_it_passes_requests_without_a_charset_on_to_django(db, content_type):
    assert call("GET", "/healthz", "x=1", content_type)[0] == 200


def test_a_gbk_multipart_form_is_read_as_gbk(client, customer, visitor):
    tokens = action_tokens(client, visitor.visitor_im_id)
    body = multipart({**tokens, "body": "客户要求周末送货"}, encoding="gbk")
    status, _headers, response = call(
        "POST", PANEL + "note/", "", "multipart/form-data; boundary=B0UNDARY; charset=gbk", body
    )
    assert status == 200, response
    assert Note.objects.get().body == "客户要求周末送货"


def test_a_url_encoded_form_in_another_charset_than_utf8_is_a_json_400(client, db):
    # Django reads such forms as UTF-8 only (RFC 1866), and says so with an exception.
    tokens = action_tokens(client)
    body = urlencode({**tokens, "body": "客户"}, encoding="gbk").encode()
    status, headers, response = call(
        "POST", PANEL + "note/", "", "application/x-www-form-urlencoded; charset=gbk", body
    )
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    # Read before the form's `lang`, so in the panel's default language.
    assert json.loads(response) == {"error": "请求格式不正确。"}


def test_a_part_charset_is_not_used_to_read_the_field(client, db):
    # Django's multipart parser keeps a part's charset for uploaded files and reads fields in
    # the request's charset: a part's rot13 changes nothing.
    tokens = action_tokens(client)
    body = multipart(
        {**tokens, "name": "王芳", "external_id": "U-PART-1"},
        part_headers="Content-Type: text/plain; charset=rot13\r\n",
    )
    status, _headers, response = call(
        "POST", PANEL + "create/", "", "multipart/form-data; boundary=B0UNDARY", body
    )
    assert status == 200, response
    assert Customer.objects.get(external_id="U-PART-1").name == "王芳"


def test_a_part_charset_on_an_uploaded_file_is_harmless(db):
    body = (
        b"--B0UNDARY\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        b"Content-Type: text/csv; charset=rot13\r\n\r\n"
        b"name\r\n\xe7\x8e\x8b\r\n"
        b"--B0UNDARY--\r\n"
    )
    status = call(
        "POST",
        "/admin/login/",
        "",
        "multipart/form-data; boundary=B0UNDARY",
        body,
        HTTP_COOKIE="csrftoken=" + "a" * 32,
    )[0]
    assert status == 403


# --- the rule, for every codec the standard library knows ------------------------------------


def reads_requests(name):
    """What the guard decides, decided by asking Django: does it read a query string in this
    charset without an exception, as the ASCII it is?"""
    try:
        query = QueryDict(b"a=b%2Bc+d~e%5C&f\\u0041=h&x%E5=1", encoding=name)
    except (LookupError, UnicodeError, ValueError, TooManyFieldsSent):
        return False
    return query.get("a") == "b+c d~e\\" and query.get("f\\u0041") == "h"


STDLIB_NAMES = sorted(
    {*encodings.aliases.aliases, *(m.name for m in pkgutil.iter_modules(encodings.__path__))}
)


def test_the_rule_agrees_with_django_for_every_codec_name_of_the_standard_library():
    disagreements = [
        name for name in STDLIB_NAMES if is_request_charset(name) != reads_requests(name)
    ]
    assert disagreements == []


def test_most_codecs_of_the_standard_library_are_accepted():
    accepted = {codecs.lookup(n).name for n in STDLIB_NAMES if is_request_charset(n)}
    assert len(accepted) > 80
    assert {"utf-8", "gbk", "gb18030", "big5", "shift_jis", "euc_kr", "iso8859-1"} <= accepted


# --- under gunicorn ---------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, content_type):
    request = urllib.request.Request(url, headers={"Content-Type": content_type})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_gunicorn_answers_400_for_rot13(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmemcache://",
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1", "crm_project.wsgi"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/healthz?" + quote("name=张三", safe="=")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                healthy = get(url, "text/plain; charset=utf-8")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        refused = get(url, "text/plain; charset=rot13")
    finally:
        server.terminate()
        _out, error_log = server.communicate(timeout=30)
    assert healthy[0] == 200
    assert refused == (400, REFUSAL + "\n" + REFUSAL_ZH + "\n")
    assert "Traceback" not in error_log

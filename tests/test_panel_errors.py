from urllib.parse import quote

import pytest
from Crypto.Cipher import DES
from Crypto.Util.Padding import pad
from django.core.cache import cache
from django.test import Client, override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from iframe_panel.crypto import encrypt
from iframe_panel.models import AuditEvent
from tests.test_request_charset import ACCEPTED, REFUSED, STDLIB_NAMES, call

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
KEY = "123456789"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


def assert_error_page(r, status, message, lang="en"):
    assert r.status_code == status
    html = r.content.decode()
    assert f'<html lang="{lang}"' in html
    assert f'<main class="panel error" data-status="{status}">' in html
    assert message in html
    assert "Traceback" not in html
    return html


# --- wrong token ------------------------------------------------------------------------------


def test_it_rejects_a_wrong_token(client, db):
    r = client.get("/panel/wrong-token/", {"visitorImId": VISITOR, "lang": "en"})
    html = assert_error_page(r, 404, "This panel address is not valid.")
    assert "/panel/&lt;PANEL_TOKEN&gt;/" in html


def test_it_rejects_a_token_that_only_starts_right(client, db):
    r = client.get("/panel/panel-token-for-tests-7Qm2x-x/", {"visitorImId": VISITOR, "lang": "en"})
    assert_error_page(r, 404, "This panel address is not valid.")


def test_it_rejects_a_wrong_token_in_chinese(client, db):
    r = client.get("/panel/wrong-token/", {"visitorImId": VISITOR})
    html = assert_error_page(r, 404, "此面板地址无效。", lang="zh-hans")
    assert "错误 404" in html


def test_a_wrong_token_shows_no_customer(client, visitor):
    r = client.get("/panel/wrong-token/", {"visitorImId": visitor.visitor_im_id, "lang": "en"})
    assert r.status_code == 404
    assert "张伟" not in r.content.decode()


# --- bad parameters ---------------------------------------------------------------------------


def test_it_rejects_a_missing_visitor_id(client, db):
    r = client.get(PANEL, {"lang": "en", "agentName": "Amy"})
    html = assert_error_page(r, 400, "The panel was opened without a visitorImId parameter.")
    assert "workbench simulator" in html


def test_it_rejects_a_missing_visitor_id_in_chinese(client, db):
    r = client.get(PANEL, {"lang": "zh-CN"})
    assert_error_page(r, 400, "打开面板时缺少 visitorImId 参数。", lang="zh-hans")


def test_it_rejects_an_undecryptable_system_param(client, db, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True
    r = client.get(PANEL, {"visitorImId": VISITOR, "lang": "en"})
    html = assert_error_page(r, 400, "The system parameter “visitorImId” could not be decrypted.")
    assert "同时加密系统参数" in html


def test_it_rejects_an_undecryptable_system_param_in_chinese(client, db, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True
    r = client.get(PANEL, {"visitorImId": VISITOR, "to": encrypt("kefu", KEY)})
    assert_error_page(r, 400, "系统参数“visitorImId”无法解密。", lang="zh-hans")


def test_it_rejects_too_many_params(client, db):
    query = {"visitorImId": VISITOR, "lang": "en", **{f"p{i}": "x" for i in range(59)}}
    r = client.get(PANEL, query)
    assert_error_page(r, 400, "The request has too many parameters (61; at most 60).")


def test_it_rejects_more_params_than_django_parses(client, db):
    # Django refuses to parse over 1000 fields; the page still speaks the panel's language.
    query = "lang=en&visitorImId=v&" + "&".join(f"p{i}=x" for i in range(1001))
    r = client.get(PANEL + "?" + query)
    assert_error_page(r, 400, "The request has too many parameters.")


def test_it_rejects_a_value_too_long(client, db):
    r = client.get(PANEL, {"visitorImId": VISITOR, "lang": "en", "desc2": "x" * 2049})
    assert_error_page(r, 400, "The parameter “desc2” is too long (at most 2048 characters).")


def test_it_rejects_a_visitor_id_too_long(client, db):
    r = client.get(PANEL, {"visitorImId": "v" * 256, "lang": "en"})
    assert_error_page(r, 400, "The visitorImId is too long (at most 255 characters).")


def test_it_rejects_control_characters(client, db):
    r = client.get(PANEL + "?lang=en&visitorImId=abc%00def")
    assert_error_page(r, 400, "The parameter “visitorImId” contains control characters.")


def test_it_rejects_an_empty_parameter_name(client, db):
    r = client.get(PANEL + "?lang=en&visitorImId=v&=x")
    assert_error_page(r, 400, "A parameter name is empty, too long or invalid.")


def test_it_rejects_a_control_character_in_a_parameter_name(client, db):
    r = client.get(PANEL + "?lang=en&visitorImId=v&na%01me=x")
    assert_error_page(r, 400, "A parameter name is empty, too long or invalid.")


# --- methods ----------------------------------------------------------------------------------


def test_it_rejects_post(client, db):
    r = client.post(PANEL + "?lang=en&visitorImId=v")
    assert_error_page(r, 405, "The panel only answers GET requests.")


def test_it_rejects_post_in_chinese(client, db):
    r = client.post(PANEL + "?visitorImId=v")
    assert_error_page(r, 405, "面板只接受 GET 请求。", lang="zh-hans")


def test_it_rejects_post_from_a_browser_without_csrf_cookie(db):
    # The panel is a third-party iframe: it has no CSRF cookie, so a POST must still get the
    # panel's own page rather than Django's CSRF failure (which may not be framed).
    r = Client(enforce_csrf_checks=True).post(PANEL + "?lang=en&visitorImId=v")
    assert_error_page(r, 405, "The panel only answers GET requests.")


def test_it_rejects_options(client, db):
    r = client.options(PANEL + "?lang=en&visitorImId=v")
    assert_error_page(r, 405, "The panel only answers GET requests.")


def test_it_answers_head(client, db):
    r = client.head(PANEL, {"visitorImId": VISITOR})
    assert r.status_code == 200
    assert r.content == b""


# --- rate limits ------------------------------------------------------------------------------


def test_it_limits_loads_per_address(client, db, settings):
    settings.PANEL_RATE_LIMIT = 3
    for _ in range(3):
        assert client.get(PANEL, {"visitorImId": VISITOR}).status_code == 200
    r = client.get(PANEL, {"visitorImId": VISITOR, "lang": "en"})
    html = assert_error_page(r, 429, "Too many requests from this address.")
    assert "Wait a minute" in html


def test_it_limits_loads_per_address_in_chinese(client, db, settings):
    settings.PANEL_RATE_LIMIT = 1
    client.get(PANEL, {"visitorImId": VISITOR})
    r = client.get(PANEL, {"visitorImId": VISITOR})
    assert_error_page(r, 429, "此地址的请求过多。", lang="zh-hans")


def test_the_load_limit_is_per_address(client, db, settings):
    settings.PANEL_RATE_LIMIT = 1
    settings.NUM_PROXIES = 1
    assert client.get(PANEL, {"visitorImId": VISITOR}, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get(PANEL, {"visitorImId": VISITOR}, REMOTE_ADDR="10.0.0.1").status_code == 429
    r = client.get(PANEL, {"visitorImId": VISITOR}, headers={"x-forwarded-for": "203.0.113.9"})
    assert r.status_code == 200


def test_it_reads_the_address_the_proxy_appended(client, db, settings):
    settings.PANEL_RATE_LIMIT = 1
    settings.NUM_PROXIES = 1
    first = client.get(
        PANEL, {"visitorImId": VISITOR}, headers={"x-forwarded-for": "1.1.1.1, 203.0.113.9"}
    )
    assert first.status_code == 200
    # A different spoofed first entry does not buy a new budget.
    r = client.get(
        PANEL, {"visitorImId": VISITOR}, headers={"x-forwarded-for": "2.2.2.2, 203.0.113.9"}
    )
    assert r.status_code == 429


def test_the_default_limit_serves_a_busy_office(client, db, settings):
    assert settings.PANEL_RATE_LIMIT >= 600
    for _ in range(50):
        assert client.get(PANEL, {"visitorImId": VISITOR}).status_code == 200


def test_it_limits_failures_tightly(client, db, settings):
    settings.PANEL_FAILURE_RATE_LIMIT = 2
    for _ in range(2):
        assert client.get("/panel/guess/", {"visitorImId": VISITOR}).status_code == 404
    r = client.get("/panel/guess/", {"visitorImId": VISITOR, "lang": "en"})
    assert_error_page(r, 429, "Too many requests from this address.")
    assert 1 <= int(r["Retry-After"]) <= 60


def test_failures_never_cost_a_valid_load(client, db, settings):
    # One misconfigured browser behind an office's NAT address must not lock the office out.
    settings.PANEL_FAILURE_RATE_LIMIT = 2
    for _ in range(5):
        client.get("/panel/guess/", {"visitorImId": VISITOR})
    assert client.get(PANEL, {"visitorImId": VISITOR}).status_code == 200


def test_bad_parameters_count_as_failures(client, db, settings):
    settings.PANEL_FAILURE_RATE_LIMIT = 2
    for _ in range(2):
        assert client.get(PANEL, {"lang": "en"}).status_code == 400
    r = client.get(PANEL, {"lang": "en"})
    assert r.status_code == 429
    assert "Retry-After" in r
    assert client.get(PANEL, {"visitorImId": VISITOR, "lang": "en"}).status_code == 200


def test_failures_past_the_budget_are_not_audited(client, db, settings):
    settings.PANEL_FAILURE_RATE_LIMIT = 2
    for _ in range(5):
        client.get(PANEL, {"lang": "en"})
    assert AuditEvent.objects.filter(outcome=AuditEvent.Outcome.BAD_REQUEST).count() == 2


def test_the_load_limit_says_when_to_retry(client, db, settings):
    settings.PANEL_RATE_LIMIT = 1
    client.get(PANEL, {"visitorImId": VISITOR})
    r = client.get(PANEL, {"visitorImId": VISITOR})
    assert r.status_code == 429
    assert 1 <= int(r["Retry-After"]) <= 60


def test_successful_loads_do_not_count_as_failures(client, db, settings):
    settings.PANEL_FAILURE_RATE_LIMIT = 2
    for _ in range(5):
        assert client.get(PANEL, {"visitorImId": VISITOR}).status_code == 200


def test_it_limits_failed_actions_too(client, db, settings):
    settings.PANEL_FAILURE_RATE_LIMIT = 1
    client.get("/panel/guess/", {"visitorImId": VISITOR})
    r = client.post(PANEL + "reveal/", {"t": "x", "v": VISITOR, "field": "phone", "lang": "en"})
    assert r.status_code == 429
    assert r.json() == {"error": "Too many requests from this address."}
    assert "Retry-After" in r


def test_it_limits_actions_with_the_loads(client, db, settings):
    settings.PANEL_RATE_LIMIT = 1
    client.get(PANEL, {"visitorImId": VISITOR})
    r = client.post(PANEL + "reveal/", {"t": "x", "v": VISITOR, "field": "phone", "lang": "en"})
    assert r.status_code == 429


# --- never a 500 ------------------------------------------------------------------------------

ODD_QUERIES = [
    "visitorImId=%00",
    "visitorImId=a%00b&lang=en",
    "visitorImId=%FF%FE%FD",
    "visitorImId=%E4%B8",
    "visitorImId=%",
    "visitorImId=%%%%&name=%zz",
    "visitorImId=a;b&c",
    "visitorImId[]=a",
    "visitorImId=%F0%9F%98%80&name=%F0%9F%98%80",
    "visitorImId=a&lang=%00",
    "visitorImId=a&lang=" + "x" * 5000,
    "visitorImId=a&customUserId=%00",
    "visitorImId=a&phone=" + "9" * 2000,
    "visitorImId=a&customerEmail=@@@",
    "visitorImId=a&originType=%00",
    "visitorImId=a&" + "&".join(["name=x"] * 500),
    "=&=&=",
    "&&&&",
    "visitorImId=+",
    "visitorImId=a&%E4%B8%AD%E6%96%87=%E5%80%BC",
]


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_it_never_fails_on_odd_queries(client, db, query):
    r = client.get(PANEL + "?" + query)
    assert r.status_code < 500
    assert b"Traceback" not in r.content


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_it_never_fails_on_odd_queries_with_a_key(client, db, settings, query):
    settings.EASEMOB_IFRAME_KEY = KEY
    settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True
    r = client.get(PANEL + "?" + query)
    assert r.status_code < 500


@pytest.mark.parametrize(
    "token", ["%00", "%FF", "..", "panel-token-for-tests-7Qm2x%00", "x" * 3000]
)
def test_it_never_fails_on_odd_tokens(client, db, token):
    r = client.get(f"/panel/{token}/", {"visitorImId": VISITOR})
    assert r.status_code == 404


def ciphertext_of_bytes(data):
    """Easemob's cipher applied to bytes that are not UTF-8: the padding checks out."""
    return DES.new(KEY[:8].encode(), DES.MODE_ECB).encrypt(pad(data, 8)).hex()  # noqa: S304


def test_it_never_fails_on_ciphertext_of_garbage(client, db, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    r = client.get(
        PANEL,
        {
            "visitorImId": VISITOR,
            "name": "00" * 8,
            "age": "ff" * 64,
            "bytes": ciphertext_of_bytes(b"\xff\xfe"),
            "hexText": encrypt("877523f86f18f55e", KEY),
        },
    )
    assert r.status_code == 200


# Any character a browser can put in a URL (surrogates cannot be UTF-8 encoded at all).
TEXT = st.characters(exclude_categories=["Cs"])
FUZZ = hypothesis_settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_fuzz_raw_query_strings(db, raw):
    cache.clear()
    # What a WSGI server passes on: the raw bytes of the query, as a latin-1 string.
    r = Client().get(PANEL, QUERY_STRING=raw.decode("latin-1"))
    assert r.status_code < 500


@FUZZ
@given(
    visitor=st.text(TEXT, max_size=40),
    params=st.dictionaries(st.text(TEXT, max_size=12), st.text(TEXT, max_size=40), max_size=8),
    key_set=st.booleans(),
)
def test_fuzz_parameters(db, visitor, params, key_set):
    cache.clear()
    query = {"visitorImId": visitor, **params}
    encoded = "&".join(f"{quote(name)}={quote(value)}" for name, value in query.items())
    with override_settings(EASEMOB_IFRAME_KEY=KEY if key_set else ""):
        r = Client().get(PANEL + "?" + encoded)
    assert r.status_code < 500


# --- headers and charsets, through the WSGI application gunicorn serves -------------------------

# What a WSGI server passes on for a header: its bytes as a latin-1 string (PEP 3333).
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
CHARSETS = st.one_of(st.sampled_from([*REFUSED, *ACCEPTED, *STDLIB_NAMES]), HEADER_TEXT)
CONTENT_TYPES = st.one_of(
    HEADER_TEXT,
    st.builds(
        "{}; charset={}{}".format,
        st.sampled_from(
            ["text/plain", "multipart/form-data", "application/x-www-form-urlencoded", ""]
        ),
        CHARSETS,
        st.one_of(
            st.sampled_from(["", "; boundary=B0UNDARY", "; charset*=utf-8''rot13", "; x*=a''b"]),
            HEADER_TEXT.map("; {}".format),
        ),
    ),
)
HEADERS = [
    "HTTP_ACCEPT",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_AUTHORIZATION",
    "HTTP_COOKIE",
    "HTTP_HOST",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_NONE_MATCH",
    "HTTP_ORIGIN",
    "HTTP_REFERER",
    "HTTP_USER_AGENT",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_REQUEST_ID",
]
FUZZ_QUERY = f"visitorImId={VISITOR}&name=%E5%BC%A0%E4%B8%89&lang=en"


@FUZZ
@given(
    content_type=CONTENT_TYPES,
    method=st.sampled_from(["GET", "POST"]),
    body=st.binary(max_size=200),
)
def test_fuzz_content_types(db, content_type, method, body):
    cache.clear()
    path = PANEL if method == "GET" else PANEL + "create/"
    status, _headers, _body = call(method, path, FUZZ_QUERY, content_type, body)
    assert status < 500


@FUZZ
@given(headers=st.dictionaries(st.sampled_from(HEADERS), HEADER_TEXT, max_size=5))
def test_fuzz_header_values(db, headers):
    cache.clear()
    status, _headers, _body = call("GET", PANEL, FUZZ_QUERY, **headers)
    assert status < 500

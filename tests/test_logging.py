"""Log lines carry the request id, and never a panel URL's query string."""

import io
import logging

import pytest
from django.core.exceptions import BadRequest, PermissionDenied
from django.test import Client
from django.urls import path

from ops import request_id
from ops.log import RequestContextFilter, mask_panel_path

PANEL_QUERY = "?name=张三&phone=13800138000&visitorImId=webim-visitor-8K2FTG9Q"
# The query in every shape it could take in a log line: as typed, percent-encoded, escaped.
LEAKS = ["张三", "13800138000", "name=", "phone=", "%E5%BC%A0", "\\u5f20", "webim-visitor"]


def bad_phone(request):
    raise BadRequest(f"not a phone number: {request.GET['phone']}")


def forbidden(request):
    raise PermissionDenied(f"customer {request.GET['name']} is not yours")


def broken(request):
    raise RuntimeError("the view is broken")


urlpatterns = [
    path("bad/", bad_phone),
    path("forbidden/", forbidden),
    path("broken/", broken),
]


@pytest.fixture
def log_output():
    """What the configured console handler writes, formatted as in production."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RequestContextFilter) for f in h.filters)
    )
    # Swapped without setStream(), which would flush the previous stream: a test that runs
    # django.setup() again may have left the handler on a stream pytest has since closed.
    stream = io.StringIO()
    previous, handler.stream = handler.stream, stream
    yield stream
    handler.stream = previous


def assert_no_query(text):
    for leak in LEAKS:
        assert leak not in text


def test_a_404_on_a_panel_url_logs_the_path_without_the_query(client, db, log_output):
    response = client.get("/panel/wrong-token/" + PANEL_QUERY)
    assert response.status_code == 404
    text = log_output.getvalue()
    assert f"WARNING django.request [{response['X-Request-ID']}] GET /panel/***/ 404" in text
    assert_no_query(text)


def test_a_400_for_a_bad_host_logs_no_query(client, db, log_output):
    response = client.get("/panel/wrong-token/" + PANEL_QUERY, HTTP_HOST="evil.example")
    assert response.status_code == 400
    text = log_output.getvalue()
    assert "DisallowedHost" in text
    assert f"[{response['X-Request-ID']}]" in text
    assert_no_query(text)


def test_a_bad_host_logs_one_warning_line(client, db, log_output):
    response = client.get("/orders/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert log_output.getvalue().splitlines() == [
        log_output.getvalue().split(" WARNING ")[0]
        + f" WARNING django.security.DisallowedHost [{response['X-Request-ID']}] GET /orders/ 400"
        " Bad Request (DisallowedHost) Host: evil.example"
    ]


def test_a_csrf_failure_logs_one_line_with_its_reason(db, log_output):
    response = Client(enforce_csrf_checks=True).post("/admin/login/" + PANEL_QUERY)

    assert response.status_code == 403
    assert log_output.getvalue().splitlines() == [
        log_output.getvalue().split(" WARNING ")[0]
        + f" WARNING django.security.csrf [{response['X-Request-ID']}] POST /admin/login/ 403"
        " Forbidden (CSRF cookie not set.)"
    ]


def test_a_bad_hosts_control_characters_are_escaped(client, db, log_output):
    response = client.get("/", HTTP_HOST="evil.example\n2026-01-01 ERROR forged\x1b[31m")

    assert response.status_code == 400
    text = log_output.getvalue()
    assert len(text.splitlines()) == 1
    assert "Host: evil.example\\n2026-01-01 ERROR forged\\x1b[31m" in text
    assert "Traceback" not in text


@pytest.mark.urls("tests.test_logging")
def test_a_400_logs_one_line_without_the_exceptions_text(client, db, log_output):
    response = client.get("/bad/" + PANEL_QUERY)
    assert response.status_code == 400
    lines = log_output.getvalue().splitlines()
    assert lines == [
        lines[0].split(" WARNING ")[0]
        + f" WARNING django.request [{response['X-Request-ID']}] GET /bad/ 400 Bad Request"
        " (BadRequest)"
    ]
    assert_no_query(log_output.getvalue())


@pytest.mark.urls("tests.test_logging")
def test_a_403_logs_no_parameters(client, db, log_output):
    response = client.get("/forbidden/" + PANEL_QUERY)
    assert response.status_code == 403
    text = log_output.getvalue()
    assert "GET /forbidden/ 403 Forbidden (PermissionDenied)" in text
    assert len(text.splitlines()) == 1
    assert_no_query(text)


@pytest.mark.urls("tests.test_logging")
def test_a_500_logs_the_request_line_and_the_traceback(db, log_output):
    response = Client(raise_request_exception=False).get("/broken/" + PANEL_QUERY)
    assert response.status_code == 500
    text = log_output.getvalue()
    first_line = text.splitlines()[0]
    assert first_line.endswith(
        f"ERROR django.request [{response['X-Request-ID']}] GET /broken/ 500 "
        "Internal Server Error (RuntimeError)"
    )
    assert "Traceback" in text
    assert "RuntimeError: the view is broken" in text
    assert_no_query(text)


def test_a_path_cannot_forge_a_log_line(client, db, log_output):
    client.get("/nope%0A2026-01-01 ERROR forged/")
    lines = log_output.getvalue().splitlines()
    assert len(lines) == 1
    assert "/nope\\n2026-01-01 ERROR forged/" in lines[0]


def test_the_proxys_request_id_is_in_the_log(client, db, log_output):
    client.get("/nope/", HTTP_X_REQUEST_ID="nginx-5f1c0b2e")
    assert "[nginx-5f1c0b2e] GET /nope/ 404" in log_output.getvalue()


def make_record(name="crm", msg="something happened", args=()):
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)


def test_the_filter_adds_the_current_request_id():
    token = request_id.current.set("abc123")
    try:
        record = make_record()
        assert RequestContextFilter().filter(record)
    finally:
        request_id.current.reset(token)
    assert record.request_id == "abc123"


def test_the_filter_marks_records_outside_a_request():
    record = make_record()
    RequestContextFilter().filter(record)
    assert record.request_id == "-"


def test_the_filter_leaves_other_messages_alone():
    record = make_record(msg="imported %d customers", args=(12,))
    RequestContextFilter().filter(record)
    assert record.getMessage() == "imported 12 customers"


def test_runserver_lines_lose_the_query_and_the_token():
    record = make_record(
        "django.server",
        '"%s" %s %s',
        ("GET /panel/panel-token-for-tests-7Qm2x/" + PANEL_QUERY + " HTTP/1.1", "200", "5120"),
    )
    RequestContextFilter().filter(record)
    assert record.getMessage() == '"GET /panel/***/ HTTP/1.1" 200 5120'


def test_runserver_error_lines_keep_their_arguments():
    record = make_record("django.server", "code %d, message %s", (400, "Bad request syntax"))
    RequestContextFilter().filter(record)
    assert record.getMessage() == "code 400, message Bad request syntax"


def test_an_application_log_line_inside_a_request_carries_its_id(client, db, settings, log_output):
    # The cache logs why Redis failed: a line written by the app mid-request.
    settings.CACHES = {
        "default": {
            "BACKEND": "ops.cache.FallbackRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-check-1")
    assert response.status_code == 200
    assert "WARNING ops.cache [lb-check-1] Redis cache unavailable" in log_output.getvalue()


def test_the_panel_token_is_not_logged(client, db, log_output):
    response = client.get("/panel/panel-token-for-tests-7Qm2x/?lang=en")
    assert response.status_code == 400
    text = log_output.getvalue()
    assert "GET /panel/***/ 400 Bad Request" in text
    assert "panel-token-for-tests-7Qm2x" not in text


def test_a_token_with_a_character_added_is_not_logged(client, db, log_output):
    response = client.get("/panel/panel-token-for-tests-7Qm2xx/?lang=en")
    assert response.status_code == 404
    text = log_output.getvalue()
    assert "GET /panel/***/ 404 Not Found" in text
    assert "panel-token-for-tests-7Qm2x" not in text


@pytest.mark.parametrize(
    "path, logged",
    [
        ("/panel/panel-token-for-tests-7Qm2x/", "/panel/***/"),
        ("/panel/panel-token-for-tests-7Qm2x", "/panel/***"),
        ("/panel/panel-token-for-tests-7Qm2x/reveal/", "/panel/***/reveal/"),
        ("/panel/panel-token-for-tests-7Qm2xx/lookup/", "/panel/***/lookup/"),
        ("/panel//panel-token-for-tests-7Qm2x/", "/panel/***"),
        ("/panel/x/panel-token-for-tests-7Qm2x/", "/panel/***"),
        ("/panel/panel-token-for-tests-7Qm2x/panel/x/", "/panel/***"),
        ("/PANEL/panel-token-for-tests-7Qm2x/", "/PANEL/***/"),
        ("//panel/panel-token-for-tests-7Qm2x/", "//panel/***/"),
        ("/crm/panel/panel-token-for-tests-7Qm2x/", "/crm/panel/***/"),
        ("/panel/test\npanel-token/", "/panel/***/"),
        ("/panel/", "/panel/"),
        ("/admin/iframe_panel/visitorinfo/", "/admin/iframe_panel/visitorinfo/"),
    ],
)
def test_whatever_follows_panel_is_masked(path, logged):
    assert mask_panel_path(path) == logged

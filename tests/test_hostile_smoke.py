"""A few hundred requests of the hostile campaign (bench/hostile.py, `make hostile`) answered
in-process: no 5xx, no traceback, no payload given back unescaped.

The campaign itself sends 20,000 to gunicorn; here the same generator feeds the WSGI
application gunicorn serves (crm_project.wsgi, with whatever guards wrap Django there), with an
environ as gunicorn builds it. The raw-socket class needs a real server and is left to the
campaign.
"""

import io
from urllib.parse import unquote_to_bytes

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from bench.hostile import Answer, Context, hostile, judge, new_api_token
from crm_project.wsgi import application

SEED = 8
KEY = "smoke-iframe-key"
# Requests of the campaign, in number order.
COUNT = 300


def environ(request, host):
    """The WSGI environ gunicorn would build for `request` coming through nginx."""
    path, _, query = request.target.partition("?")
    env = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(request.body)),
        "SERVER_NAME": host,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    given = {}
    for name, value in request.headers:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        # gunicorn joins repeated headers with a comma.
        given[key] = f"{given[key]},{value}" if key in given else value
    forwarded = given.pop("HTTP_X_FORWARDED_FOR", None)
    env.update({"HTTP_HOST": host, "HTTP_X_FORWARDED_PROTO": "https", **given})
    env["HTTP_X_FORWARDED_FOR"] = ", ".join(filter(None, [forwarded, request.address]))
    return env


def call(request, host="testserver"):
    """The application's answer, an exception out of it being gunicorn's 500."""
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name.lower(): value for name, value in headers}

    # As Django's test client does: the end of a request must not close the connection that
    # holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        result = application(environ(request, host), start_response)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
    except Exception as error:  # gunicorn answers 500
        return Answer(500, body=f"{type(error).__name__}: {error}")
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    headers = answer["headers"]
    return Answer(
        answer["status"],
        headers.get("content-type", ""),
        headers.get("retry-after"),
        body.decode("utf-8", "replace"),
    )


@pytest.fixture
def context(settings, visitor, make_order):
    settings.PANEL_RATE_LIMIT = settings.PANEL_FAILURE_RATE_LIMIT = 10**8
    order = make_order(visitor.customer, "SO2026000001")
    api_token = new_api_token("smoke")[1]
    revoked, revoked_api_token = new_api_token("smoke, revoked")
    revoked.revoke()
    return Context(
        token=settings.PANEL_TOKEN,
        iframe_key=KEY,
        host="testserver",
        visitors=[(visitor.visitor_im_id, visitor.customer_id)],
        external_ids=[visitor.customer.external_id],
        order_numbers=[order.number],
        api_token=api_token,
        revoked_api_token=revoked_api_token,
    )


def answer_all(requests, settings):
    """(request, answer, problems) of each request, each on its server's settings."""
    results = []
    for encrypted in (False, True):
        settings.EASEMOB_IFRAME_KEY = KEY if encrypted else ""
        settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = encrypted
        for request in requests:
            if request.encrypted == encrypted:
                answer = call(request)
                results.append((request, answer, judge(request, answer)))
    return results


def failed(results):
    return [
        (request.method, request.target[:200], request.body[:100], answer.status, problems)
        for request, answer, problems in results
        if problems
    ]


def test_it_answers_hostile_requests_without_5xx_tracebacks_or_reflections(context, settings):
    requests = [hostile(SEED, n, context) for n in range(COUNT)]
    requests = [r for r in requests if r.kind not in ("raw", "charset")]

    results = answer_all(requests, settings)

    assert failed(results) == []
    kinds = {request.kind for request, _answer, _problems in results}
    assert kinds == {"token", "query", "injection", "headers", "actions", "api", "admin"}
    statuses = {answer.status for _request, answer, _problems in results}
    assert {200, 400, 403, 404} <= statuses


def test_it_answers_odd_charsets_without_5xx(context, settings):
    # The guard in front of Django (ops/wsgi.py) answers these; without it they are 500s.
    requests = [hostile(SEED, n, context) for n in range(COUNT * 4)]
    requests = [r for r in requests if r.kind == "charset"]

    results = answer_all(requests, settings)

    assert len(results) > 50
    assert failed(results) == []

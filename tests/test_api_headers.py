"""What the API's answers tell browsers and proxies: keep no copy of personal data, and run no
script on the documentation page that the page did not name."""

import re

import pytest
from rest_framework.test import APIClient

from api import urls as api_urls
from api.models import IntegrationToken


@pytest.fixture
def api(db):
    token = IntegrationToken(name="Shop")
    raw = token.set_new_token()
    token.save()
    return APIClient(HTTP_ACCEPT_LANGUAGE="en", HTTP_AUTHORIZATION=f"Bearer {raw}")


def assert_not_stored(response):
    assert "no-store" in response["Cache-Control"]


# --- Cache-Control ----------------------------------------------------------------------------


def test_a_customer_is_never_stored(api, customer):
    response = api.get("/api/v1/customers/U1001/")
    assert response.status_code == 200
    assert response.json()["phone"] == "13800138000"
    assert_not_stored(response)


def test_a_customer_list_is_never_stored(api, customer):
    response = api.get("/api/v1/customers/", {"phone": "13800138000"})
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert_not_stored(response)


def test_an_order_is_never_stored(api, customer, make_order):
    order = make_order(customer, "SO-20260301-0001")
    order.recipient_phone = "13800138000"
    order.save()
    response = api.get("/api/v1/orders/SO-20260301-0001/")
    assert response.status_code == 200
    assert response.json()["recipient_phone"] == "13800138000"
    assert_not_stored(response)


def test_a_written_customer_is_never_stored(api, db):
    response = api.put("/api/v1/customers/U3001/", {"name": "李娜"}, format="json")
    assert response.status_code == 201
    assert_not_stored(response)


DATA_ROUTES = [
    pattern for pattern in api_urls.urlpatterns if str(pattern.pattern).startswith("v1/")
]


@pytest.mark.parametrize("pattern", DATA_ROUTES, ids=lambda pattern: pattern.name)
def test_every_data_route_says_no_store_even_when_it_refuses(db, pattern):
    # Any route added later is covered: its refusal of a request without a token passes
    # through the same view code as its answers.
    path = "/api/" + re.sub(r"<str:\w+>", "x", str(pattern.pattern))
    response = APIClient().get(path)
    assert response.status_code == 401
    assert_not_stored(response)


# --- the documentation page --------------------------------------------------------------------


def test_the_docs_page_has_a_strict_content_security_policy(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy


def test_the_docs_page_has_no_inline_script_or_style(db):
    page = APIClient().get("/api/docs/").content.decode()
    assert "<style" not in page
    assert " style=" not in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) == 3
    for attributes, body in scripts:
        assert "src=" in attributes and not body.strip()


def test_the_docs_init_script_is_served_as_javascript(db):
    page = APIClient().get("/api/docs/").content.decode()
    script_url = re.search(r'<script src="(/api/docs/\?[^"]*)"', page).group(1)
    response = APIClient().get(script_url.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in response.content.decode()
    assert '"/api/schema/"' in response.content.decode()


@pytest.mark.parametrize("method", ["options", "post", "put", "delete"])
def test_the_docs_page_answers_only_get(db, method):
    # Found by make hostile: OPTIONS rendered no template and answered 500.
    response = getattr(APIClient(), method)("/api/docs/")
    assert response.status_code == 405

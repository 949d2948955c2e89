import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from api.models import IntegrationToken
from customers.models import Customer


def test_it_serves_the_schema_without_a_token(db):
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/orders/{number}/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["integrationToken"]["scheme"] == "bearer"


def test_it_serves_the_schema_even_with_a_bad_token(db):
    client = APIClient(HTTP_AUTHORIZATION="Bearer crm_wrong")
    assert client.get("/api/schema/").status_code == 200


def test_docs_load_no_assets_from_a_cdn(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "https://" not in page
    assert "//cdn" not in page


def test_docs_assets_are_shipped_as_static_files():
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css")


@pytest.fixture
def raw_token(db):
    token = IntegrationToken(name="Shop")
    raw = token.set_new_token()
    token.save()
    return raw


@pytest.fixture
def fuzzing(db, settings):
    # The generated requests come fast; the rate limit is tested in test_api_tokens.py.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"integration": "100000/min"},
    }
    # The customer named in the schema's examples, so that they reach the write paths.
    Customer.objects.create(name="张伟", external_id="U1001")
    # Requests go through the real WSGI handler, whose end-of-request signal would close the
    # database connection inside the test's transaction (Django's test client disconnects it
    # the same way).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded once, when the tests are collected: the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case, raw_token, fuzzing):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {raw_token}"}, checks=[not_a_server_error]
    )

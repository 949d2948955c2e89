import hashlib
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import IntegrationToken

URL = "/api/v1/customers/"


@pytest.fixture
def issued(db):
    token = IntegrationToken(name="Shop")
    raw = token.set_new_token()
    token.save()
    return token, raw


def get(authorization=None):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.get(URL)


def shown_token(response):
    messages = " ".join(str(message) for message in response.context["messages"])
    return re.search(r"crm_[A-Za-z0-9_-]+", messages).group()


def test_it_accepts_bearer_token(issued):
    _token, raw = issued
    assert get(f"Bearer {raw}").status_code == 200


def test_it_accepts_token_keyword(issued):
    _token, raw = issued
    assert get(f"Token {raw}").status_code == 200


def test_it_requires_a_token(db):
    response = get()
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


def test_it_rejects_wrong_token(issued):
    response = get("Bearer crm_not-a-real-token")
    assert response.status_code == 401


def test_it_rejects_revoked_token(issued):
    token, raw = issued
    token.revoke()
    response = get(f"Bearer {raw}")
    assert response.status_code == 401
    assert response.json()["detail"] == "This token has been revoked."


def test_it_rejects_header_without_token(issued):
    assert get("Bearer").status_code == 401


def test_it_rejects_header_with_extra_parts(issued):
    _token, raw = issued
    assert get(f"Bearer {raw} extra").status_code == 401


def test_it_ignores_other_schemes(issued):
    assert get("Basic dXNlcjpwYXNz").status_code == 401


def test_it_does_not_accept_an_admin_session(staff_client):
    assert staff_client.get(URL).status_code == 401


def test_it_records_last_use(issued):
    token, raw = issued
    get(f"Bearer {raw}")
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_it_records_last_use_at_most_once_a_minute(issued):
    token, raw = issued
    recently = timezone.now() - timedelta(seconds=10)
    IntegrationToken.objects.filter(pk=token.pk).update(last_used_at=recently)
    get(f"Bearer {raw}")
    token.refresh_from_db()
    assert token.last_used_at == recently


def test_it_stores_only_the_hash(issued):
    token, raw = issued
    token.refresh_from_db()
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(token.prefix)
    assert len(token.prefix) < len(raw) // 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_integrationtoken")
        rows = cursor.fetchall()
    assert not any(raw in str(value) for row in rows for value in row)


def test_tokens_are_unique(db):
    assert IntegrationToken().set_new_token() != IntegrationToken().set_new_token()


def test_it_throttles_per_token(issued, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"integration": "2/min"},
    }
    _token, raw = issued
    assert get(f"Bearer {raw}").status_code == 200
    assert get(f"Bearer {raw}").status_code == 200
    assert get(f"Bearer {raw}").status_code == 429

    other = IntegrationToken(name="ERP")
    other_raw = other.set_new_token()
    other.save()
    assert get(f"Bearer {other_raw}").status_code == 200


def test_admin_shows_the_token_once(staff_client):
    response = staff_client.post("/admin/api/integrationtoken/add/", {"name": "Shop"}, follow=True)
    assert response.status_code == 200
    token = IntegrationToken.objects.get()
    raw = shown_token(response)
    assert hashlib.sha256(raw.encode()).hexdigest() == token.token_hash
    assert token.created_by.username == "boss"

    again = staff_client.get("/admin/api/integrationtoken/")
    assert raw not in again.content.decode()
    assert token.prefix in again.content.decode()
    change = staff_client.get(f"/admin/api/integrationtoken/{token.pk}/change/")
    assert raw not in change.content.decode()


def test_admin_token_works_for_the_api(staff_client):
    response = staff_client.post("/admin/api/integrationtoken/add/", {"name": "ERP"}, follow=True)
    raw = shown_token(response)
    assert get(f"Bearer {raw}").status_code == 200


def test_admin_action_revokes(staff_client, issued):
    token, raw = issued
    response = staff_client.post(
        "/admin/api/integrationtoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert get(f"Bearer {raw}").status_code == 401


def test_admin_action_keeps_first_revocation_time(staff_client, issued):
    token, _raw = issued
    earlier = timezone.now() - timedelta(days=3)
    IntegrationToken.objects.filter(pk=token.pk).update(revoked_at=earlier)
    staff_client.post(
        "/admin/api/integrationtoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at == earlier

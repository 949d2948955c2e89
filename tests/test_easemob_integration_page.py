import pytest
from django.urls import reverse

from iframe_panel.models import AuditEvent

pytestmark = pytest.mark.django_db

URL = "/admin/easemob/"


@pytest.fixture
def en():
    return {"HTTP_ACCEPT_LANGUAGE": "en"}


def test_it_shows_the_panel_url_and_the_settings_to_copy(staff_client, settings, en):
    settings.EASEMOB_IFRAME_KEY = "s3cret-key-123"
    settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True
    response = staff_client.get(URL, **en)
    assert response.status_code == 200
    assert "https://testserver/panel/panel-token-for-tests-7Qm2x/" in response.text
    assert "Set in EASEMOB_IFRAME_KEY" in response.text
    assert "On: tick the box in Easemob." in response.text
    assert "https://*.easemob.com" in response.text
    # The key itself is never shown.
    assert "s3cret-key-123" not in response.text


def test_it_says_when_no_key_is_set(staff_client, en):
    response = staff_client.get(URL, **en)
    assert "Not set: leave Easemob's key empty" in response.text
    assert "No key is configured." in response.text


def test_it_encrypts_and_decrypts_a_sample_with_the_configured_key(staff_client, settings, en):
    settings.EASEMOB_IFRAME_KEY = "123456789"
    response = staff_client.post(URL, {"operation": "encrypt", "value": "Jack"}, **en)
    assert '<code id="crypto-result">877523f86f18f55e</code>' in response.text
    response = staff_client.post(URL, {"operation": "decrypt", "value": "877523F86F18F55E"}, **en)
    assert '<code id="crypto-result">Jack</code>' in response.text
    response = staff_client.post(URL, {"operation": "decrypt", "value": "zz"}, **en)
    assert "does not decrypt with the configured key" in response.text


def test_it_lists_the_latest_panel_requests_with_their_outcome(staff_client, customer, en):
    AuditEvent.objects.create(
        action="view", outcome="bad_request", visitor_im_id="v-bad", detail="system_undecryptable"
    )
    AuditEvent.objects.create(action="view", outcome="ok", visitor_im_id="v-ok", customer=customer)
    response = staff_client.get(URL, **en)
    assert "A system parameter did not decrypt" in response.text
    assert "system_undecryptable" not in response.text
    assert "v-ok" in response.text and "张伟" in response.text


def test_the_admin_index_links_to_it(staff_client, en):
    response = staff_client.get(reverse("admin:index"), **en)
    assert 'href="/admin/easemob/"' in response.text


def test_it_is_for_superusers_only(client, django_user_model):
    staff = django_user_model.objects.create_user("clerk", password="pw-123456", is_staff=True)
    client.force_login(staff)
    response = client.get(URL)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    assert 'href="/admin/easemob/"' not in client.get(reverse("admin:index")).text

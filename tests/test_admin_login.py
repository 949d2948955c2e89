"""Admin logins: lockout after repeated failures (django-axes) and the optional second factor
(django-otp)."""

import io
import logging
import socket

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from api.models import IntegrationToken
from tests.test_settings import PRODUCTION, manage

LOGIN = "/admin/login/"
PASSWORD = "Correct-horse-9"
WRONG = "Guess-number-%d"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    # The panel's own per-address limits live in the cache; a test starts with none used.
    cache.clear()


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)


@pytest.fixture
def clerk(django_user_model):
    return django_user_model.objects.create_user("clerk", "", PASSWORD, is_staff=True)


def log_in(client, username, password, lang="en", forwarded_for=None, **fields):
    headers = {"Accept-Language": lang}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/", **fields},
        headers=headers,
    )


def fail(client, username, times, forwarded_for=None):
    return [
        log_in(client, username, WRONG % i, forwarded_for=forwarded_for).status_code
        for i in range(times)
    ]


def logged_in(client):
    return client.get("/admin/").status_code == 200


def test_it_locks_out_after_five_failures(client, boss):
    assert fail(client, "boss", 5) == [200, 200, 200, 200, 429]

    response = log_in(client, "boss", PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert not logged_in(client)
    assert AccessAttempt.objects.get(username="boss").failures_since_start == 5


def test_it_stops_fifty_guesses_at_five(client, boss):
    # What the admin did before: 50 wrong passwords processed, then the right one logged in.
    statuses = fail(client, "boss", 50)
    assert statuses.count(429) == 46
    assert log_in(client, "boss", PASSWORD).status_code == 429


def test_it_says_so_in_english(client, boss):
    fail(client, "boss", 5)
    response = log_in(client, "boss", PASSWORD, lang="en")
    page = response.content.decode()
    assert "Login temporarily locked" in page
    assert "locked for 15 minutes after the last failure" in page
    assert response["Content-Language"] == "en"


def test_it_says_so_in_chinese(client, boss):
    fail(client, "boss", 5)
    response = log_in(client, "boss", PASSWORD, lang="zh-CN")
    page = response.content.decode()
    assert response.status_code == 429
    assert "登录已暂时锁定" in page
    assert "最后一次失败后的 15 分钟内无法登录。" in page


def test_another_user_from_the_same_address_is_not_locked(client, boss, clerk):
    fail(client, "boss", 5)

    response = log_in(client, "clerk", PASSWORD)
    assert response.status_code == 302
    assert logged_in(client)


def test_the_same_user_from_another_address_is_not_locked(client, boss):
    # Behind nginx (NUM_PROXIES=1) the client's address is the right-most X-Forwarded-For entry.
    fail(client, "boss", 5, forwarded_for="203.0.113.7")
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"

    forged = log_in(client, "boss", PASSWORD, forwarded_for="198.51.100.2, 203.0.113.7")
    assert forged.status_code == 429
    response = log_in(client, "boss", PASSWORD, forwarded_for="198.51.100.2")
    assert response.status_code == 302


def test_a_successful_login_resets_the_count(client, boss):
    assert fail(client, "boss", 4) == [200] * 4
    assert log_in(client, "boss", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.exists()

    client.logout()
    assert fail(client, "boss", 4) == [200] * 4
    assert log_in(client, "boss", PASSWORD).status_code == 302


def test_it_unlocks_with_the_axes_reset_command(client, boss):
    fail(client, "boss", 5)

    call_command("axes_reset_username", "boss", stdout=io.StringIO())

    assert log_in(client, "boss", PASSWORD).status_code == 302


def test_it_unlocks_everyone_with_axes_reset(client, boss, clerk):
    fail(client, "boss", 5)
    fail(client, "clerk", 5)

    call_command("axes_reset", stdout=io.StringIO())

    assert not AccessAttempt.objects.exists()
    assert log_in(client, "boss", PASSWORD).status_code == 302


def test_a_superuser_sees_lockouts_in_the_admin(client, boss, clerk, django_user_model):
    fail(client, "clerk", 5)
    client.force_login(boss)

    response = client.get("/admin/axes/accessattempt/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = response.content.decode()
    assert response.status_code == 200
    assert "登录失败记录" in page
    assert "已锁定" in page
    assert "clerk" in page
    index = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "管理后台登录锁定" in index


def test_a_superuser_unlocks_a_user_in_the_admin(client, boss, clerk):
    other = client.__class__()
    fail(other, "clerk", 5)
    attempt = AccessAttempt.objects.get(username="clerk")
    client.force_login(boss)

    response = client.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert log_in(other, "clerk", PASSWORD).status_code == 302


def test_no_password_reaches_the_log_or_the_database(client, boss, caplog):
    caplog.set_level(logging.DEBUG)

    fail(client, "boss", 6)

    messages = "\n".join(record.getMessage() for record in caplog.records)
    assert "AXES: Locking out" in messages
    assert "Guess-number" not in messages
    assert "boss" not in messages
    attempt = AccessAttempt.objects.get()
    assert "Guess-number" not in attempt.post_data
    assert "password=****" in attempt.post_data


def test_it_locks_out_while_redis_is_down(client, boss, settings):
    # A closed port: the lockouts live in the database, the admin does not need the cache.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }

    assert fail(client, "boss", 5)[-1] == 429
    assert log_in(client, "boss", PASSWORD).status_code == 429
    call_command("axes_reset", stdout=io.StringIO())
    assert log_in(client, "boss", PASSWORD).status_code == 302


def test_the_panel_and_the_api_are_not_touched(client, boss, customer, visitor):
    fail(client, "boss", 5)
    token = IntegrationToken(name="Shop")
    raw = token.set_new_token()
    token.save()
    api = APIClient()

    for _ in range(10):
        client.get("/panel/wrong-token/", {"visitorImId": visitor.visitor_im_id})
        api.get("/api/v1/customers/U1001/", HTTP_AUTHORIZATION="Bearer wrong")
    panel = client.get(
        "/panel/panel-token-for-tests-7Qm2x/", {"visitorImId": visitor.visitor_im_id}
    )
    found = api.get("/api/v1/customers/U1001/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert panel.status_code == 200
    assert found.status_code == 200
    assert AccessAttempt.objects.get().username == "boss"


def test_it_refuses_to_start_without_a_failure_limit():
    result = manage("check", env={**PRODUCTION, "ADMIN_LOGIN_FAILURE_LIMIT": "0"})

    assert result.returncode != 0
    assert "ADMIN_LOGIN_FAILURE_LIMIT" in result.stderr


# --- Two-factor authentication ------------------------------------------------------------------


def code(device):
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


@pytest.fixture
def phone(boss):
    return TOTPDevice.objects.create(user=boss, name="phone")


def test_a_password_logs_in_while_two_factor_is_off(client, boss, phone):
    response = log_in(client, "boss", PASSWORD)

    assert response.status_code == 302
    assert logged_in(client)


def test_a_password_alone_does_not_log_in_with_two_factor_on(client, boss, phone, settings):
    settings.ADMIN_TWO_FACTOR = True

    response = log_in(client, "boss", PASSWORD, lang="zh-hans")

    assert response.status_code == 200
    assert "请输入动态验证码。" in response.content.decode()
    assert not logged_in(client)


def test_password_and_code_log_in_with_two_factor_on(client, boss, phone, settings):
    settings.ADMIN_TWO_FACTOR = True

    response = log_in(client, "boss", PASSWORD, otp_token=code(phone))

    assert response.status_code == 302
    assert logged_in(client)


def test_a_wrong_code_does_not_log_in(client, boss, phone, settings):
    settings.ADMIN_TWO_FACTOR = True
    wrong = f"{(int(code(phone)) + 1) % 1_000_000:06d}"

    response = log_in(client, "boss", PASSWORD, otp_token=wrong)

    assert response.status_code == 200
    assert "Invalid token" in response.content.decode()
    assert not logged_in(client)


def test_staff_without_a_device_cannot_log_in_with_two_factor_on(client, clerk, settings):
    settings.ADMIN_TWO_FACTOR = True

    log_in(client, "clerk", PASSWORD, otp_token="123456")

    assert not logged_in(client)


def test_a_session_without_a_second_factor_is_refused(client, boss, settings):
    client.force_login(boss)
    assert logged_in(client)

    settings.ADMIN_TWO_FACTOR = True

    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("path", ["/admin/easemob/", "/simulator/"])
def test_the_admins_own_pages_need_the_second_factor_too(client, boss, settings, path):
    client.force_login(boss)
    settings.ADMIN_TWO_FACTOR = True
    settings.SIMULATOR_ENABLED = True
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    frame_url = client.post("/simulator/frame-url/", "{}", content_type="application/json")
    assert frame_url.status_code in (403, 404)


def test_an_emergency_code_logs_in(client, boss, settings):
    settings.ADMIN_TWO_FACTOR = True
    out = io.StringIO()
    call_command("addstatictoken", "boss", stdout=out)
    emergency = out.getvalue().strip()

    assert log_in(client, "boss", PASSWORD, otp_token=emergency).status_code == 302
    assert not StaticDevice.objects.get().token_set.exists()


def test_a_user_with_two_devices_picks_one(client, boss, phone, settings):
    settings.ADMIN_TWO_FACTOR = True
    out = io.StringIO()
    call_command("addstatictoken", "boss", stdout=out)
    emergency = out.getvalue().strip()

    asked = log_in(client, "boss", PASSWORD, otp_token=emergency)
    assert "Please select a device." in asked.content.decode()
    device = StaticDevice.objects.get().persistent_id
    response = log_in(client, "boss", PASSWORD, otp_token=emergency, otp_device=device)

    assert response.status_code == 302
    assert logged_in(client)


def test_the_totp_admin_shows_a_qr_code(client, boss, phone):
    client.force_login(boss)

    page = client.get(
        f"/admin/otp_totp/totpdevice/{phone.pk}/config/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    image = client.get(f"/admin/otp_totp/totpdevice/{phone.pk}/qrcode/")

    assert page.status_code == 200
    assert "身份验证器" in page.content.decode()
    assert image.status_code == 200
    assert image["Content-Type"] == "image/svg+xml"
    assert b"<svg" in image.content


def test_a_username_longer_than_any_is_refused_without_an_error(client, boss):
    # Found by make hostile: axes stored it in a 255-character column, a 500 on PostgreSQL.
    response = log_in(client, "x" * 300, PASSWORD)
    assert response.status_code == 200
    assert not logged_in(client)

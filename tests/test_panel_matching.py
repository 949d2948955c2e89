from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from customers.models import Customer, VisitorIdentity
from iframe_panel.crypto import encrypt
from iframe_panel.models import AuditEvent

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
KEY = "123456789"
NEW_VISITOR = "webim-visitor-NEWVISITOR0001"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


@pytest.fixture
def other_customer(db):
    return Customer.objects.create(
        name="李娜", phone="139 0000 1111", email="lina@example.com", external_id="U2002"
    )


def load(client, **params):
    return client.get(PANEL, {"visitorImId": NEW_VISITOR, "lang": "en", **params})


def identity_of(visitor_im_id=NEW_VISITOR):
    return VisitorIdentity.objects.filter(visitor_im_id=visitor_im_id).first()


def binds():
    return AuditEvent.objects.filter(action=AuditEvent.Action.BIND)


# --- 1. an existing VisitorIdentity ---------------------------------------------------------


def test_it_finds_a_known_visitor(client, visitor):
    r = client.get(PANEL, {"visitorImId": visitor.visitor_im_id, "lang": "en"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "张伟" in html
    assert "Unknown visitor" not in html
    assert VisitorIdentity.objects.count() == 1
    assert not binds().exists()


def test_a_known_visitor_wins_over_custom_user_id(client, visitor, other_customer):
    r = client.get(PANEL, {"visitorImId": visitor.visitor_im_id, "customUserId": "U2002"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "张伟" in html
    assert "李娜" not in html
    assert identity_of(visitor.visitor_im_id).customer == visitor.customer


def test_it_updates_last_seen_of_a_visitor_not_seen_for_a_while(client, visitor):
    an_hour_ago = timezone.now() - timedelta(hours=1)
    VisitorIdentity.objects.filter(pk=visitor.pk).update(last_seen_at=an_hour_ago)
    r = client.get(PANEL, {"visitorImId": visitor.visitor_im_id})
    assert r.status_code == 200
    visitor.refresh_from_db()
    assert visitor.last_seen_at > an_hour_ago + timedelta(minutes=59)


# --- 2. customUserId against external_id ------------------------------------------------------


def test_it_binds_by_custom_user_id(client, customer):
    r = load(client, customUserId="U1001")
    assert r.status_code == 200
    html = r.content.decode()
    assert "张伟" in html
    assert 'id="bound-notice"' in html
    identity = identity_of()
    assert identity.customer == customer
    assert identity.bound_via == "custom_user_id"


def test_it_records_the_binding(client, customer):
    r = load(client, customUserId="U1001", agentName="Amy", agentId="a-7")
    assert r.status_code == 200
    event = binds().get()
    assert event.outcome == "ok"
    assert event.visitor_im_id == NEW_VISITOR
    assert event.customer == customer
    assert event.detail == "custom_user_id"
    assert event.agent_name == "Amy"


def test_it_binds_only_once(client, customer):
    load(client, customUserId="U1001")
    r = load(client, customUserId="U1001")
    assert r.status_code == 200
    assert 'id="bound-notice"' not in r.content.decode()
    assert VisitorIdentity.objects.count() == 1
    assert binds().count() == 1


def test_it_trims_custom_user_id(client, customer):
    r = load(client, customUserId=" U1001 ")
    assert r.status_code == 200
    assert identity_of().customer == customer


def test_an_unknown_custom_user_id_matches_nobody(client, customer):
    r = load(client, customUserId="U9999")
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert identity_of() is None
    assert not binds().exists()


def test_custom_user_id_wins_over_phone(client, customer, other_customer):
    r = load(client, customUserId="U1001", phone="13900001111")
    assert r.status_code == 200
    identity = identity_of()
    assert identity.customer == customer
    assert identity.bound_via == "custom_user_id"


def test_it_matches_by_a_cached_custom_user_id(client, db):
    load(client, customUserId="U3003")
    assert identity_of() is None
    customer = Customer.objects.create(name="赵敏", external_id="U3003")
    r = load(client)  # the app does not push it again
    assert r.status_code == 200
    assert "赵敏" in r.content.decode()
    assert identity_of().customer == customer


# --- 3. a pushed phone or customer email ------------------------------------------------------


@pytest.mark.parametrize("name", ["phone", "mobile", "tel", "callerNumber", "caller"])
def test_it_binds_by_a_pushed_phone(client, customer, name):
    r = load(client, **{name: "+86 138-0013-8000"})
    assert r.status_code == 200
    assert "张伟" in r.content.decode()
    identity = identity_of()
    assert identity.customer == customer
    assert identity.bound_via == "phone"
    assert binds().get().detail == "phone"


@pytest.mark.parametrize(
    "phone", ["13800138000", "138 0013 8000", "008613800138000", "８６13800138000"]
)
def test_it_normalizes_a_pushed_phone(client, customer, phone):
    r = load(client, phone=phone)
    assert r.status_code == 200
    assert identity_of().customer == customer


def test_a_phone_shared_by_two_customers_matches_nobody(client, customer):
    Customer.objects.create(name="张伟的妻子", phone="13800138000")
    r = load(client, phone="13800138000")
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert identity_of() is None
    assert not binds().exists()


def test_an_unknown_phone_matches_nobody(client, customer):
    r = load(client, phone="13800138001")
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert identity_of() is None


def test_the_phone_param_names_are_a_setting(client, customer, settings):
    settings.PANEL_PHONE_PARAMS = ["contactNumber"]
    r = load(client, contactNumber="13800138000")
    assert r.status_code == 200
    assert identity_of().customer == customer


def test_a_phone_under_another_name_does_not_match(client, customer, settings):
    settings.PANEL_PHONE_PARAMS = ["contactNumber"]
    r = load(client, phone="13800138000")
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert identity_of() is None


@pytest.mark.parametrize("name", ["customerEmail", "visitorEmail", "userEmail"])
def test_it_binds_by_a_customer_email(client, customer, name):
    r = load(client, **{name: " ZhangWei@EXAMPLE.com "})
    assert r.status_code == 200
    assert "张伟" in r.content.decode()
    identity = identity_of()
    assert identity.customer == customer
    assert identity.bound_via == "email"


def test_phone_wins_over_email(client, customer, other_customer):
    r = load(client, phone="13900001111", customerEmail="zhangwei@example.com")
    assert r.status_code == 200
    assert identity_of().customer == other_customer


def test_the_agents_email_never_matches(client, customer):
    # Easemob's `email` is the agent's login; here it happens to equal a customer's.
    r = load(client, email="zhangwei@example.com")
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert identity_of() is None
    assert not binds().exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("userId", "U1001"), ("trueName", "张伟"), ("nickname", "13800138000"), ("desc", "U1001")],
)
def test_session_params_never_match(client, customer, name, value):
    r = load(client, **{name: value})
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert identity_of() is None


# --- with a key: only ciphertext is trusted ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("customUserId", "U1001"),
        ("phone", "13800138000"),
        ("customerEmail", "zhangwei@example.com"),
    ],
)
def test_unverified_plaintext_never_matches(client, customer, settings, name, value):
    settings.EASEMOB_IFRAME_KEY = KEY
    r = load(client, **{name: value})
    assert r.status_code == 200
    html = r.content.decode()
    assert "Unknown visitor" in html
    assert "data-unverified" in html
    assert identity_of() is None
    assert not binds().exists()


def test_unverified_plaintext_in_the_cache_never_matches_later(client, customer, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    load(client, customUserId="U1001")
    r = load(client)
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert identity_of() is None


def test_an_unverified_call_param_never_matches(client, customer, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    r = load(client, callerNumber="13800138000")
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert identity_of() is None


def test_an_encrypted_custom_user_id_matches(client, customer, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    r = load(client, customUserId=encrypt("U1001", KEY))
    assert r.status_code == 200
    assert "张伟" in r.content.decode()
    assert identity_of().bound_via == "custom_user_id"


def test_an_encrypted_phone_matches(client, customer, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    r = load(client, mobile=encrypt("+86 138 0013 8000", KEY))
    assert r.status_code == 200
    assert identity_of().bound_via == "phone"


def test_a_custom_user_id_encrypted_with_another_key_never_matches(client, customer, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    r = load(client, customUserId=encrypt("U1001", "87654321"))
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert identity_of() is None


# --- the call workbench -----------------------------------------------------------------------


def test_a_callers_number_finds_the_customer(client, customer):
    r = load(client, callId="call-42", callerNumber="+86 13800138000")
    assert r.status_code == 200
    html = r.content.decode()
    assert "张伟" in html
    assert "call-42" in html
    assert identity_of().bound_via == "phone"


# --- channel of a new identity ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("visitor_im_id", "origin_type", "channel"),
    [
        ("webim-visitor-8K2FTG9QTYWRT8EYVJ7F", "", "web"),
        ("oZx3Bs4Wq1eRt2yUi8oP0aSdFgHj", "", "wechat"),
        ("1234567890", "", "weibo"),
        ("im-user-42", "app", "app"),
        ("im-user-42", "weixin", "wechat"),
        ("im-user-42", "WebIM", "web"),
        ("im-user-42", "weibo", "weibo"),
        ("im-user-42", "wxwork", "wecom"),
        ("webim-visitor-8K2FTG9QTYWRT8EYVJ7F", "app", "app"),
        ("im-user-42", "", "other"),
        ("im-user-42", "telegram", "other"),
    ],
)
def test_it_infers_the_channel_of_a_new_identity(
    client, customer, visitor_im_id, origin_type, channel
):
    query = {"visitorImId": visitor_im_id, "customUserId": "U1001"}
    if origin_type:
        query["originType"] = origin_type
    r = client.get(PANEL, query)
    assert r.status_code == 200
    assert identity_of(visitor_im_id).channel == channel


def test_the_unknown_visitor_page_shows_the_inferred_channel(client, db):
    r = client.get(PANEL, {"visitorImId": "oZx3Bs4Wq1eRt2yUi8oP0aSdFgHj", "lang": "en"})
    assert r.status_code == 200
    assert "<dd>WeChat</dd>" in r.content.decode()

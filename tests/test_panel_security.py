import pytest
from django.core.cache import cache

from customers.models import Customer, Note, Tag, VisitorIdentity
from iframe_panel.crypto import encrypt
from iframe_panel.models import AuditEvent, VisitorInfo
from orders.models import Order

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
KEY = "123456789"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


def load(client, visitor_im_id=VISITOR, **params):
    return client.get(PANEL, {"visitorImId": visitor_im_id, "lang": "en", **params})


def assert_escaped(r):
    assert r.status_code == 200
    html = r.content.decode()
    assert XSS not in html
    assert "<script>alert" not in html
    assert ESCAPED in html


# --- every value is escaped -------------------------------------------------------------------


def test_it_escapes_the_visitor_id(client, db):
    assert_escaped(load(client, XSS))


def test_it_escapes_an_attribute_breakout_in_the_visitor_id(client, db):
    r = load(client, 'v" onmouseover="alert(1)')
    assert r.status_code == 200
    html = r.content.decode()
    assert '" onmouseover="' not in html
    # Jinja2 (markupsafe) writes a double quote as &#34;.
    assert 'data-visitor="v&#34; onmouseover=&#34;alert(1)"' in html


def test_it_escapes_system_params_when_decrypted(client, db, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True
    assert_escaped(load(client, encrypt(XSS, KEY)))


@pytest.mark.parametrize("name", ["agentName", "nickname", "trueName", "desc", "ssid", "email"])
def test_it_escapes_session_params(client, db, name):
    assert_escaped(load(client, **{name: XSS}))


@pytest.mark.parametrize("name", ["name", "customUserId", "phone", "address"])
def test_it_escapes_custom_params(client, db, name):
    assert_escaped(load(client, **{name: XSS}))


def test_it_escapes_cached_custom_params(client, db):
    load(client, name=XSS)
    assert_escaped(load(client))


def test_it_escapes_custom_param_names(client, db):
    r = load(client, **{"<img src=x onerror=alert(1)>": "x"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_it_escapes_encrypted_custom_params(client, db, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    assert_escaped(load(client, name=encrypt(XSS, KEY)))


def test_it_escapes_unverified_params(client, db, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    assert_escaped(load(client, name=XSS, agentName=XSS))


@pytest.mark.parametrize("name", ["callId", "callerNumber", "calleeNumber", "callDirection"])
def test_it_escapes_call_params(client, db, name):
    assert_escaped(load(client, **{name: XSS}))


@pytest.mark.parametrize("field", ["name", "nickname", "company", "address", "remarks"])
def test_it_escapes_customer_fields(client, visitor, customer, field):
    setattr(customer, field, XSS)
    customer.save()
    assert_escaped(load(client))


def test_it_escapes_tags(client, visitor, customer):
    customer.tags.add(Tag.objects.create(name=XSS))
    assert_escaped(load(client))


def test_it_escapes_order_fields(client, visitor, customer, make_order):
    order = make_order(customer, "SO2024000001", items=((XSS, 1, "1.00"),))
    order.carrier = XSS
    order.tracking_number = "SF1"
    order.recipient = XSS
    order.shipping_address = XSS
    order.save()
    r = load(client)
    assert_escaped(r)
    # The product, the carrier, and the recipient and address of "Ship to".
    assert r.content.decode().count(ESCAPED) == 4


def test_it_escapes_notes(client, visitor, customer):
    Note.objects.create(customer=customer, body=XSS, agent_name=XSS)
    r = load(client)
    assert_escaped(r)
    assert r.content.decode().count(ESCAPED) == 2


# --- SQL metacharacters are data --------------------------------------------------------------

INJECTIONS = ["' OR '1'='1", "1; DROP TABLE customers_customer; --", '" OR 1=1 --', "%' --"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_sql_in_the_visitor_id_is_an_unknown_visitor(client, visitor, value):
    r = load(client, value)
    assert r.status_code == 200
    html = r.content.decode()
    assert "Unknown visitor" in html
    assert "张伟" not in html
    assert Customer.objects.count() == 1
    assert VisitorIdentity.objects.count() == 1


@pytest.mark.parametrize("name", ["customUserId", "phone", "customerEmail"])
@pytest.mark.parametrize("value", INJECTIONS)
def test_sql_in_matching_params_matches_nobody(client, customer, name, value):
    r = load(client, "webim-visitor-NEW", **{name: value})
    assert r.status_code == 200
    assert "Unknown visitor" in r.content.decode()
    assert not VisitorIdentity.objects.exists()
    assert Customer.objects.count() == 1
    assert VisitorInfo.objects.get().params[name] == value


def test_sql_in_a_lookup_finds_nothing(client, visitor, customer, make_order):
    make_order(customer, "SO2024000001")
    html = load(client).content.decode()
    token = html.split('data-token="', 1)[1].split('"', 1)[0]
    r = client.get(PANEL + "lookup/", {"t": token, "v": VISITOR, "q": "' OR '1'='1"})
    assert r.status_code == 200
    assert r.json()["orders"] == []
    assert Order.objects.count() == 1


# --- headers ----------------------------------------------------------------------------------


def test_the_panel_may_be_framed_by_easemob_only(client, db):
    r = load(client)
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors https://kefu.easemob.com https://*.easemob.com" in csp
    assert "X-Frame-Options" not in r.headers


def test_frame_ancestors_follow_the_setting(client, db, settings):
    settings.PANEL_FRAME_ANCESTORS = ["https://kefu.example.cn", "https://*.example.cn"]
    r = load(client)
    assert r.status_code == 200
    assert r.headers["Content-Security-Policy"].endswith(
        "frame-ancestors https://kefu.example.cn https://*.example.cn"
    )


def test_an_empty_frame_ancestors_setting_allows_no_frame(client, db, settings):
    settings.PANEL_FRAME_ANCESTORS = []
    r = load(client)
    assert r.status_code == 200
    assert r.headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")


def test_the_panel_runs_no_inline_script(client, db):
    r = load(client)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        (PANEL, {"visitorImId": VISITOR}, 200),
        (PANEL, {}, 400),
        ("/panel/wrong-token/", {"visitorImId": VISITOR}, 404),
    ],
)
def test_every_panel_page_is_frameable_and_not_stored(client, db, path, query, status):
    r = client.get(path, query)
    assert r.status_code == status
    assert "frame-ancestors" in r.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in r.headers
    assert r.headers["Cache-Control"] == "no-store"


def test_the_panel_is_never_cached(client, visitor):
    r = load(client)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"


def test_the_panel_sends_no_referrer(client, db):
    # The panel's URL holds the token and visitors' data; the stylesheet must not leak it.
    r = load(client)
    assert '<meta name="referrer" content="no-referrer">' in r.content.decode()


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/"])
def test_other_pages_refuse_frames(client, db, path):
    r = client.get(path)
    assert r.status_code in (200, 302)
    assert r.headers["X-Frame-Options"] == "DENY"


def test_the_admin_refuses_frames_when_logged_in(staff_client):
    r = staff_client.get("/admin/customers/customer/")
    assert r.status_code == 200
    assert r.headers["X-Frame-Options"] == "DENY"


def test_the_panel_sets_no_cookies(client, visitor):
    r = load(client, agentName="Amy", name="Jack")
    assert r.status_code == 200
    assert not r.cookies
    assert "Set-Cookie" not in r.headers
    assert not client.cookies


@pytest.mark.parametrize(
    ("path", "query"), [(PANEL, {}), ("/panel/wrong-token/", {"visitorImId": VISITOR})]
)
def test_panel_errors_set_no_cookies(client, db, path, query):
    r = client.get(path, query)
    assert r.status_code >= 400
    assert not r.cookies


# --- the audit log ----------------------------------------------------------------------------


def test_it_records_who_viewed_a_customer(client, visitor, customer):
    r = load(
        client,
        agentName="王小明",
        agentId="agent-7",
        email="wangxm@kefu.example.com",
        ssid="s-42",
        tenantId="107937",
    )
    assert r.status_code == 200
    event = AuditEvent.objects.get()
    assert event.action == "view"
    assert event.outcome == "ok"
    assert event.visitor_im_id == VISITOR
    assert event.customer == customer
    assert event.agent_name == "王小明"
    assert event.agent_id == "agent-7"
    assert event.agent_email == "wangxm@kefu.example.com"
    assert event.ssid == "s-42"
    assert event.tenant_id == "107937"
    assert event.ip == "127.0.0.1"


def test_it_records_decrypted_agent_params(client, visitor, settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    r = load(client, agentName=encrypt("王小明", KEY))
    assert r.status_code == 200
    assert AuditEvent.objects.get().agent_name == "王小明"


def test_it_records_a_view_of_an_unknown_visitor(client, db):
    r = load(client, "webim-visitor-UNKNOWN", agentName="Amy")
    assert r.status_code == 200
    event = AuditEvent.objects.get()
    assert event.action == "view"
    assert event.outcome == "unknown"
    assert event.visitor_im_id == "webim-visitor-UNKNOWN"
    assert event.customer is None
    assert event.agent_name == "Amy"


def test_it_records_a_bad_request(client, db):
    r = client.get(PANEL + "?lang=en&visitorImId=abc%00")
    assert r.status_code == 400
    event = AuditEvent.objects.get()
    assert event.action == "view"
    assert event.outcome == "bad_request"
    assert event.visitor_im_id.startswith("abc")
    assert event.detail == "control_characters"


def test_it_records_a_request_without_visitor(client, db):
    r = client.get(PANEL, {"lang": "en"})
    assert r.status_code == 400
    event = AuditEvent.objects.get()
    assert event.outcome == "bad_request"
    assert event.detail == "missing_visitor"


def test_it_records_the_address_behind_the_proxy(client, visitor, settings):
    settings.NUM_PROXIES = 1
    r = client.get(
        PANEL, {"visitorImId": VISITOR}, headers={"x-forwarded-for": "10.9.8.7, 203.0.113.9"}
    )
    assert r.status_code == 200
    assert AuditEvent.objects.get().ip == "203.0.113.9"


def test_it_records_a_binding_and_the_view(client, customer):
    r = load(client, "webim-visitor-NEW", customUserId="U1001", agentName="Amy")
    assert r.status_code == 200
    actions = sorted(AuditEvent.objects.values_list("action", "outcome"))
    assert actions == [("bind", "ok"), ("view", "ok")]

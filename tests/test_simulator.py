import json
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client

from customers.models import Customer, VisitorIdentity
from iframe_panel import crypto
from workbench.conversations import (
    CALL_VISITOR,
    NEW_APP_VISITOR,
    NEW_WEB_VISITOR,
    NEW_WECHAT_VISITOR,
)

TOKEN = "panel-token-for-tests-7Qm2x"
KEY = "12345678"
CHANNELS = [
    ("webim-visitor-8K2FTG9QTYWRT8EYVJ7F", VisitorIdentity.Channel.WEB),
    ("app-user-000002-abcdef", VisitorIdentity.Channel.APP),
    ("oAbCdEfGhIjKlMnOpQrStUvWxYz1", VisitorIdentity.Channel.WECHAT),
    ("5012345678", VisitorIdentity.Channel.WEIBO),
    ("ZhangWei88", VisitorIdentity.Channel.WECOM),
]


@pytest.fixture(autouse=True)
def enabled(settings):
    settings.SIMULATOR_ENABLED = True
    settings.EASEMOB_IFRAME_KEY = ""
    settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = False
    return settings


@pytest.fixture
def demo(customer, make_order):
    """A customer with orders and a visitor id on every channel, and one without an app id."""
    make_order(customer, "2026011500000101")
    for visitor_im_id, channel in CHANNELS:
        VisitorIdentity.objects.create(
            visitor_im_id=visitor_im_id, customer=customer, channel=channel
        )
    other = Customer.objects.create(name="李娜", phone="13900139000", external_id="U2002")
    make_order(other, "2026020100000201")
    return customer, other


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser("agent", "agent@example.com", "pw-123456")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def post_frame_url(client, body, **extra):
    data = body if isinstance(body, str) else json.dumps(body)
    extra.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
    return client.post("/simulator/frame-url/", data=data, content_type="application/json", **extra)


def query_of(url):
    return parse_qsl(urlsplit(url).query)


def test_it_redirects_anonymous_users_to_the_admin_login(client):
    response = client.get("/simulator/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/simulator/")


def test_it_refuses_non_staff_users(client, django_user_model):
    user = django_user_model.objects.create_user("clerk", "clerk@example.com", "pw-123456")
    client.force_login(user)
    response = client.get("/simulator/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_is_404_when_disabled(staff_client, enabled):
    enabled.SIMULATOR_ENABLED = False
    assert staff_client.get("/simulator/").status_code == 404
    assert post_frame_url(staff_client, {"visitor": "x"}).status_code == 404


def test_it_lists_known_and_unknown_visitors_of_several_channels(staff_client, demo):
    response = staff_client.get("/simulator/")
    assert response.status_code == 200
    html = response.content.decode()
    for visitor_im_id, channel in CHANNELS:
        assert f'data-visitor="{visitor_im_id}"' in html
        assert f'data-channel="{channel}"' in html
    for visitor_im_id in (
        NEW_WEB_VISITOR,
        NEW_WECHAT_VISITOR,
        NEW_APP_VISITOR,
    ):
        assert f'data-visitor="{visitor_im_id}"' in html
    assert html.count('data-known="false"') == 3
    # The customer's visitors, and the call from their number.
    assert html.count('data-known="true"') == len(CHANNELS) + 1


def test_it_frames_the_panel_for_the_first_visitor(staff_client, demo):
    response = staff_client.get("/simulator/")
    html = unescape(response.content.decode())
    first = CHANNELS[0][0]
    assert f'src="/panel/{TOKEN}/?easemobId=107937&visitorImId={first}&to={first}&' in html
    assert f'id="frame-url">http://testserver/panel/{TOKEN}/?easemobId=107937' in html
    assert response["Content-Security-Policy"].endswith("frame-ancestors 'none'")


def test_it_selects_the_visitor_and_language_asked_for(staff_client, demo):
    response = staff_client.get(f"/simulator/?lang=en&visitor={CHANNELS[2][0]}")
    html = unescape(response.content.decode())
    assert '<html lang="en">' in html
    assert "Easemob workbench simulator" in html
    assert f"visitorImId={CHANNELS[2][0]}&to={CHANNELS[2][0]}" in html
    assert "originType=weixin" in html
    assert "lang=en" in html


def test_it_speaks_chinese_by_default(staff_client, demo):
    response = staff_client.get("/simulator/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert '<html lang="zh-hans">' in response.content.decode()


def config_of(response):
    return json.loads(
        unescape(
            response.content.decode().split('id="simulator-config" type="application/json">')[1]
        ).split("</script>")[0]
    )


def visitors_of(response):
    return {v["visitorImId"]: v for v in config_of(response)["visitors"]}


def test_it_suggests_the_customer_id_of_a_customer_without_an_app_visitor(staff_client, demo):
    response = staff_client.get("/simulator/")
    visitors = visitors_of(response)
    assert visitors[NEW_APP_VISITOR]["suggestedParams"]["customUserId"] == "U2002"
    assert "2026011500000101" in visitors[CHANNELS[0][0]]["sampleMessage"]
    assert "13800138000" in visitors[NEW_WEB_VISITOR]["sampleMessage"]


def test_it_builds_params_in_easemobs_order(staff_client, demo, staff):
    response = post_frame_url(
        staff_client,
        {
            "visitor": CHANNELS[0][0],
            "params": {"customUserId": "U1001", "name": "Jack", "age": "40"},
            "lang": "zh",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["url"].startswith(f"/panel/{TOKEN}/?customUserId=U1001&name=Jack&age=40&")
    names = [name for name, _value in query_of(body["url"])]
    assert names == [
        "customUserId",
        "name",
        "age",
        "easemobId",
        "visitorImId",
        "to",
        "ssid",
        "agentName",
        "agentId",
        "email",
        "tenantId",
        "originType",
        "nickname",
        "lang",
    ]
    query = dict(query_of(body["url"]))
    assert query["visitorImId"] == query["to"] == CHANNELS[0][0]
    assert query["email"] == staff.email
    assert query["originType"] == "webim"
    assert query["lang"] == "zh"
    assert body["cmdMessage"] == {
        "ext": {
            "cmd": {
                "updateVisitorInfoSrc": {
                    "params": {"customUserId": "U1001", "name": "Jack", "age": "40"}
                }
            }
        }
    }


def test_it_encrypts_app_side_params_with_the_key(staff_client, demo, enabled):
    enabled.EASEMOB_IFRAME_KEY = KEY
    response = post_frame_url(
        staff_client,
        {
            "visitor": CHANNELS[0][0],
            "params": {"name": "Jack", "age": "40", "sex": "man"},
            "encryptAppSide": True,
            "lang": "en",
        },
    )
    assert response.status_code == 200
    body = response.json()
    query = dict(query_of(body["url"]))
    assert query["name"] == "877523f86f18f55e" == crypto.encrypt("Jack", KEY)
    assert query["age"] == "e86b4e789891107c"
    assert query["sex"] == "d221cba8e6efd0ad"
    params = body["cmdMessage"]["ext"]["cmd"]["updateVisitorInfoSrc"]["params"]
    assert params == {
        "name": "877523f86f18f55e",
        "age": "e86b4e789891107c",
        "sex": "d221cba8e6efd0ad",
    }
    # Easemob encrypts the session params; system params only with 同时加密系统参数; never lang.
    assert query["originType"] == crypto.encrypt("webim", KEY)
    assert query["agentName"] == crypto.encrypt("agent", KEY)
    assert query["visitorImId"] == CHANNELS[0][0]
    assert query["lang"] == "en"


def test_it_passes_params_the_app_did_not_encrypt_as_plaintext(staff_client, demo, enabled):
    enabled.EASEMOB_IFRAME_KEY = KEY
    response = post_frame_url(
        staff_client, {"visitor": CHANNELS[0][0], "params": {"name": "Jack"}, "lang": "zh"}
    )
    body = response.json()
    assert dict(query_of(body["url"]))["name"] == "Jack"
    assert body["cmdMessage"]["ext"]["cmd"]["updateVisitorInfoSrc"]["params"] == {"name": "Jack"}


def test_it_encrypts_system_params_when_configured(staff_client, demo, enabled):
    enabled.EASEMOB_IFRAME_KEY = KEY
    enabled.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True
    response = post_frame_url(
        staff_client,
        {"visitor": CHANNELS[0][0], "params": {"name": "Jack"}, "encryptAppSide": True},
    )
    url = response.json()["url"]
    query = dict(query_of(url))
    assert query["visitorImId"] == crypto.encrypt(CHANNELS[0][0], KEY)
    assert query["to"] == crypto.encrypt(CHANNELS[0][0], KEY)
    assert query["easemobId"] == crypto.encrypt("107937", KEY)
    assert query["lang"] == "zh"

    # End to end: the panel decrypts all of it and shows the customer.
    panel = staff_client.get(url)
    assert panel.status_code == 200
    html = panel.content.decode()
    assert 'id="customer"' in html
    assert "张伟" in html
    assert "Jack" in html
    assert "data-unverified" not in html


def test_the_plain_page_url_renders_the_panel_with_encrypted_system_params(
    staff_client, demo, enabled
):
    enabled.EASEMOB_IFRAME_KEY = KEY
    enabled.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True
    response = staff_client.get(f"/simulator/?visitor={CHANNELS[1][0]}")
    html = unescape(response.content.decode())
    src = html.split('id="panel-frame"')[1].split('src="')[1].split('"')[0]
    assert dict(query_of(src))["visitorImId"] == crypto.encrypt(CHANNELS[1][0], KEY)
    panel = staff_client.get(src)
    assert panel.status_code == 200
    assert "张伟" in panel.content.decode()


def test_the_app_visitors_cmd_message_links_the_customer(staff_client, demo):
    response = post_frame_url(
        staff_client,
        {"visitor": NEW_APP_VISITOR, "params": {"customUserId": "U2002"}},
    )
    url = response.json()["url"]
    assert "originType=app" in url
    assert staff_client.get(url).status_code == 200
    identity = VisitorIdentity.objects.get(visitor_im_id=NEW_APP_VISITOR)
    assert identity.customer.external_id == "U2002"
    assert identity.channel == VisitorIdentity.Channel.APP


def test_it_accepts_a_visitor_not_in_the_list(staff_client, demo):
    response = post_frame_url(staff_client, {"visitor": "webim-visitor-SOMEONEELSE0001"})
    assert response.status_code == 200
    assert "originType=webim" in response.json()["url"]


def test_it_never_encrypts_lang(staff_client, demo, enabled):
    enabled.EASEMOB_IFRAME_KEY = KEY
    enabled.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True
    response = post_frame_url(staff_client, {"visitor": CHANNELS[0][0], "lang": "en-US"})
    assert query_of(response.json()["url"])[-1] == ("lang", "en")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"params": {}}, "“visitor”"),
        ({"visitor": ""}, "“visitor”"),
        ({"visitor": "a\x00b"}, "control characters"),
        ({"visitor": "x" * 300}, "too long"),
        ({"visitor": "v", "params": ["name"]}, "“params”"),
        ({"visitor": "v", "params": {"age": 40}}, "must be a string"),
        ({"visitor": "v", "params": {"name": None}}, "must be a string"),
        ({"visitor": "v", "params": {"visitorImId": "x"}}, "Easemob sets itself"),
        ({"visitor": "v", "params": {"lang": "en"}}, "Easemob sets itself"),
        ({"visitor": "v", "params": {"": "x"}}, "param name"),
        ({"visitor": "v", "params": {f"p{i}": "x" for i in range(100)}}, "Too many params"),
        ({"visitor": "v", "params": {"note": "x" * 5000}}, "too long"),
        ({"visitor": "v", "encryptAppSide": "yes"}, "“encryptAppSide”"),
        ({"visitor": "v", "encryptAppSide": True}, "No EASEMOB_IFRAME_KEY"),
        ({"visitor": "v", "lang": 1}, "“lang”"),
    ],
)
def test_it_rejects_bad_input(staff_client, db, body, message):
    response = post_frame_url(staff_client, body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["error"]


def test_it_rejects_a_huge_body(staff_client, db):
    response = post_frame_url(staff_client, {"visitor": "v", "pad": "x" * 100_000})
    assert response.status_code == 400
    assert "too large" in response.json()["error"]


def test_frame_url_refuses_anonymous_users(client, db):
    response = post_frame_url(client, {"visitor": "v"})
    assert response.status_code == 403
    assert "error" in response.json()


def test_frame_url_refuses_non_staff_users(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("clerk", "", "pw-123456"))
    assert post_frame_url(client, {"visitor": "v"}).status_code == 403


def test_frame_url_rejects_get(staff_client, db):
    assert staff_client.get("/simulator/frame-url/").status_code == 405


def test_frame_url_enforces_csrf(staff, demo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert post_frame_url(client, {"visitor": CHANNELS[0][0]}).status_code == 403

    client.get("/simulator/")
    token = client.cookies["csrftoken"].value
    response = post_frame_url(client, {"visitor": CHANNELS[0][0]}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200


def call_url(client, **extra):
    return visitors_of(client.get("/simulator/", **extra))[CALL_VISITOR]["frameUrl"]


def test_it_lists_a_phone_call_from_a_customers_number(staff_client, demo):
    response = staff_client.get("/simulator/?lang=en")
    html = response.content.decode()
    item = html.split(f'data-visitor="{CALL_VISITOR}"')[1].split("</li>")[0]
    assert 'data-call="true"' in item
    assert "+86 138 0013 8000" in item
    assert "Phone call" in item
    assert visitors_of(response)[CALL_VISITOR]["call"] is True
    zh = staff_client.get("/simulator/?lang=zh").content.decode()
    assert "电话" in zh.split(f'data-visitor="{CALL_VISITOR}"')[1].split("</li>")[0]


def test_the_call_carries_the_call_params_after_the_session_params(staff_client, demo):
    query = query_of(call_url(staff_client))
    names = [name for name, _value in query]
    assert names[-7:] == [
        "callId",
        "callerNumber",
        "caller",
        "calleeNumber",
        "callee",
        "callDirection",
        "lang",
    ]
    assert names.index("callId") > names.index("nickname") > names.index("visitorImId")
    values = dict(query)
    assert values["callerNumber"] == "+86 138 0013 8000"
    assert values["caller"] == "13800138000"
    assert values["callDirection"] == "inbound"


def test_the_call_sends_only_the_call_params_the_crm_reads(staff_client, demo, settings):
    settings.PANEL_CALL_PARAMS = ["callId", "callerNumber", "trunk"]
    names = [name for name, _value in query_of(call_url(staff_client))]
    assert "callerNumber" in names
    assert "caller" not in names
    assert "trunk" not in names


@pytest.mark.parametrize("encrypt_system", [False, True])
def test_the_panel_finds_the_caller_by_their_number(staff_client, demo, enabled, encrypt_system):
    enabled.EASEMOB_IFRAME_KEY = KEY
    enabled.EASEMOB_ENCRYPT_SYSTEM_PARAMS = encrypt_system
    url = call_url(staff_client)
    assert dict(query_of(url))["callerNumber"] == crypto.encrypt("+86 138 0013 8000", KEY)

    panel = staff_client.get(url)
    assert panel.status_code == 200
    html = panel.content.decode()
    assert 'id="customer"' in html
    assert "张伟" in html
    assert "+86 138 0013 8000" in html  # the call params, shown in the session card
    identity = VisitorIdentity.objects.get(visitor_im_id=CALL_VISITOR)
    assert (identity.customer, identity.bound_via) == (demo[0], "phone")


def test_a_number_two_customers_share_is_never_the_caller(staff_client, demo):
    Customer.objects.create(name="张伟的家人", phone="13800138000")
    values = dict(query_of(call_url(staff_client)))
    assert values["caller"] == "13900139000"


def test_once_linked_the_call_stays_with_its_customer(staff_client, demo):
    VisitorIdentity.objects.create(visitor_im_id=CALL_VISITOR, customer=demo[1])
    response = staff_client.get("/simulator/")
    assert dict(query_of(visitors_of(response)[CALL_VISITOR]["frameUrl"]))["caller"] == (
        "13900139000"
    )
    # Listed once, as the call, not as one of the customer's chats.
    assert response.content.decode().count(f'data-visitor="{CALL_VISITOR}"') == 1


def test_a_cmd_message_during_the_call_keeps_the_call_params(staff_client, demo):
    response = post_frame_url(staff_client, {"visitor": CALL_VISITOR, "params": {"name": "Jack"}})
    assert response.status_code == 200
    values = dict(query_of(response.json()["url"]))
    assert values["name"] == "Jack"
    assert values["callerNumber"] == "+86 138 0013 8000"


def test_no_call_without_a_customer_with_orders(staff_client, db):
    Customer.objects.create(name="王芳", phone="13700137000")
    response = staff_client.get("/simulator/")
    assert response.status_code == 200
    assert CALL_VISITOR not in response.content.decode()


@pytest.fixture
def chat(demo):
    """Two more visitors of the second customer on the web: the first is listed with the web
    visitors, the second is the conversation whose chat mentions an order and a phone."""
    _customer, other = demo
    for visitor_im_id in (
        "webim-visitor-LINA0000000000000001",
        "webim-visitor-LINA0000000000000002",
    ):
        VisitorIdentity.objects.create(
            visitor_im_id=visitor_im_id, customer=other, channel=VisitorIdentity.Channel.WEB
        )
    return "webim-visitor-LINA0000000000000002"


def test_a_conversation_mentions_an_order_number_and_a_phone(staff_client, chat):
    response = staff_client.get("/simulator/?lang=en")
    html = response.content.decode()
    assert html.count(f'data-visitor="{chat}"') == 1
    item = html.split(f'data-visitor="{chat}"')[1].split("</li>")[0]
    assert 'data-history="true"' in item
    assert 'data-known="true"' in item
    history = visitors_of(response)[chat]["history"]
    assert len(history) == 2
    assert "2026020100000201" in history[0]
    assert "139 0013 9000" in history[1]
    # The preview in the list is the latest message.
    assert "139 0013 9000" in item


def test_the_conversations_chat_speaks_the_pages_language(staff_client, chat):
    history = visitors_of(staff_client.get("/simulator/?lang=zh"))[chat]["history"]
    assert "我的订单 2026020100000201" in history[0]


def test_without_an_unlisted_visitor_there_is_no_such_conversation(staff_client, demo):
    assert 'data-history="true"' not in staff_client.get("/simulator/").content.decode()

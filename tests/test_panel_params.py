import pytest
from django.core.cache import cache
from django.http import QueryDict

from customers.models import VisitorIdentity
from iframe_panel.crypto import encrypt
from iframe_panel.models import VisitorInfo
from iframe_panel.params import Value, decode_params, parse_lang

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
KEY = "123456789"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()


@pytest.fixture
def with_key(settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = False


@pytest.fixture
def with_system_encryption(settings):
    settings.EASEMOB_IFRAME_KEY = KEY
    settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True


def enc(text):
    return encrypt(text, KEY)


def dd_of(html, text):
    """The opening tag of the <dd> that shows `text`."""
    end = html.index(text)
    start = html.rindex("<dd", 0, end)
    return html[start : html.index(">", start) + 1]


# --- lang ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "lang"),
    [
        ("zh", "zh"),
        ("en", "en"),
        ("zh-CN", "zh"),
        ("en-US", "en"),
        ("EN", "en"),
        ("En-gb", "en"),
        ("en_US", "en"),
        (" en ", "en"),
        ("ZH-cn", "zh"),
        ("fr", "zh"),
        ("english", "zh"),
        ("", "zh"),
        (None, "zh"),
    ],
)
def test_it_parses_lang(raw, lang):
    assert parse_lang(raw) == lang


@pytest.mark.parametrize(
    ("raw", "html_lang"),
    [("zh", "zh-hans"), ("zh-CN", "zh-hans"), ("en", "en"), ("en-US", "en"), ("EN", "en")],
)
def test_the_page_follows_lang(db, client, raw, html_lang):
    r = client.get(PANEL, {"visitorImId": VISITOR, "lang": raw})
    assert r.status_code == 200
    assert f'<html lang="{html_lang}"' in r.content.decode()


def test_the_page_is_chinese_without_lang(db, client):
    r = client.get(PANEL, {"visitorImId": VISITOR})
    assert r.status_code == 200
    assert '<html lang="zh-hans"' in r.content.decode()


def test_the_page_is_chinese_for_an_unknown_lang(db, client):
    r = client.get(PANEL, {"visitorImId": VISITOR, "lang": "fr"})
    assert r.status_code == 200
    assert '<html lang="zh-hans"' in r.content.decode()


def test_the_page_ignores_the_browser_language(db, client):
    r = client.get(PANEL, {"visitorImId": VISITOR}, headers={"accept-language": "en"})
    assert r.status_code == 200
    assert '<html lang="zh-hans"' in r.content.decode()


def test_it_never_decrypts_lang(db, client, with_system_encryption):
    r = client.get(PANEL, {"visitorImId": enc(VISITOR), "lang": "en"})
    assert r.status_code == 200
    html = r.content.decode()
    assert '<html lang="en"' in html
    assert "data-unverified" not in html


def test_an_encrypted_lang_is_an_unknown_lang(db, client, with_system_encryption):
    r = client.get(PANEL, {"visitorImId": enc(VISITOR), "lang": enc("en")})
    assert r.status_code == 200
    assert '<html lang="zh-hans"' in r.content.decode()


# --- system parameters ----------------------------------------------------------------------


def test_it_keeps_system_params_plain_when_the_checkbox_is_off(client, visitor, with_key):
    r = client.get(PANEL, {"visitorImId": VISITOR, "lang": "en"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "张伟" in html
    assert "data-unverified" not in html


def test_it_does_not_decrypt_system_params_when_the_checkbox_is_off(client, visitor, with_key):
    r = client.get(PANEL, {"visitorImId": enc(VISITOR), "lang": "en"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "Unknown visitor" in html
    assert enc(VISITOR) in html
    assert "张伟" not in html


def test_it_decrypts_system_params_when_the_checkbox_is_on(client, visitor, with_system_encryption):
    r = client.get(
        PANEL,
        {"visitorImId": enc(VISITOR), "easemobId": enc("107937"), "to": enc("kefu"), "lang": "en"},
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert "张伟" in html
    assert f'data-visitor="{VISITOR}"' in html


@pytest.mark.parametrize("name", ["visitorImId", "easemobId", "to"])
def test_it_rejects_an_undecryptable_system_param(db, client, with_system_encryption, name):
    query = {"visitorImId": enc(VISITOR), "easemobId": enc("107937"), "to": enc("kefu")}
    query[name] = "plain-" + name
    r = client.get(PANEL, {**query, "lang": "en"})
    assert r.status_code == 400
    html = r.content.decode()
    assert f"The system parameter “{name}” could not be decrypted." in html
    assert "同时加密系统参数" in html
    assert "EASEMOB_IFRAME_KEY" in html


def test_it_rejects_system_params_encrypted_with_another_key(db, client, with_system_encryption):
    r = client.get(PANEL, {"visitorImId": encrypt(VISITOR, "87654321"), "lang": "en"})
    assert r.status_code == 400
    assert "“visitorImId” could not be decrypted" in r.content.decode()


# --- custom and session parameters with a key ------------------------------------------------


def test_it_shows_decrypted_custom_params(db, client, with_key):
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": enc("Jack"), "age": enc("40")})
    assert r.status_code == 200
    html = r.content.decode()
    assert "Jack" in html
    assert enc("Jack") not in html
    assert "data-unverified" not in html
    assert VisitorInfo.objects.get(visitor_im_id=VISITOR).params == {"name": "Jack", "age": "40"}


def test_it_marks_plaintext_custom_params_as_unverified(db, client, with_key):
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": enc("Jack"), "sex": "man"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "man" in html
    assert "data-unverified" in dd_of(html, ">man<")
    assert "data-unverified" not in dd_of(html, ">Jack<")


def test_it_shows_decrypted_session_params(db, client, with_key):
    r = client.get(PANEL, {"visitorImId": VISITOR, "agentName": enc("王小明"), "lang": "en"})
    assert r.status_code == 200
    html = r.content.decode()
    assert ">王小明<" in html
    assert "data-unverified" not in html


def test_it_marks_plaintext_session_params_as_unverified(db, client, with_key):
    r = client.get(PANEL, {"visitorImId": VISITOR, "agentName": "王小明", "lang": "en"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "data-unverified" in dd_of(html, "王小明")


def test_it_keeps_a_value_encrypted_with_another_key_as_unverified(db, client, with_key):
    other = encrypt("Jack", "87654321")
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": other})
    assert r.status_code == 200
    html = r.content.decode()
    assert "data-unverified" in dd_of(html, other)
    assert VisitorInfo.objects.get(visitor_im_id=VISITOR).param_meta["name"]["unverified"]


def test_it_marks_nothing_without_a_key(db, client):
    r = client.get(
        PANEL,
        {"visitorImId": VISITOR, "name": "Jack", "agentName": "王小明", "code": "877523f86f18f55e"},
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert "data-unverified" not in html
    # Without a key nothing is decrypted, even what looks like ciphertext.
    assert "877523f86f18f55e" in html


def test_it_decrypts_upper_case_ciphertext(db, client, with_key):
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": enc("Jack").upper()})
    assert r.status_code == 200
    assert ">Jack<" in r.content.decode()


# --- plaintext encodings --------------------------------------------------------------------


def test_it_reads_url_encoded_chinese(db, client):
    r = client.get(PANEL + "?visitorImId=v-1&name=%E5%BC%A0%E4%B8%89&city=%E6%9D%AD%E5%B7%9E")
    assert r.status_code == 200
    html = r.content.decode()
    assert "张三" in html
    assert "杭州" in html


def test_it_decrypts_chinese(db, client, with_key):
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": enc("张三")})
    assert r.status_code == 200
    assert ">张三<" in r.content.decode()


def test_it_keeps_line_breaks_in_custom_params(db, client):
    r = client.get(PANEL, {"visitorImId": VISITOR, "desc2": "first line\nsecond line"})
    assert r.status_code == 200
    assert "first line\nsecond line" in r.content.decode()


def test_it_looks_visitor_ids_up_whatever_their_shape(db, client, customer):
    odd = "wx:oAbC-123_中文/+=@x"
    VisitorIdentity.objects.create(visitor_im_id=odd, customer=customer)
    r = client.get(PANEL, {"visitorImId": odd, "lang": "en"})
    assert r.status_code == 200
    assert "张伟" in r.content.decode()


def test_it_ignores_empty_values(db, client):
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": "", "age": "  "})
    assert r.status_code == 200
    assert not VisitorInfo.objects.exists()


# --- limits ---------------------------------------------------------------------------------


def test_it_rejects_too_many_params(db, client, settings):
    settings.PANEL_MAX_PARAMS = 5
    query = {"visitorImId": VISITOR, "lang": "en", **{f"p{i}": "x" for i in range(4)}}
    r = client.get(PANEL, query)
    assert r.status_code == 400
    assert "too many parameters (6; at most 5)" in r.content.decode()


def test_it_accepts_params_up_to_the_limit(db, client, settings):
    settings.PANEL_MAX_PARAMS = 5
    query = {"visitorImId": VISITOR, "lang": "en", **{f"p{i}": "x" for i in range(3)}}
    r = client.get(PANEL, query)
    assert r.status_code == 200


def test_it_rejects_a_value_too_long(db, client, settings):
    settings.PANEL_MAX_VALUE_LENGTH = 100
    r = client.get(PANEL, {"visitorImId": VISITOR, "remark": "x" * 101, "lang": "en"})
    assert r.status_code == 400
    assert "The parameter “remark” is too long (at most 100 characters)." in r.content.decode()


def test_it_accepts_a_value_at_the_length_limit(db, client, settings):
    settings.PANEL_MAX_VALUE_LENGTH = 100
    r = client.get(PANEL, {"visitorImId": VISITOR, "remark": "x" * 100})
    assert r.status_code == 200


def test_it_rejects_a_visitor_id_over_255_characters(db, client):
    r = client.get(PANEL, {"visitorImId": "v" * 256, "lang": "en"})
    assert r.status_code == 400
    assert "The visitorImId is too long (at most 255 characters)." in r.content.decode()


def test_it_accepts_a_visitor_id_of_255_characters(db, client):
    r = client.get(PANEL, {"visitorImId": "v" * 255, "lang": "en"})
    assert r.status_code == 200
    assert "v" * 255 in r.content.decode()


def test_it_rejects_a_parameter_name_too_long(db, client):
    r = client.get(PANEL, {"visitorImId": VISITOR, "n" * 65: "x", "lang": "en"})
    assert r.status_code == 400
    assert "A parameter name is empty, too long or invalid." in r.content.decode()


@pytest.mark.parametrize("value", ["abc\x00def", "abc\x1bdef", "abc\x7f"])
def test_it_rejects_control_characters_in_a_custom_value(db, client, value):
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": value, "lang": "en"})
    assert r.status_code == 400
    assert "The parameter “name” contains control characters." in r.content.decode()


@pytest.mark.parametrize("value", ["webim\nvisitor", "webim\tvisitor", "webim\x00"])
def test_it_rejects_any_control_character_in_the_visitor_id(db, client, value):
    r = client.get(PANEL, {"visitorImId": value, "lang": "en"})
    assert r.status_code == 400
    assert "The parameter “visitorImId” contains control characters." in r.content.decode()


def test_it_rejects_control_characters_hidden_in_ciphertext(db, client, with_key):
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": enc("Jack\x00"), "lang": "en"})
    assert r.status_code == 400
    assert "The parameter “name” contains control characters." in r.content.decode()


def test_it_rejects_a_duplicate_visitor_id_with_different_values(db, client):
    r = client.get(PANEL + "?visitorImId=visitor-a&visitorImId=visitor-b&lang=en")
    assert r.status_code == 400
    assert "The parameter “visitorImId” appears more than once with different values." in (
        r.content.decode()
    )


def test_it_accepts_a_duplicate_visitor_id_with_the_same_value(db, client):
    r = client.get(PANEL + "?visitorImId=visitor-a&visitorImId=visitor-a&lang=en")
    assert r.status_code == 200
    assert "visitor-a" in r.content.decode()


def test_it_takes_the_last_of_a_repeated_custom_param(db, client):
    r = client.get(PANEL + "?visitorImId=visitor-a&name=Jack&name=Rose")
    assert r.status_code == 200
    assert VisitorInfo.objects.get(visitor_im_id="visitor-a").params == {"name": "Rose"}


# --- visitorImId is required ----------------------------------------------------------------


@pytest.mark.parametrize("query", [{}, {"visitorImId": ""}, {"visitorImId": "   "}])
def test_it_requires_a_visitor_id(db, client, query):
    r = client.get(PANEL, {**query, "lang": "en"})
    assert r.status_code == 400
    html = r.content.decode()
    assert "The panel was opened without a visitorImId parameter." in html
    assert "Easemob agent workbench" in html


@pytest.mark.parametrize("blank", ["", "   ", "\u3000", "\t\n", "\x00", " \x1f\x7f "])
def test_it_requires_a_visitor_id_that_decrypts_to_something(
    db, client, with_system_encryption, blank
):
    r = client.get(PANEL, {"visitorImId": enc(blank), "lang": "en"})
    assert r.status_code == 400
    assert "The panel was opened without a visitorImId parameter." in r.content.decode()
    assert not VisitorInfo.objects.exists()


def test_encrypted_blank_visitor_ids_never_share_cached_info(db, client, with_system_encryption):
    for name in ("Jack", "Rose"):
        r = client.get(PANEL, {"visitorImId": enc(" "), "name": enc(name), "lang": "en"})
        assert r.status_code == 400
    assert not VisitorInfo.objects.exists()


def test_other_system_params_that_decrypt_to_nothing_are_absent():
    query = QueryDict(mutable=True)
    query.update({"visitorImId": enc(VISITOR), "easemobId": enc(""), "to": enc(" \t")})
    params = decode_params(query, key=KEY, encrypt_system=True, max_params=10, max_value_length=100)
    assert params.system == {"visitorImId": Value(VISITOR)}


def test_a_custom_param_that_decrypts_to_nothing_keeps_the_cached_value(db, client, with_key):
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": enc("Jack")})
    assert r.status_code == 200
    r = client.get(PANEL, {"visitorImId": VISITOR, "name": enc(" "), "age": enc("40")})
    assert r.status_code == 200
    assert VisitorInfo.objects.get().params == {"name": "Jack", "age": "40"}

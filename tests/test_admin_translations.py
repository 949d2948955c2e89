"""The admin in Chinese: Django's and django-import-export's screens without English gaps, the
project's Chinese with full-width punctuation, a language switch, and hostile long values kept
inside the page."""

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from iframe_panel.models import AuditEvent

pytestmark = pytest.mark.django_db

zh = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
LONG_VISITOR = "webim-visitor-" + "X" * 240


def visible_text(html):
    html = re.sub(r"(?s)<(script|style|svg)\b.*?</\1>", " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("page", ["customer", "order"])
def test_the_history_button_reads_lishi(staff_client, customer, make_order, page):
    obj = customer if page == "customer" else make_order(customer, "SO-1")
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])

    response = staff_client.get(url, **zh)

    assert response.status_code == 200
    history = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_history", args=[obj.pk])
    assert re.search(rf'<a href="{history}" class="historylink">历史</a>', response.text)


def test_the_tag_picker_speaks_chinese(staff_client):
    # SelectFilter2.js builds the picker's help from the admin's JavaScript catalog.
    response = staff_client.get(reverse("admin:jsi18n"), **zh)

    catalog = json.loads(re.search(r"newcatalog = (\{.*?\});", response.text, re.S).group(1))
    choose = 'Choose %s by selecting them and then select the "Choose" arrow button.'
    remove = 'Remove %s by selecting them and then select the "Remove" arrow button.'
    assert catalog[choose] == "选中%s，然后点击“选择”箭头按钮。"
    assert catalog[remove] == "选中%s，然后点击“删除”箭头按钮。"


@pytest.mark.parametrize("model", ["customers_customer", "orders_order"])
def test_the_export_screen_has_no_english_labels(staff_client, model):
    response = staff_client.get(reverse(f"admin:{model}_export"), **zh)

    text = visible_text(response.text)
    for english in ["Select all", "External Id", "Qq", "Wechat", "Resource", "Submit", "Format"]:
        assert english not in text
    assert "全选" in text
    labels = [
        field.label
        for field in response.context["form"].fields.values()
        if getattr(field, "is_selectable_field", False)
    ]
    assert labels and all(re.search(r"[\u4e00-\u9fff]|^(QQ|SKU)（", label) for label in labels)


def test_the_customer_export_labels_name_the_file_columns(staff_client):
    response = staff_client.get(reverse("admin:customers_customer_export"), **zh)

    text = visible_text(response.text)
    assert "业务系统 ID（external_id）" in text
    assert "微信（wechat）" in text


def test_the_import_screen_labels_are_chinese_with_full_width_colons(staff_client):
    response = staff_client.get(reverse("admin:customers_customer_import"), **zh)

    text = visible_text(response.text)
    assert "导入文件：" in text and "格式：" in text
    assert "File to import" not in text and "Submit" not in text


def test_chinese_translations_use_full_width_punctuation():
    placeholders = re.compile(
        r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdfr]|%[sd]|\{\w*\}|&\w+;|https?://\S+|\d+:\d+|<[^<>]*>"
    )
    chinese = re.compile(r"[\u4e00-\u9fff]")
    offenders = []
    for po in Path(settings.BASE_DIR, "locale").glob("**/zh_Hans/LC_MESSAGES/*.po"):
        for entry in po.read_text(encoding="utf-8").split("\n\n"):
            match = re.search(r"\nmsgstr(?:\[\d\])? (.*)", entry, re.S)
            if not match:
                continue
            text = "".join(re.findall(r'"(.*)"', match.group(1)))
            if chinese.search(text) and re.search(r"[,:;?!()]", placeholders.sub("", text)):
                offenders.append(text)
    assert offenders == []


def test_the_header_offers_a_language_switch(staff_client):
    response = staff_client.get(reverse("admin:index"), **zh)

    assert f'action="{reverse("set_language")}"' in response.text
    assert 'name="language" value="en"' in response.text

    switched = staff_client.post(
        reverse("set_language"), {"language": "en", "next": reverse("admin:index")}, **zh
    )

    assert switched.status_code == 302
    assert switched["Location"] == reverse("admin:index")
    english = staff_client.get(reverse("admin:index"), **zh)
    assert '<html lang="en"' in english.text
    assert "Customers and orders" in english.text


def test_the_login_page_offers_the_switch_too(client):
    response = client.get(reverse("admin:login"), **zh)

    assert 'name="language" value="en"' in response.text


def test_there_is_no_view_site_link(staff_client):
    response = staff_client.get(reverse("admin:index"), **zh)

    assert "查看站点" not in response.text
    assert "View site" not in response.text


def test_the_audit_log_truncates_a_long_visitor_id_and_explains_codes(staff_client):
    AuditEvent.objects.create(
        action="view", outcome="bad_request", visitor_im_id=LONG_VISITOR, detail="param_too_long"
    )
    AuditEvent.objects.create(
        action="view", outcome="bad_request", visitor_im_id="v1", detail="system_undecryptable"
    )

    response = staff_client.get(reverse("admin:iframe_panel_auditevent_changelist"), **zh)

    cells = re.findall(r'<td class="field-visitor">(.*?)</td>', response.text)
    assert f'<span title="{LONG_VISITOR}">{LONG_VISITOR[:39]}…</span>' in cells
    assert LONG_VISITOR not in visible_text(response.text)
    assert "有参数值过长。" in response.text
    assert "环信中的加密密钥" in response.text
    assert "param_too_long" not in response.text
    assert "system_undecryptable" not in response.text


def test_the_audit_entry_page_explains_its_code(staff_client):
    event = AuditEvent.objects.create(
        action="view", outcome="bad_request", visitor_im_id="v1", detail="param_too_long"
    )

    response = staff_client.get(
        reverse("admin:iframe_panel_auditevent_change", args=[event.pk]), **zh
    )

    assert response.status_code == 200
    assert "有参数值过长。" in response.text
    assert "param_too_long" not in response.text


def test_the_audit_log_shows_how_a_visitor_was_linked(staff_client):
    AuditEvent.objects.create(action="bind", outcome="ok", visitor_im_id="v1", detail="phone")
    AuditEvent.objects.create(action="lookup", outcome="ok", visitor_im_id="v1", detail="SO-1")

    response = staff_client.get(reverse("admin:iframe_panel_auditevent_changelist"), **zh)

    assert "推送的手机号匹配" in response.text
    assert "SO-1" in response.text


def test_the_easemob_page_truncates_a_long_visitor_id(staff_client):
    AuditEvent.objects.create(
        action="view", outcome="bad_request", visitor_im_id=LONG_VISITOR, detail="param_too_long"
    )

    response = staff_client.get(reverse("easemob_integration"), **zh)

    assert f'title="{LONG_VISITOR}"' in response.text
    assert LONG_VISITOR not in visible_text(response.text)
    assert "有参数值过长。" in response.text


def test_the_visitor_info_list_truncates_a_long_visitor_id(staff_client):
    from iframe_panel.models import VisitorInfo

    VisitorInfo.objects.create(visitor_im_id=LONG_VISITOR, params={"name": "Jack"})

    response = staff_client.get(reverse("admin:iframe_panel_visitorinfo_changelist"), **zh)

    assert f'title="{LONG_VISITOR}"' in response.text
    assert LONG_VISITOR not in visible_text(response.text)

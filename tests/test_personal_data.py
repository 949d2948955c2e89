import json
import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Note, Tag, VisitorIdentity
from customers.signals import customer_erasing
from iframe_panel.models import AuditEvent, Conversation, VisitorInfo
from orders.models import Order

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


@pytest.fixture
def profile(customer, visitor, make_order):
    """张伟 with a tag, a second visitor id, a note, an order with an address, what the apps
    pushed, and panel audit entries."""
    customer.qq = "10001"
    customer.wechat = "zhangwei_88"
    customer.remarks = "喜欢周末送货"
    customer.save()
    customer.tags.add(Tag.objects.create(name="VIP 老客户"))
    VisitorIdentity.objects.create(visitor_im_id="oWeChatOpenId123", customer=customer)
    Note.objects.create(customer=customer, body="客户要求开发票", agent_name="客服小美", ssid="s-1")
    order = make_order(customer, "SO-1001")
    Order.objects.filter(pk=order.pk).update(
        recipient="张伟",
        recipient_phone="13800138000",
        shipping_address="杭州市西湖区文三路478号",
        carrier="顺丰",
        tracking_number="SF1234567890",
        remarks="放门卫",
    )
    VisitorInfo.objects.create(
        visitor_im_id=visitor.visitor_im_id, params={"name": "张伟", "phone": "13800138000"}
    )
    AuditEvent.objects.create(
        action="view",
        outcome="ok",
        visitor_im_id=visitor.visitor_im_id,
        customer=customer,
        agent_name="客服小美",
        ssid="s-1",
    )
    AuditEvent.objects.create(
        action="lookup",
        outcome="ok",
        visitor_im_id=visitor.visitor_im_id,
        customer=customer,
        agent_name="客服小美",
        detail="13800138000",
    )
    # Another visitor's agent searched for 张伟's phone.
    AuditEvent.objects.create(
        action="search", outcome="ok", visitor_im_id="webim-visitor-OTHER", detail="13800138000"
    )
    return customer


@pytest.fixture
def other(make_order):
    """李娜, who must come out of every erasure and export of 张伟 untouched."""
    other = Customer.objects.create(name="李娜", phone="13900000000", email="lina@example.com")
    VisitorIdentity.objects.create(visitor_im_id="webim-visitor-LINA", customer=other)
    Note.objects.create(customer=other, body="李娜的备注")
    order = make_order(other, "SO-2002")
    Order.objects.filter(pk=order.pk).update(recipient="李娜", shipping_address="北京市朝阳区")
    VisitorInfo.objects.create(visitor_im_id="webim-visitor-LINA", params={"name": "李娜"})
    AuditEvent.objects.create(
        action="view",
        outcome="ok",
        visitor_im_id="webim-visitor-LINA",
        customer=other,
        ssid="s-lina",
    )
    return other


def erase_url(customer):
    return reverse("admin:customers_customer_erase_personal_data", args=[customer.pk])


def export_url(customer):
    return reverse("admin:customers_customer_export_personal_data", args=[customer.pk])


@pytest.fixture
def staff_member(client, django_user_model):
    """Staff who may view and change customers, and nothing about personal data requests."""
    user = django_user_model.objects.create_user("clerk", password="pw-123456", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="customers",
            codename__in=["view_customer", "change_customer"],
        )
    )
    client.force_login(user)
    return user


def grant(user, codename):
    user.user_permissions.add(Permission.objects.get(codename=codename))


# --- Erasure ----------------------------------------------------------------------------------


def test_it_erases_identities_notes_and_visitor_info(staff_client, profile, other):
    response = staff_client.post(erase_url(profile), **EN)
    assert response.status_code == 302
    assert not VisitorIdentity.objects.filter(customer=profile).exists()
    assert not Note.objects.filter(customer=profile).exists()
    assert not VisitorInfo.objects.filter(
        visitor_im_id__in=["webim-visitor-8K2FTG9QTYWRT8EYVJ7F", "oWeChatOpenId123"]
    ).exists()


def test_it_anonymises_the_customer_and_keeps_the_record(staff_client, profile):
    staff_client.post(erase_url(profile), **EN)
    customer = Customer.objects.get(pk=profile.pk)
    assert customer.name == f"已删除的客户 #{profile.pk}"
    personal = ["phone", "email", "external_id", "nickname", "company", "address", "qq", "wechat"]
    assert [getattr(customer, field) for field in [*personal, "remarks"]] == [""] * 9
    assert customer.gender == Customer.Gender.UNKNOWN
    assert not customer.tags.exists()
    assert customer.created_at == profile.created_at


def test_it_anonymises_the_orders_and_keeps_the_books(staff_client, profile):
    before = Order.objects.get(number="SO-1001")
    staff_client.post(erase_url(profile), **EN)
    order = Order.objects.get(number="SO-1001")
    assert order.customer_id == profile.pk
    personal = ["recipient", "recipient_phone", "shipping_address", "tracking_number", "remarks"]
    assert [getattr(order, field) for field in personal] == [""] * 5
    assert (order.status, order.total, order.placed_at) == (
        before.status,
        before.total,
        before.placed_at,
    )
    assert order.carrier == "顺丰"
    assert list(order.items.values_list("product_name", "quantity")) == [("无线蓝牙耳机 Pro", 1)]


def test_it_keeps_the_audit_entries_without_the_customers_personal_data(staff_client, profile):
    staff_client.post(erase_url(profile), **EN)
    about = AuditEvent.objects.filter(customer=profile).order_by("pk")
    assert [(e.action, e.visitor_im_id, e.ssid, e.detail) for e in about] == [
        ("view", "[erased]", "", ""),
        ("lookup", "[erased]", "", ""),
    ]
    assert {e.agent_name for e in about} == {"客服小美"}
    # The other visitor's search for the phone stays, without the phone.
    search = AuditEvent.objects.get(action="search")
    assert (search.visitor_im_id, search.detail) == ("webim-visitor-OTHER", "")
    assert not AuditEvent.objects.filter(visitor_im_id="webim-visitor-8K2FTG9QTYWRT8EYVJ7F")


def test_it_leaves_other_customers_untouched(staff_client, profile, other):
    staff_client.post(erase_url(profile), **EN)
    other.refresh_from_db()
    assert (other.name, other.phone, other.email) == ("李娜", "13900000000", "lina@example.com")
    assert other.visitor_identities.get().visitor_im_id == "webim-visitor-LINA"
    assert other.notes.get().body == "李娜的备注"
    assert Order.objects.get(number="SO-2002").shipping_address == "北京市朝阳区"
    assert VisitorInfo.objects.get(visitor_im_id="webim-visitor-LINA").params == {"name": "李娜"}
    event = AuditEvent.objects.get(customer=other)
    assert (event.visitor_im_id, event.ssid) == ("webim-visitor-LINA", "s-lina")


def test_it_records_the_erasure_without_personal_data(staff_client, profile, django_user_model):
    boss = django_user_model.objects.get(username="boss")
    # The admin's earlier history names the customer, a visitor id and a note as they were.
    history = [profile, *profile.visitor_identities.all(), *profile.notes.all()]
    LogEntry.objects.log_actions(boss.pk, history, CHANGE, "Changed phone.")
    staff_client.post(erase_url(profile), **EN)
    record = LogEntry.objects.filter(object_id=str(profile.pk)).latest("pk")
    assert (record.user, record.action_flag) == (boss, CHANGE)
    assert record.change_message == "已清除该客户的个人信息。"
    placeholder = f"已删除的客户 #{profile.pk}"
    assert set(LogEntry.objects.values_list("object_repr", flat=True)) == {placeholder}
    assert LogEntry.objects.count() == len(history) + 1


def test_the_confirmation_page_says_what_goes_and_stays_in_chinese(staff_client, profile):
    response = staff_client.get(erase_url(profile), **ZH)
    assert response.status_code == 200
    assert "清除个人信息" in response.text
    assert f"已删除的客户 #{profile.pk}" in response.text
    assert "环信访客 ID（2 个）" in response.text
    assert "保留" in response.text and "订单号" in response.text


def test_a_get_erases_nothing(staff_client, profile):
    staff_client.get(erase_url(profile), **EN)
    profile.refresh_from_db()
    assert profile.name == "张伟"
    assert profile.visitor_identities.count() == 2
    assert VisitorInfo.objects.count() == 1


def test_it_answers_404_for_an_unknown_customer(staff_client):
    response = staff_client.post(
        reverse("admin:customers_customer_erase_personal_data", args=[9999]), **EN
    )
    assert response.status_code == 404


def test_it_requires_the_erase_permission(client, staff_member, profile):
    assert client.get(erase_url(profile), **EN).status_code == 403
    assert client.post(erase_url(profile), **EN).status_code == 403
    profile.refresh_from_db()
    assert profile.name == "张伟"
    assert profile.visitor_identities.count() == 2
    change_page = client.get(
        reverse("admin:customers_customer_change", args=[profile.pk]), **EN
    ).text
    assert erase_url(profile) not in change_page
    changelist = client.get(reverse("admin:customers_customer_changelist"), **EN).text
    assert "erase_personal_data" not in changelist


def test_staff_with_the_erase_permission_can_erase(client, staff_member, profile):
    grant(staff_member, "erase_customer")
    change_page = client.get(
        reverse("admin:customers_customer_change", args=[profile.pk]), **EN
    ).text
    assert erase_url(profile) in change_page
    assert client.post(erase_url(profile), **EN).status_code == 302
    assert Customer.objects.get(pk=profile.pk).name == f"已删除的客户 #{profile.pk}"


def test_the_changelist_action_leads_to_the_confirmation(staff_client, profile, other):
    changelist = reverse("admin:customers_customer_changelist")
    response = staff_client.post(
        changelist, {"action": "erase_personal_data", "_selected_action": [profile.pk]}, **EN
    )
    assert response.status_code == 302
    assert response.url == erase_url(profile)
    assert Customer.objects.get(pk=profile.pk).name == "张伟"


def test_the_changelist_action_takes_one_customer_at_a_time(staff_client, profile, other):
    response = staff_client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "erase_personal_data", "_selected_action": [profile.pk, other.pk]},
        follow=True,
        **EN,
    )
    assert "Select exactly one customer" in response.text
    assert Customer.objects.get(pk=profile.pk).name == "张伟"


def test_a_failure_midway_erases_nothing(staff_client, profile):
    def fail(**kwargs):
        raise RuntimeError("a receiver failed")

    customer_erasing.connect(fail, dispatch_uid="test-fail")
    try:
        with pytest.raises(RuntimeError):
            staff_client.post(erase_url(profile), **EN)
    finally:
        customer_erasing.disconnect(dispatch_uid="test-fail")
    profile.refresh_from_db()
    assert profile.name == "张伟"
    assert profile.visitor_identities.count() == 2
    assert VisitorInfo.objects.count() == 1
    assert AuditEvent.objects.filter(visitor_im_id="[erased]").count() == 0
    assert Order.objects.get(number="SO-1001").recipient == "张伟"


# --- Export -----------------------------------------------------------------------------------


def test_it_exports_every_section_as_a_json_download(staff_client, profile, other):
    response = staff_client.get(export_url(profile), **EN)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="customer-{profile.pk}-personal-data.json"'
    )
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["customer"]["name"] == "张伟"
    assert data["customer"]["phone"] == "13800138000"
    assert data["customer"]["tags"] == ["VIP 老客户"]
    assert sorted(i["visitor_im_id"] for i in data["visitor_identities"]) == [
        "oWeChatOpenId123",
        "webim-visitor-8K2FTG9QTYWRT8EYVJ7F",
    ]
    assert [n["body"] for n in data["notes"]] == ["客户要求开发票"]
    [order] = data["orders"]
    assert (order["number"], order["total"], order["shipping_address"]) == (
        "SO-1001",
        "399.00",
        "杭州市西湖区文三路478号",
    )
    assert order["items"][0]["product_name"] == "无线蓝牙耳机 Pro"
    assert data["visitor_info"][0]["params"] == {"name": "张伟", "phone": "13800138000"}
    assert [e["action"] for e in data["panel_audit"]] == ["view", "lookup"]
    for foreign in ("李娜", "13900000000", "SO-2002", "webim-visitor-LINA", "webim-visitor-OTHER"):
        assert foreign not in response.content.decode()


def test_it_names_the_file_by_pk_not_by_name(staff_client, profile):
    response = staff_client.get(export_url(profile), **EN)
    assert "张伟" not in response["Content-Disposition"]


def test_it_records_the_export(staff_client, profile):
    staff_client.get(export_url(profile), **EN)
    record = LogEntry.objects.get(object_id=str(profile.pk))
    assert record.user.username == "boss"
    assert record.change_message == "已导出该客户的个人信息（查阅请求）。"


def test_the_export_requires_its_permission(client, staff_member, profile):
    assert client.get(export_url(profile), **EN).status_code == 403
    change_page = client.get(
        reverse("admin:customers_customer_change", args=[profile.pk]), **EN
    ).text
    assert export_url(profile) not in change_page
    assert not LogEntry.objects.exists()
    grant(staff_member, "export_customer_data")
    assert client.get(export_url(profile), **EN).status_code == 200


def test_the_changelist_action_exports_one_customer(staff_client, profile, other):
    response = staff_client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "export_personal_data", "_selected_action": [other.pk]},
        **EN,
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert json.loads(response.content)["customer"]["name"] == "李娜"


def test_an_erased_customer_exports_nothing_personal(staff_client, profile):
    staff_client.post(erase_url(profile), **EN)
    text = staff_client.get(export_url(profile), **EN).content.decode()
    for personal in ("张伟", "13800138000", "文三路", "SF1234567890", "webim-visitor-8K2F"):
        assert personal not in text


# --- Retention of visitor info ------------------------------------------------------------------


def visitor_info(visitor_im_id, days_ago, **fields):
    info = VisitorInfo.objects.create(
        visitor_im_id=visitor_im_id, params={"name": "某人"}, **fields
    )
    VisitorInfo.objects.filter(pk=info.pk).update(
        updated_at=timezone.now() - timedelta(days=days_ago)
    )
    return info


def test_prune_deletes_only_old_info_of_visitors_not_linked(customer, visitor):
    visitor_info("stranger-old", 91)
    visitor_info("stranger-recent", 10)
    visitor_info(visitor.visitor_im_id, 400)
    out = StringIO()
    call_command("prune_visitor_info", stdout=out)
    assert sorted(VisitorInfo.objects.values_list("visitor_im_id", flat=True)) == [
        "stranger-recent",
        visitor.visitor_im_id,
    ]
    assert "Deleted the visitor info of 1 visitors" in out.getvalue()


def test_prune_follows_the_retention_setting_and_option(settings):
    visitor_info("stranger", 20)
    call_command("prune_visitor_info", stdout=StringIO())
    assert VisitorInfo.objects.count() == 1
    call_command("prune_visitor_info", "--days", "15", stdout=StringIO())
    assert VisitorInfo.objects.count() == 0


def test_prune_empties_an_unlinked_visitor_and_keeps_what_it_was_unlinked_from(customer):
    info = visitor_info("unlinked-visitor", 100, unlinked_customer_ids=[customer.pk])
    call_command("prune_visitor_info", stdout=StringIO())
    info.refresh_from_db()
    assert (info.params, info.param_meta) == ({}, {})
    assert info.unlinked_customer_ids == [customer.pk]


def test_prune_deletes_old_conversations_of_visitors_not_linked(customer, visitor):
    long_ago = timezone.now() - timedelta(days=91)
    for ssid, visitor_im_id, owner, seen in [
        ("stranger-old", "stranger", None, long_ago),
        ("stranger-recent", "stranger", None, timezone.now()),
        ("customer-old", "other-visitor", customer, long_ago),
        ("visitor-linked-since", visitor.visitor_im_id, None, long_ago),
    ]:
        Conversation.objects.create(
            ssid=ssid, visitor_im_id=visitor_im_id, customer=owner, last_seen_at=seen
        )
    out = StringIO()
    call_command("prune_visitor_info", stdout=out)
    assert sorted(Conversation.objects.values_list("ssid", flat=True)) == [
        "customer-old",
        "stranger-recent",
        "visitor-linked-since",
    ]
    assert "Deleted 1 conversations" in out.getvalue()


def test_prune_refuses_a_retention_below_one_day():
    visitor_info("stranger", 3)
    with pytest.raises(CommandError):
        call_command("prune_visitor_info", "--days", "0")
    assert VisitorInfo.objects.count() == 1


# --- The seam between the CRM core and the panel ----------------------------------------------


def test_the_crm_core_imports_nothing_from_the_panel():
    root = Path(__file__).resolve().parent.parent
    importing = re.compile(r"^\s*(from|import)\s+iframe_panel\b|import_module\(.iframe_panel", re.M)
    offenders = [
        str(path.relative_to(root))
        for app in ("customers", "orders")
        for path in (root / app).rglob("*.py")
        if importing.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []

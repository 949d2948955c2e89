"""The change history of customers, orders and items: every write path leaves a historical
row that says who (or through which door) changed what, and the erasure leaves none of the
erased person's data in it."""

import html
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import IntegrationToken
from customers import personal_data
from customers.models import Customer
from orders.models import Order, OrderItem

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
PANEL = "/panel/panel-token-for-tests-7Qm2x/"


def latest(model, **filters):
    return model.history.filter(**filters).order_by("-history_date", "-history_id").first()


def customer_form(customer, **changes):
    data = {
        "name": customer.name,
        "nickname": customer.nickname,
        "gender": customer.gender,
        "level": customer.level,
        "phone": customer.phone,
        "email": customer.email,
        "external_id": customer.external_id,
        "company": customer.company,
        "address": customer.address,
        "visitor_identities-TOTAL_FORMS": "0",
        "visitor_identities-INITIAL_FORMS": "0",
        "notes-TOTAL_FORMS": "0",
        "notes-INITIAL_FORMS": "0",
        "orders-TOTAL_FORMS": "0",
        "orders-INITIAL_FORMS": "0",
        "follow_ups-TOTAL_FORMS": "0",
        "follow_ups-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


@pytest.fixture
def api(db):
    token = IntegrationToken(name="Shop")
    raw = token.set_new_token()
    token.save()
    client = APIClient(**EN)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


# --- the admin ---------------------------------------------------------------------------------


def test_an_admin_edit_records_the_user_and_the_new_values(staff_client, customer):
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    response = staff_client.post(url, customer_form(customer, level="gold"), **EN)
    assert response.status_code == 302, response.text

    record = latest(Customer, id=customer.pk)
    assert record.history_type == "~"
    assert record.history_user.username == "boss"
    assert record.level == "gold"
    assert record.prev_record.level == "regular"


def test_an_admin_order_with_items_records_order_items_and_the_total_once(staff_client, customer):
    data = {
        "number": "SO-NEW",
        "customer": customer.pk,
        "status": "pending",
        "placed_at_0": "2026-11-01",
        "placed_at_1": "10:00:00",
        "shipping_fee": "12.00",
        "discount": "0",
        "currency": "CNY",
        "items-TOTAL_FORMS": "2",
        "items-INITIAL_FORMS": "0",
        "items-0-product_name": "机械键盘",
        "items-0-quantity": "2",
        "items-0-unit_price": "459.00",
        "items-1-product_name": "保温杯",
        "items-1-quantity": "1",
        "items-1-unit_price": "69.90",
    }
    response = staff_client.post(reverse("admin:orders_order_add"), data, **EN)
    assert response.status_code == 302, response.text
    order = Order.objects.get(number="SO-NEW")

    # Created with the shipping fee alone, then one row for the items' total: not one per item.
    rows = list(order.history.order_by("history_date", "history_id"))
    assert [(r.history_type, r.total) for r in rows] == [
        ("+", Decimal("12.00")),
        ("~", Decimal("999.90")),
    ]
    assert {r.history_user.username for r in rows} == {"boss"}
    items = OrderItem.history.filter(order_id=order.pk)
    assert sorted((i.product_name, i.history_type) for i in items) == [
        ("保温杯", "+"),
        ("机械键盘", "+"),
    ]
    assert {i.history_user.username for i in items} == {"boss"}


def test_the_bulk_status_action_records_each_order(staff_client, customer, make_order):
    first = make_order(customer, "SO-X", status=Order.Status.PENDING)
    second = make_order(customer, "SO-Y", status=Order.Status.PENDING)

    response = staff_client.post(
        reverse("admin:orders_order_changelist") + "?status__exact=pending",
        {"action": "mark_shipped", "_selected_action": [first.pk, second.pk]},
        follow=True,
        **EN,
    )

    # The list was filtered by a status the action changed: the count still covers both.
    assert "2 orders marked as Shipped." in response.text
    for order in (first, second):
        record = latest(Order, id=order.pk)
        assert record.status == "shipped"
        assert record.shipped_at is not None and record.paid_at is not None
        assert record.history_user.username == "boss"
        assert record.history_change_reason == "批量操作：将所选订单标记为已发货"


def test_the_admin_import_records_the_user(staff_client, customer):
    from tests.test_import_export import import_file

    content = "订单号,业务系统ID,状态,商品,数量,单价\nSO-100,U1001,已付款,无线蓝牙耳机 Pro,2,399\n"
    import_file(staff_client, "orders_order", content)

    order = Order.objects.get(number="SO-100")
    record = latest(Order, id=order.pk)
    assert record.total == Decimal("798.00")
    assert record.history_user.username == "boss"
    assert record.history_change_reason == "在管理后台从文件导入"
    item = OrderItem.history.get(order_id=order.pk)
    assert (item.product_name, item.history_user.username) == ("无线蓝牙耳机 Pro", "boss")


# --- the API -----------------------------------------------------------------------------------


def test_the_api_records_the_tokens_name(api, customer):
    response = api.put(
        "/api/v1/customers/U1001/", {"name": "张伟", "level": "diamond"}, format="json"
    )
    assert response.status_code == 200, response.json()

    record = latest(Customer, id=customer.pk)
    assert record.level == "diamond"
    assert record.history_user is None
    assert record.history_change_reason == "API：Shop"


def test_the_api_records_replaced_items(api, customer, make_order):
    order = make_order(customer, "SO-API", items=[("旧商品", 1, "10.00")])
    payload = {
        "customer": "U1001",
        "items": [{"product_name": "新商品", "quantity": 3, "unit_price": "5.00"}],
    }

    response = api.put("/api/v1/orders/SO-API/", payload, format="json")
    assert response.status_code == 200, response.json()

    by_api = OrderItem.history.filter(order_id=order.pk, history_change_reason="API：Shop")
    assert sorted((i.product_name, i.history_type) for i in by_api) == [
        ("新商品", "+"),
        ("旧商品", "-"),
    ]
    record = latest(Order, id=order.pk)
    assert (record.total, record.history_change_reason) == (Decimal("15.00"), "API：Shop")


# --- the import commands -----------------------------------------------------------------------


def run(command, path):
    call_command(command, str(path), stdout=StringIO(), stderr=StringIO())


def test_import_customers_records_creates_and_updates(tmp_path, customer):
    path = tmp_path / "customers.csv"
    path.write_text("external_id,name,level\nU1001,张伟,gold\nU2001,李娜,silver\n", "utf-8")

    run("import_customers", path)

    updated = latest(Customer, id=customer.pk)
    assert (updated.history_type, updated.level) == ("~", "gold")
    assert updated.history_change_reason == "命令：import_customers"
    created = Customer.history.get(external_id="U2001")
    assert (created.history_type, created.name) == ("+", "李娜")
    assert created.history_change_reason == "命令：import_customers"
    assert created.history_user is None


def test_import_orders_records_orders_and_items(tmp_path, customer, make_order):
    make_order(customer, "SO-OLD", items=[("旧商品", 1, "10.00")])
    path = tmp_path / "orders.csv"
    path.write_text(
        "number,customer_external_id,status,product_name,quantity,unit_price\n"
        "SO-OLD,U1001,shipped,新商品,2,20\n"
        "SO-NEW,U1001,paid,耳机,1,399\n",
        "utf-8",
    )

    run("import_orders", path)

    reason = "命令：import_orders"
    old = Order.objects.get(number="SO-OLD")
    record = latest(Order, id=old.pk)
    assert (record.history_type, record.status, record.total) == ("~", "shipped", Decimal("40"))
    assert record.history_change_reason == reason
    items = OrderItem.history.filter(order_id=old.pk, history_change_reason=reason)
    assert sorted((i.product_name, i.history_type) for i in items) == [
        ("新商品", "+"),
        ("旧商品", "-"),
    ]
    new = Order.history.get(number="SO-NEW")
    assert (new.history_type, new.history_change_reason) == ("+", reason)
    assert OrderItem.history.get(order_id=new.id).history_change_reason == reason


# --- the panel ---------------------------------------------------------------------------------


def test_a_customer_created_in_the_panel_names_the_agent(client, db):
    cache.clear()
    page = client.get(
        PANEL, {"visitorImId": "webim-visitor-HISTORY0001", "lang": "en", "agentName": "小王"}
    ).content.decode()
    token = html.unescape(re.search(r'data-token="([^"]*)"', page).group(1))

    response = client.post(
        PANEL + "create/",
        {"t": token, "v": "webim-visitor-HISTORY0001", "lang": "en", "name": "王芳"},
    )
    assert response.status_code == 200, response.content

    record = Customer.history.get(name="王芳")
    assert record.history_type == "+"
    assert record.history_user is None
    assert record.history_change_reason == "面板：小王"


# --- what is not recorded ----------------------------------------------------------------------


def test_an_order_change_does_not_add_to_the_customers_history(customer, make_order):
    before = customer.history.count()
    order = make_order(customer, "SO-QUIET")
    order.status = Order.Status.SHIPPED
    order.save()

    assert Customer.objects.get(pk=customer.pk).revision != customer.revision
    assert customer.history.count() == before


# --- the erasure -------------------------------------------------------------------------------


def test_the_erasure_leaves_no_personal_data_in_the_history(customer, make_order, admin_user):
    order = make_order(customer, "SO-ERASE")
    order.recipient, order.recipient_phone = "张伟", "13800138000"
    order.shipping_address, order.tracking_number = "杭州市西湖区文三路478号", "SF1234567890"
    order.save()
    customer.company = "另一家公司"
    customer.save()

    personal_data.erase(customer, admin_user)

    assert Customer.history.filter(id=customer.pk).count() == 3
    for record in Customer.history.filter(id=customer.pk):
        assert record.name == f"已删除的客户 #{customer.pk}"
        assert all(getattr(record, f) == "" for f in Customer.PERSONAL_FIELDS)
    last = latest(Customer, id=customer.pk)
    assert last.history_user == admin_user
    assert last.history_change_reason == "已清除该客户的个人信息。"
    for record in Order.history.filter(id=order.pk):
        assert all(getattr(record, f) == "" for f in Order.PERSONAL_FIELDS)
        assert record.number == "SO-ERASE"
    texts = [str(v) for r in Customer.history.values() for v in r.values()]
    texts += [str(v) for r in Order.history.values() for v in r.values()]
    for value in ("张伟", "小伟", "13800138000", "zhangwei@example.com", "文三路", "另一家公司"):
        assert not any(value in text for text in texts), value


def test_an_access_request_export_is_in_the_history(staff_client, customer):
    url = reverse("admin:customers_customer_export_personal_data", args=[customer.pk])
    assert staff_client.get(url, **EN).status_code == 200

    record = latest(Customer, id=customer.pk)
    assert record.history_user.username == "boss"
    assert record.history_change_reason == "已导出该客户的个人信息（查阅请求）。"


# --- the History pages -------------------------------------------------------------------------


def test_the_customer_history_page_shows_who_and_what_in_chinese(staff_client, customer):
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    staff_client.post(url, customer_form(customer, level="gold"), **EN)

    response = staff_client.get(
        reverse("admin:customers_customer_history", args=[customer.pk]), **ZH
    )

    assert response.status_code == 200
    text = response.text
    assert "查看历史记录：张伟" in text
    assert "修改人" in text and "boss" in text
    assert "修改内容" in text
    # The changed field and its choice, as staff read them.
    assert re.search(r"会员等级:?</strong>\s*普通会员\s*&nbsp;&rarr;&nbsp;&nbsp;黄金会员", text)


def test_the_order_history_page_shows_its_items_changes(staff_client, customer, make_order):
    order = make_order(customer, "SO-HIST", items=[("保温杯 500ml", 1, "89.00")])
    item = order.items.get()
    item.quantity = 3
    item.save()

    response = staff_client.get(reverse("admin:orders_order_history", args=[order.pk]), **ZH)

    assert response.status_code == 200
    text = response.text
    assert "订单商品的变更" in text
    assert "保温杯 500ml" in text
    assert re.search(r"<strong>数量</strong>\s*1&nbsp;&rarr;&nbsp;3", text)
    # The total the item's change made, in the order's own history.
    assert re.search(r"89\.00\s*&nbsp;&rarr;&nbsp;&nbsp;267\.00", text)


def test_the_history_pages_speak_english_too(staff_client, customer, make_order):
    order = make_order(customer, "SO-EN")
    response = staff_client.get(reverse("admin:orders_order_history", args=[order.pk]), **EN)
    assert "View history: SO-EN" in response.text
    assert "Changes to the order’s items" in response.text


def test_a_bad_history_url_is_a_404(staff_client):
    response = staff_client.get("/admin/orders/order/nope/history/", **EN)
    assert response.status_code == 404


def test_a_version_opens_read_only(staff_client, customer, make_order):
    order = make_order(customer, "SO-VERSION")
    for obj, name in ((customer, "customers_customer"), (order, "orders_order")):
        version = obj.history.earliest("history_date")
        url = reverse(f"admin:{name}_simple_history", args=[obj.pk, version.history_id])
        response = staff_client.get(url, **ZH)
        assert response.status_code == 200
        assert "还原" not in response.text


def test_a_version_is_never_saved_back(client, django_user_model, customer):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", password="pw-123456", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(viewer)
    version = customer.history.get()
    url = reverse("admin:customers_customer_simple_history", args=[customer.pk, version.history_id])

    response = client.post(url, customer_form(customer, name="改名"), **EN)

    assert response.status_code == 403
    assert Customer.objects.get(pk=customer.pk).name == "张伟"


def test_a_bad_version_url_is_a_404(staff_client, customer):
    url = f"/admin/customers/customer/{customer.pk}/history/nope/"
    assert staff_client.get(url, **EN).status_code == 404

"""Import and export of customers, visitor identities and orders in the admin."""

import tempfile
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer, VisitorIdentity
from customers.resources import CustomerResource
from orders.models import Order

pytestmark = pytest.mark.django_db

CUSTOMERS_CSV = (
    "业务系统ID,姓名,手机,邮箱,性别,会员等级\n"
    "U2001,李娜,+86 139 1234 5678,LiNa@Example.com,女,黄金会员\n"
    "U2002,王强,138-0000-1111,,男,\n"
)


def format_index(response, title):
    return next(
        value
        for value, label in response.context["form"].fields["format"].choices
        if label == title
    )


def upload(client, model, content, name="import.csv", title="csv"):
    url = reverse(f"admin:{model}_import")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post(
        url,
        {
            "import_file": SimpleUploadedFile(name, data),
            "format": format_index(page, title),
            "resource": 0,
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )


def confirm(client, model, preview):
    form = preview.context["confirm_form"]
    return client.post(reverse(f"admin:{model}_process_import"), form.initial)


def import_file(client, model, content, **kwargs):
    preview = upload(client, model, content, **kwargs)
    assert preview.context["confirm_form"] is not None, preview.content.decode()
    return confirm(client, model, preview)


def test_dry_run_preview_shows_changes_and_writes_nothing(staff_client):
    response = upload(staff_client, "customers_customer", CUSTOMERS_CSV)

    assert response.status_code == 200
    result = response.context["result"]
    assert result.totals["new"] == 2
    assert not result.has_errors() and not result.has_validation_errors()
    assert "李娜" in response.content.decode()
    assert not Customer.objects.exists()


def test_confirm_writes_the_rows(staff_client):
    response = import_file(staff_client, "customers_customer", CUSTOMERS_CSV)

    assert response.status_code == 302
    li = Customer.objects.get(external_id="U2001")
    assert li.name == "李娜"
    assert li.phone == "13912345678"
    assert li.email == "lina@example.com"
    assert li.gender == Customer.Gender.FEMALE
    assert li.level == Customer.Level.GOLD
    assert Customer.objects.get(external_id="U2002").phone == "13800001111"


def test_it_updates_by_external_id(staff_client, customer):
    import_file(staff_client, "customers_customer", "external_id,name,company\nU1001,张伟伟,\n")

    customer.refresh_from_db()
    assert customer.name == "张伟伟"
    assert customer.company == ""
    assert customer.phone == "13800138000"  # no phone column: left alone
    assert Customer.objects.count() == 1


def test_importing_twice_changes_nothing(staff_client):
    import_file(staff_client, "customers_customer", CUSTOMERS_CSV)
    before = {c.external_id: c.updated_at for c in Customer.objects.all()}

    preview = upload(staff_client, "customers_customer", CUSTOMERS_CSV)
    assert preview.context["result"].totals["skip"] == 2
    confirm(staff_client, "customers_customer", preview)

    assert {c.external_id: c.updated_at for c in Customer.objects.all()} == before


def test_a_bad_row_shows_its_number_and_reason_and_imports_nothing(staff_client):
    content = CUSTOMERS_CSV + "U2003,,13700000000,not-an-email,火星人,\n"

    response = upload(staff_client, "customers_customer", content)

    assert response.context.get("confirm_form") is None
    invalid = {
        row.number: row.error.message_dict for row in response.context["result"].invalid_rows
    }
    assert set(invalid) == {3}
    assert set(invalid[3]) == {"name", "email", "gender"}
    assert "火星人" in invalid[3]["gender"][0]
    assert not Customer.objects.exists()


def test_a_row_without_external_id_is_an_error(staff_client):
    response = upload(staff_client, "customers_customer", "姓名,手机\n赵六,13600000000\n")

    # Without the key column there is nothing to match rows on.
    assert response.context["result"].has_errors()
    assert not Customer.objects.exists()


def test_the_same_external_id_twice_in_a_file_is_an_error(staff_client):
    content = "external_id,name\nU9,甲\nU9,乙\n"

    response = upload(staff_client, "customers_customer", content)

    invalid = {
        row.number: row.error.message_dict for row in response.context["result"].invalid_rows
    }
    assert "line 2" in invalid[2]["external_id"][0]
    assert not Customer.objects.exists()


def test_the_confirm_step_rolls_back_a_file_that_turned_bad(staff_client, customer):
    # The confirm step re-reads the stored upload. Should it no longer import cleanly, the
    # rows before the bad one must not stay.
    good = "订单号,业务系统ID,商品,数量,单价\nSO-1,U1001,耳机,1,399\n"
    preview = upload(staff_client, "orders_order", good)
    form = preview.context["confirm_form"]
    stored = Path(tempfile.gettempdir()) / form.initial["import_file_name"]
    stored.write_text(good + "SO-2,NOBODY,耳机,1,399\n", encoding="utf-8")

    staff_client.post(reverse("admin:orders_order_process_import"), form.initial)

    assert not Order.objects.exists()


def test_chinese_status_labels_and_headers_import(staff_client, customer):
    content = (
        "订单号,业务系统ID,状态,运费,优惠,商品,数量,单价\n"
        "SO-100,U1001,已付款,10,5,无线蓝牙耳机 Pro,1,399\n"
        "SO-100,,,,,Type-C 数据线,2,29.9\n"
        "SO-101,U1001,shipped,0,0,保温杯 500ml,1,89\n"
    )

    import_file(staff_client, "orders_order", content)

    order = Order.objects.get(number="SO-100")
    assert order.status == Order.Status.PAID
    assert order.customer == customer
    assert order.total == Decimal("399") + Decimal("59.8") + 10 - 5
    assert [(i.product_name, i.quantity) for i in order.items.all()] == [
        ("无线蓝牙耳机 Pro", 1),
        ("Type-C 数据线", 2),
    ]
    assert Order.objects.get(number="SO-101").status == Order.Status.SHIPPED


def test_importing_orders_twice_changes_nothing(staff_client, customer):
    content = "number,customer_external_id,status,product_name,quantity,unit_price\n" + (
        "SO-7,U1001,paid,耳机,1,399\nSO-7,U1001,paid,线,1,29.9\n"
    )
    import_file(staff_client, "orders_order", content)
    order = Order.objects.get(number="SO-7")
    item_ids = list(order.items.values_list("pk", flat=True))

    preview = upload(staff_client, "orders_order", content)

    assert preview.context["result"].totals["skip"] == 2
    confirm(staff_client, "orders_order", preview)
    order.refresh_from_db()
    assert list(order.items.values_list("pk", flat=True)) == item_ids


def test_a_file_replaces_an_orders_items_and_recalculates_the_total(
    staff_client, customer, make_order
):
    make_order(customer, "SO-8", items=[("旧商品", 1, "100.00"), ("另一件", 1, "50.00")])

    import_file(staff_client, "orders_order", "订单号,商品,数量,单价\nSO-8,新商品,3,10\n")

    order = Order.objects.get(number="SO-8")
    assert [i.product_name for i in order.items.all()] == ["新商品"]
    assert order.total == Decimal("30.00")


def test_conflicting_order_columns_are_an_error(staff_client, customer):
    content = (
        "订单号,业务系统ID,状态,商品,数量,单价\nSO-9,U1001,已付款,耳机,1,399\nSO-9,,已发货,线,1,9\n"
    )

    response = upload(staff_client, "orders_order", content)

    invalid = {
        row.number: row.error.message_dict for row in response.context["result"].invalid_rows
    }
    assert "line 2" in invalid[2]["status"][0]
    assert not Order.objects.exists()


def test_an_unknown_customer_is_an_error(staff_client):
    response = upload(
        staff_client, "orders_order", "订单号,业务系统ID,商品,数量,单价\nSO-1,NOBODY,耳机,1,399\n"
    )

    invalid = {
        row.number: row.error.message_dict for row in response.context["result"].invalid_rows
    }
    assert "NOBODY" in invalid[1]["customer"][0]
    assert not Order.objects.exists()


def test_bad_item_cells_are_errors(staff_client, customer):
    content = "订单号,业务系统ID,商品,数量,单价\nSO-1,U1001,耳机,0,abc\nSO-2,U1001,,1,-5\n"

    response = upload(staff_client, "orders_order", content)

    invalid = {
        row.number: row.error.message_dict for row in response.context["result"].invalid_rows
    }
    assert set(invalid[1]) == {"quantity", "unit_price"}
    assert set(invalid[2]) == {"product_name", "unit_price"}
    assert not Order.objects.exists()


def test_a_discount_larger_than_the_items_is_an_error(staff_client, customer):
    content = "订单号,业务系统ID,优惠,商品,数量,单价\nSO-1,U1001,500,耳机,1,399\n"

    response = upload(staff_client, "orders_order", content)

    invalid = {
        row.number: row.error.message_dict for row in response.context["result"].invalid_rows
    }
    assert "discount" in invalid[1]
    assert not Order.objects.exists()


def test_visitor_identities_import_by_visitor_id(staff_client, customer):
    content = "访客ID,业务系统ID,渠道\nwebim-visitor-ABC,U1001,网页\noX2-openid,U1001,微信\n"

    import_file(staff_client, "customers_visitoridentity", content)

    web = VisitorIdentity.objects.get(visitor_im_id="webim-visitor-ABC")
    assert web.customer == customer
    assert web.channel == VisitorIdentity.Channel.WEB
    assert web.bound_via == VisitorIdentity.BoundVia.IMPORT
    assert VisitorIdentity.objects.get(visitor_im_id="oX2-openid").channel == "wechat"


def export_xlsx(client, model):
    url = reverse(f"admin:{model}_export")
    page = client.get(url)
    form = page.context["form"]
    data = {name: "on" for name, field in form.fields.items() if field.initial is True}
    data["format"] = format_index(page, "xlsx")
    data["resource"] = 0
    response = client.post(url, data)
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_xlsx_export_then_import_changes_nothing(staff_client, customer, make_order, visitor):
    make_order(customer, "SO-1", items=[("耳机", 1, "399.00"), ("线", 2, "29.90")])
    make_order(customer, "SO-2", items=[])
    order_file = export_xlsx(staff_client, "orders_order")
    customer_file = export_xlsx(staff_client, "customers_customer")
    sheet = openpyxl.load_workbook(BytesIO(order_file)).active
    headers = [c.value for c in sheet[1]]
    assert headers[:2] == ["number", "customer_external_id"]
    assert sheet.max_row == 4  # two item rows for SO-1, one row for SO-2
    before = list(Order.objects.values_list("number", "updated_at", "total"))

    for model, content in [("customers_customer", customer_file), ("orders_order", order_file)]:
        preview = upload(staff_client, model, content, name="export.xlsx", title="xlsx")
        result = preview.context["result"]
        assert result.totals["skip"] == result.total_rows, model
        confirm(staff_client, model, preview)

    assert list(Order.objects.values_list("number", "updated_at", "total")) == before
    assert Order.objects.get(number="SO-1").items.count() == 2


def test_exported_customers_use_field_names_as_headers(customer):
    dataset = CustomerResource().export(Customer.objects.all())

    assert dataset.headers[:4] == ["external_id", "name", "nickname", "gender"]
    assert dataset.dict[0]["phone"] == "13800138000"

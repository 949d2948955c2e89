"""The admin's import and export with files that go through Excel: CSV with a byte-order mark,
GBK uploads, our own exports imported back, and a preview that says what is wrong where."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Customer
from orders.models import Order
from tests.test_import_export import confirm, format_index

pytestmark = pytest.mark.django_db

zh = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def export_csv(client, model):
    url = reverse(f"admin:{model}_export")
    page = client.get(url)
    form = page.context["form"]
    data = {name: "on" for name, field in form.fields.items() if field.initial is True}
    data["format"] = format_index(page, "csv")
    data["resource"] = 0
    response = client.post(url, data)
    assert response.status_code == 200
    return response


def upload(client, model, data, name="import.csv", title="csv", **headers):
    url = reverse(f"admin:{model}_import")
    page = client.get(url, **headers)
    return client.post(
        url,
        {
            "import_file": SimpleUploadedFile(name, data),
            "format": format_index(page, title),
            "resource": 0,
        },
        **headers,
    )


def test_csv_export_starts_with_a_byte_order_mark(staff_client, customer):
    response = export_csv(staff_client, "customers_customer")

    assert response.content.startswith(b"\xef\xbb\xbf")
    assert "charset=utf-8" in response["Content-Type"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0]["name"] == "张伟"
    assert rows[0]["company"] == "杭州云帆科技有限公司"
    assert rows[0]["id"] == str(customer.pk)


def test_order_csv_export_starts_with_a_byte_order_mark(staff_client, customer, make_order):
    make_order(customer, "SO-1", items=[("无线蓝牙耳机 Pro", 1, "399.00")])

    content = export_csv(staff_client, "orders_order").content

    assert content.startswith(b"\xef\xbb\xbf")
    assert "无线蓝牙耳机 Pro" in content.decode("utf-8-sig")


def test_own_csv_export_imports_back_unchanged(staff_client, customer):
    # Agents create customers in the admin without an external ID.
    walk_in = Customer.objects.create(name="王芳", phone="13700001111", level="gold")
    content = export_csv(staff_client, "customers_customer").content
    before = list(Customer.objects.order_by("pk").values_list())

    preview = upload(staff_client, "customers_customer", content)

    result = preview.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["skip"] == 2
    confirm(staff_client, "customers_customer", preview)
    assert list(Customer.objects.order_by("pk").values_list()) == before
    assert walk_in.external_id == ""


def test_a_row_without_external_id_updates_the_customer_with_that_id(staff_client, customer):
    walk_in = Customer.objects.create(name="王芳")
    content = f"external_id,name,company,id\n,王芳,西湖茶社,{walk_in.pk}\n".encode()

    preview = upload(staff_client, "customers_customer", content)
    assert preview.context["result"].totals["update"] == 1
    confirm(staff_client, "customers_customer", preview)

    walk_in.refresh_from_db()
    assert walk_in.company == "西湖茶社"
    assert walk_in.external_id == ""
    assert Customer.objects.count() == 2


def test_an_unknown_id_without_external_id_is_an_error(staff_client, customer):
    content = "external_id,name,id\n,王芳,999999\n,李四,\n".encode()

    response = upload(staff_client, "customers_customer", content, HTTP_ACCEPT_LANGUAGE="en")

    invalid = {
        row.number: row.error.message_dict for row in response.context["result"].invalid_rows
    }
    assert "999999" in invalid[1]["external_id"][0]
    assert "external_id is required" in invalid[2]["external_id"][0]
    assert Customer.objects.count() == 1


def test_a_gbk_csv_from_excel_imports(staff_client):
    # What Excel on a Chinese Windows writes for "CSV (comma delimited)".
    content = "业务系统ID,姓名,性别,会员等级,地址\r\nU3001,欧阳娜娜,女,黄金会员,北京市朝阳区\r\n"

    preview = upload(staff_client, "customers_customer", content.encode("gbk"), **zh)

    assert preview.status_code == 200
    assert preview.context["result"].totals["new"] == 1
    confirm(staff_client, "customers_customer", preview)
    customer = Customer.objects.get(external_id="U3001")
    assert customer.name == "欧阳娜娜"
    assert customer.address == "北京市朝阳区"
    assert customer.level == Customer.Level.GOLD


def test_a_utf8_csv_without_a_byte_order_mark_imports(staff_client):
    content = "业务系统ID,姓名\nU3002,李娜\n".encode()

    preview = upload(staff_client, "customers_customer", content)

    confirm(staff_client, "customers_customer", preview)
    assert Customer.objects.get(external_id="U3002").name == "李娜"


def test_a_gbk_order_csv_imports(staff_client, customer):
    content = "订单号,业务系统ID,状态,商品,数量,单价\r\nSO-9,U1001,已付款,保温杯,2,89\r\n"

    preview = upload(staff_client, "orders_order", content.encode("gbk"))
    confirm(staff_client, "orders_order", preview)

    order = Order.objects.get(number="SO-9")
    assert order.items.get().product_name == "保温杯"


def test_an_undecodable_file_is_refused_in_the_users_language(staff_client):
    content = b"external_id,name\nU1,\xff\xfe\xff\n"

    response = upload(staff_client, "customers_customer", content, **zh)

    assert response.status_code == 200
    errors = response.context["form"].errors["import_file"]
    assert errors == [
        "文件既不是 UTF-8 也不是 GBK（GB18030）文本。"
        "请在 Excel 中另存为“CSV UTF-8”或 .xlsx 工作簿。"
    ]
    assert "UnicodeDecodeError" not in response.text
    assert not Customer.objects.exists()


def test_an_xlsx_chosen_as_csv_gets_a_clear_message(staff_client):
    response = upload(staff_client, "customers_customer", b"PK\x03\x04 not a csv", **zh)

    assert response.status_code == 200
    assert response.context["form"].errors["import_file"]
    assert "encountered while trying to read file" not in response.text


def test_the_preview_shows_errors_inline_with_file_lines_in_chinese(staff_client):
    content = (
        "业务系统ID,姓名,邮箱,性别\nU2001,李娜,lina@example.com,女\nU2002,,not-an-email,火星人\n"
    ).encode()

    response = upload(staff_client, "customers_customer", content, **zh)

    page = response.text
    table = page[page.index('id="invalid-rows"') :]
    # The bad row is the file's line 3 (the header is line 1).
    assert '<td class="line">3</td>' in table
    assert "<th>性别</th>" in table and "<th>邮箱</th>" in table
    assert "性别：“火星人”不是以下之一：未知，男，女。" in table
    assert "validation-error-container" not in page
    assert "External Id" not in page


def test_the_preview_shows_choices_and_columns_in_the_users_language(staff_client):
    content = "external_id,name,gender,level\nU2001,李娜,female,gold\n".encode()

    response = upload(staff_client, "customers_customer", content, **zh)

    table = response.text[response.text.index('id="preview-rows"') :]
    assert "<th>性别</th>" in table and "<th>会员等级</th>" in table
    assert '<td class="line">2</td>' in table
    assert "女" in table and "黄金" in table
    assert ">female<" not in table and ">gold<" not in table


def test_the_command_matches_rows_without_external_id_by_id(tmp_path, customer):
    from django.core.management import call_command

    walk_in = Customer.objects.create(name="王芳")
    path = tmp_path / "customers.csv"
    path.write_bytes(
        f"external_id,name,company,id\r\n,王芳,西湖茶社,{walk_in.pk}\r\n".encode("gbk")
    )

    call_command("import_customers", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    walk_in.refresh_from_db()
    assert walk_in.company == "西湖茶社"
    assert Customer.objects.count() == 2

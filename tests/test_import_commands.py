"""The import_customers and import_orders commands, and their agreement with the admin's import."""

from decimal import Decimal
from io import StringIO

import openpyxl
import pytest
import tablib
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone, translation

from customers.models import Customer
from customers.resources import CustomerResource
from orders.models import Order
from orders.resources import OrderResource

pytestmark = pytest.mark.django_db

CUSTOMERS = (
    "业务系统ID,姓名,手机,邮箱,性别,会员等级\n"
    "U2001,李娜,+86 139 1234 5678,LiNa@Example.com,女,黄金会员\n"
    "U2002,王强,138-0000-1111,,男,\n"
)
ORDERS = (
    "订单号,业务系统ID,状态,运费,优惠,下单时间,商品,数量,单价\n"
    "SO-100,U2001,已付款,10,5,2025-03-08 14:30,无线蓝牙耳机 Pro,1,399\n"
    "SO-100,,,,,,Type-C 数据线,2,29.9\n"
    "SO-101,U2002,shipped,0,0,2025/03/09,保温杯 500ml,1,89\n"
)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def write(tmp_path, content, name="file.csv"):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def run(command, path, *args):
    """(stdout, stderr) of a successful run."""
    out, err = StringIO(), StringIO()
    call_command(command, path, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fail(command, path, *args):
    """The error report and the CommandError message of a failing run."""
    err = StringIO()
    with pytest.raises(CommandError) as e:
        call_command(command, path, *args, stdout=StringIO(), stderr=err)
    return err.getvalue(), str(e.value)


def snapshot():
    return (
        list(Customer.objects.order_by("pk").values_list()),
        list(Order.objects.order_by("pk").values_list()),
        list(Order.objects.values_list("items__pk", "items__quantity").order_by("items__pk")),
    )


def test_it_creates_customers_with_normalized_phones_and_emails(tmp_path):
    out, _ = run("import_customers", write(tmp_path, CUSTOMERS))

    li = Customer.objects.get(external_id="U2001")
    assert (li.phone, li.email, li.gender, li.level) == (
        "13912345678",
        "lina@example.com",
        "female",
        "gold",
    )
    assert "2 customers created, 0 updated, 0 unchanged, 0 rows with errors" in out


def test_it_updates_customers_by_external_id(tmp_path, customer):
    out, _ = run("import_customers", write(tmp_path, "external_id,name\nU1001,张伟伟\n"))

    customer.refresh_from_db()
    assert customer.name == "张伟伟"
    assert customer.phone == "13800138000"
    assert Customer.objects.count() == 1
    assert "0 customers created, 1 updated" in out


def test_importing_customers_twice_changes_nothing(tmp_path):
    path = write(tmp_path, CUSTOMERS)
    run("import_customers", path)
    before = snapshot()

    out, _ = run("import_customers", path)

    assert snapshot() == before
    assert "0 customers created, 0 updated, 2 unchanged" in out


def test_a_bad_customer_row_imports_nothing_and_says_why(tmp_path):
    content = CUSTOMERS + "U2003,,13700000000,not-an-email,火星人,\n,赵六,,,,\n"

    report, message = fail("import_customers", write(tmp_path, content))

    assert not Customer.objects.exists()
    assert "Row 3 (line 4 of the file)" in report
    assert "email" in report and "火星人" in report
    assert "Row 4 (line 5 of the file): external_id: external_id is required" in report
    assert message == "Nothing was imported: 2 rows have errors."


def test_a_failing_import_exits_non_zero(tmp_path, capsys):
    path = write(tmp_path, "external_id,name\nU1,\n")

    with pytest.raises(SystemExit) as e:
        ManagementUtility(["manage.py", "import_customers", path, "--skip-checks"]).execute()

    assert e.value.code == 1
    assert "Nothing was imported: 1 rows have errors." in capsys.readouterr().err


def test_dry_run_saves_nothing(tmp_path):
    out, _ = run("import_customers", write(tmp_path, CUSTOMERS), "--dry-run")

    assert not Customer.objects.exists()
    assert "2 customers created" in out
    assert "Dry run: nothing was saved." in out


def test_a_file_without_the_key_column_is_refused(tmp_path):
    _, message = fail("import_customers", write(tmp_path, "姓名\n李娜\n"))

    assert "external_id" in message


def test_an_unknown_file_type_is_refused(tmp_path):
    _, message = fail("import_customers", write(tmp_path, CUSTOMERS, name="file.txt"))

    assert ".csv and .xlsx" in message


def test_a_gbk_csv_from_excel_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(CUSTOMERS.encode("gbk"))

    run("import_customers", str(path))

    assert Customer.objects.get(external_id="U2001").name == "李娜"


def test_it_imports_xlsx(tmp_path):
    workbook = openpyxl.Workbook()
    for line in CUSTOMERS.splitlines():
        workbook.active.append(line.split(","))
    workbook.active.append([])  # trailing empty rows are common in spreadsheets
    workbook.active.append(["U2004", "孙丽", 13500000000, None, None, None])
    workbook.save(tmp_path / "customers.xlsx")

    run("import_customers", str(tmp_path / "customers.xlsx"))

    assert Customer.objects.count() == 3
    assert Customer.objects.get(external_id="U2004").phone == "13500000000"


def test_it_creates_orders_with_items_and_totals(tmp_path):
    run("import_customers", write(tmp_path, CUSTOMERS))

    out, _ = run("import_orders", write(tmp_path, ORDERS, name="orders.csv"))

    order = Order.objects.get(number="SO-100")
    assert order.status == Order.Status.PAID
    assert order.customer.external_id == "U2001"
    assert order.total == Decimal("399") + Decimal("59.80") + 10 - 5
    assert [(i.product_name, i.quantity) for i in order.items.all()] == [
        ("无线蓝牙耳机 Pro", 1),
        ("Type-C 数据线", 2),
    ]
    assert timezone.localtime(Order.objects.get(number="SO-101").placed_at).day == 9
    assert "3 rows: 2 orders created, 0 updated, 0 unchanged, 3 items written" in out


def test_importing_orders_twice_changes_nothing(tmp_path):
    run("import_customers", write(tmp_path, CUSTOMERS))
    path = write(tmp_path, ORDERS, name="orders.csv")
    run("import_orders", path)
    before = snapshot()

    out, _ = run("import_orders", path)

    assert snapshot() == before
    assert "0 orders created, 0 updated, 2 unchanged, 0 items written" in out


def test_it_updates_orders_and_replaces_their_items(tmp_path, customer, make_order):
    make_order(customer, "SO-8", items=[("旧商品", 1, "100.00"), ("另一件", 1, "50.00")])

    out, _ = run(
        "import_orders", write(tmp_path, "订单号,状态,商品,数量,单价\nSO-8,已发货,新商品,3,10\n")
    )

    order = Order.objects.get(number="SO-8")
    assert order.status == Order.Status.SHIPPED
    assert [i.product_name for i in order.items.all()] == ["新商品"]
    assert order.total == Decimal("30.00")
    assert "0 orders created, 1 updated" in out


def test_an_order_file_without_item_columns_keeps_the_items(tmp_path, customer, make_order):
    make_order(customer, "SO-8", items=[("耳机", 1, "100.00")])

    run("import_orders", write(tmp_path, "订单号,运费\nSO-8,12\n"))

    order = Order.objects.get(number="SO-8")
    assert order.items.count() == 1
    assert order.total == Decimal("112.00")


def test_a_bad_order_row_imports_nothing_and_says_why(tmp_path):
    run("import_customers", write(tmp_path, CUSTOMERS))
    content = ORDERS + "SO-102,NOBODY,paid,0,0,,耳机,1,399\nSO-103,U2001,paid,0,0,,耳机,0,abc\n"

    report, message = fail("import_orders", write(tmp_path, content, name="orders.csv"))

    assert not Order.objects.exists()
    assert (
        "Row 4 (line 5 of the file): customer: No customer has the external ID “NOBODY”" in report
    )
    assert "Row 5 (line 6 of the file)" in report
    assert "quantity: The quantity must be at least 1." in report
    assert "unit_price: “abc” is not a number." in report
    assert message == "Nothing was imported: 2 rows have errors."


def test_an_order_whose_rows_disagree_is_an_error(tmp_path):
    run("import_customers", write(tmp_path, CUSTOMERS))
    content = ORDERS.replace("SO-100,,,", "SO-100,,已发货,")

    report, _ = fail("import_orders", write(tmp_path, content, name="orders.csv"))

    assert "Row 2 (line 3 of the file): status: “已发货” differs from “已付款” on line 2" in report
    assert not Order.objects.exists()


def test_the_command_and_the_admin_agree(tmp_path, customer, make_order):
    """The same file through both paths gives the same database."""
    make_order(customer, "SO-100", items=[("旧商品", 1, "100.00")])
    customers = CUSTOMERS + "U1001,张伟,138 0013 8000,zhangwei@example.com,,\n"

    def result():
        return (
            sorted(
                Customer.objects.values_list(
                    "external_id", "name", "phone", "email", "gender", "level"
                )
            ),
            sorted(
                Order.objects.values_list(
                    "number", "customer__external_id", "status", "total", "placed_at"
                )
            ),
            sorted(Order.objects.values_list("number", "items__product_name", "items__quantity")),
        )

    with transaction.atomic():
        CustomerResource().import_data(tablib.Dataset().load(customers, format="csv"))
        OrderResource().import_data(tablib.Dataset().load(ORDERS, format="csv"))
        through_admin = result()
        transaction.set_rollback(True)

    run("import_customers", write(tmp_path, customers))
    run("import_orders", write(tmp_path, ORDERS, name="orders.csv"))

    assert result() == through_admin

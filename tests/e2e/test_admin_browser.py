"""The back office in Chromium at 1280 px: the dashboard, the customer page's "add an order",
and the order form's total as items are typed."""

import pytest
from django.core.management import call_command

from customers.models import Customer

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_dashboard_draws_the_revenue_chart(staff_page, live_server, screenshot):
    call_command("seed_demo", customers=60, verbosity=0)
    page = staff_page
    page.goto(f"{live_server.url}/admin/")
    chart = page.locator("#revenue-chart")
    chart.wait_for()
    assert chart.locator("rect.column").count() == 30
    assert page.locator("#dashboard").get_by_text("今日").first.is_visible()
    # The dashboard fits the window: no horizontal scrolling at 1280 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "admin-dashboard.png")


def test_the_lists_and_the_customer_page_fit_1280_px(staff_page, live_server, screenshot):
    call_command("seed_demo", customers=60, verbosity=0)
    page = staff_page
    for path, name in [
        ("/admin/customers/customer/", "admin-customer-list.png"),
        ("/admin/orders/order/", "admin-order-list.png"),
    ]:
        page.goto(f"{live_server.url}{path}")
        page.locator("#result_list").wait_for()
        # The table fits the window: nothing hides behind a horizontal scrollbar.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, path
        screenshot(page, name)
    customer = Customer.objects.filter(orders__isnull=False).first()
    page.goto(f"{live_server.url}/admin/customers/customer/{customer.pk}/change/")
    page.locator("#add-order").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    screenshot(page, "admin-customer-change.png")


def test_an_order_added_from_the_customer_page_totals_as_items_are_typed(staff_page, live_server):
    customer = Customer.objects.create(name="王芳", phone="13912345678")
    page = staff_page
    page.goto(f"{live_server.url}/admin/customers/customer/{customer.pk}/change/")
    page.click("#add-order")
    page.wait_for_url("**/admin/orders/order/add/?customer=*")
    assert page.locator("#id_customer option:checked").inner_text() == "王芳"
    total = page.locator(".field-total .readonly")
    page.fill("#id_items-0-product_name", "无线蓝牙耳机 Pro")
    page.fill("#id_items-0-quantity", "2")
    page.fill("#id_items-0-unit_price", "399.50")
    assert total.inner_text() == "799.00"
    page.fill("#id_shipping_fee", "12")
    page.fill("#id_discount", "10.5")
    assert total.inner_text() == "800.50"
    page.fill("#id_items-0-unit_price", "")
    assert total.inner_text() == "—"
    page.fill("#id_items-0-unit_price", "399.50")
    page.fill("#id_number", "SO-20261127-1")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/orders/order/")
    order = customer.orders.get()
    assert str(order.total) == "800.50"

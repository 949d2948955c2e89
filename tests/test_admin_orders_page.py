"""The customer's page gives their order totals and an "add an order" link that preselects them;
the order page shows its total as items change (orders/static/orders/order_total.js)."""

from decimal import Decimal

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_customer_page_shows_order_totals_and_links_to_a_new_order_for_them(
    staff_client, customer, make_order
):
    make_order(customer, "SO-1", items=(("耳机", 2, "100.00"),))
    make_order(customer, "SO-2", status="cancelled", items=(("充电器", 1, "50.00"),))
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    html = staff_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").text
    assert "为该客户新增订单" in html
    add = f"{reverse('admin:orders_order_add')}?customer={customer.pk}"
    assert f'href="{add}"' in html
    # Two orders, 200.00 spent (the cancelled one is not).
    assert '<div class="readonly">2</div>' in html
    assert '<div class="readonly">200.00</div>' in html


def test_the_new_order_form_preselects_the_customer(staff_client, customer):
    add = reverse("admin:orders_order_add")
    html = staff_client.get(f"{add}?customer={customer.pk}").text
    assert f'<option value="{customer.pk}" selected>{customer.name}</option>' in html


@pytest.mark.parametrize("value", ["abc", "1 OR 1=1", "-1", ""])
def test_a_customer_parameter_that_is_no_id_is_ignored(staff_client, customer, value):
    response = staff_client.get(reverse("admin:orders_order_add"), {"customer": value})
    assert response.status_code == 200
    assert "selected>" not in response.text.split('id="id_customer"')[1].split("</select>")[0]


def test_the_order_page_loads_the_live_total(staff_client, customer, make_order):
    order = make_order(customer, "SO-3", items=(("耳机", 1, "399.00"),))
    html = staff_client.get(reverse("admin:orders_order_change", args=[order.pk])).text
    assert "orders/order_total.js" in html
    assert order.total == Decimal("399.00")

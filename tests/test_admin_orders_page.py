"""The customer's page gives their order totals and an "add an order" link that preselects them;
the order page shows its total as items change (orders/static/orders/order_total.js)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from orders.models import Order

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


def test_the_order_list_sums_the_listed_orders_per_currency(staff_client, customer, make_order):
    make_order(customer, "SO-1", items=(("耳机", 2, "100.00"),))
    make_order(customer, "SO-2", status="cancelled", items=(("充电器", 1, "50.00"),))
    usd = make_order(customer, "SO-3", items=(("Cable", 1, "9.90"),))
    Order.objects.filter(pk=usd.pk).update(currency="USD")
    url = reverse("admin:orders_order_changelist")
    html = staff_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").text
    assert "以上订单合计：" in html
    assert "¥250.00（2 个订单）" in html
    assert "USD 9.90（1 个订单）" in html
    # A filter narrows the sum with the list.
    html = staff_client.get(url, {"status__exact": "cancelled"}, HTTP_ACCEPT_LANGUAGE="en").text
    assert "These orders:" in html and "¥50.00 (1 order)" in html


def test_a_list_past_the_exact_count_shows_no_sum(staff_client, customer, make_order, monkeypatch):
    from orders.admin import EstimatedCountPaginator

    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_UP_TO", 1)
    make_order(customer, "SO-1")
    make_order(customer, "SO-2")
    html = staff_client.get(
        reverse("admin:orders_order_changelist"), HTTP_ACCEPT_LANGUAGE="en"
    ).text
    assert "to see their sum" in html
    assert "These orders:" not in html


def test_a_long_visitor_id_and_session_id_are_cut_in_the_lists(staff_client, customer):
    from customers.models import Note, VisitorIdentity

    long_id = "webim-visitor-" + "X" * 240
    VisitorIdentity.objects.create(visitor_im_id=long_id, customer=customer)
    Note.objects.create(customer=customer, body="回电", ssid="S" * 100)
    html = staff_client.get(reverse("admin:customers_visitoridentity_changelist")).text
    assert f'<span class="crm-truncate" title="{long_id}">' in html
    html = staff_client.get(reverse("admin:customers_note_changelist")).text
    assert f'<span class="crm-truncate" title="{"S" * 100}">' in html


def test_the_tag_pickers_buttons_speak_chinese(staff_client):
    catalog = staff_client.get("/admin/jsi18n/", HTTP_ACCEPT_LANGUAGE="zh-hans").text
    assert '"Choose all %s": "\\u5168\\u9009%s"' in catalog or "全选%s" in catalog
    assert "删除全部%s" in catalog or "\\u5220\\u9664\\u5168\\u90e8%s" in catalog

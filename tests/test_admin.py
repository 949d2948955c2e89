import pytest
from django.urls import reverse

from customers.models import Customer, Note, VisitorIdentity
from orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def en(settings):
    """Admin pages in English, so assertions read the same whatever the default language."""
    return {"HTTP_ACCEPT_LANGUAGE": "en"}


def test_customer_changelist_lists_customers(staff_client, customer, en):
    response = staff_client.get(reverse("admin:customers_customer_changelist"), **en)
    assert response.status_code == 200
    assert "张伟" in response.text
    assert "13800138000" in response.text


@pytest.mark.parametrize(
    "query",
    ["张伟", "13800138000", "zhangwei@example.com", "U1001", "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"],
)
def test_customer_search_finds_by_name_phone_email_external_id_and_visitor_id(
    staff_client, customer, visitor, query, en
):
    Customer.objects.create(name="李娜", phone="13900000000", email="lina@example.com")
    response = staff_client.get(reverse("admin:customers_customer_changelist"), {"q": query}, **en)
    assert response.status_code == 200
    assert "张伟" in response.text
    assert "李娜" not in response.text


def test_customer_filters_by_level_and_channel(staff_client, customer, visitor, en):
    Customer.objects.create(name="李娜", level=Customer.Level.GOLD)
    url = reverse("admin:customers_customer_changelist")
    response = staff_client.get(url, {"level__exact": "gold"}, **en)
    assert "李娜" in response.text and "张伟" not in response.text
    response = staff_client.get(url, {"visitor_identities__channel": "web"}, **en)
    assert "张伟" in response.text and "李娜" not in response.text


def test_customer_change_page_shows_identities_notes_and_linked_orders(
    staff_client, customer, visitor, make_order, en
):
    order = make_order(customer, "SO-20261101-0001")
    Note.objects.create(customer=customer, body="客户要求周末送货", agent_name="客服小美")
    response = staff_client.get(
        reverse("admin:customers_customer_change", args=[customer.pk]), **en
    )
    assert response.status_code == 200
    assert visitor.visitor_im_id in response.text
    assert "客户要求周末送货" in response.text
    assert reverse("admin:orders_order_change", args=[order.pk]) in response.text
    assert "SO-20261101-0001" in response.text


def test_customer_add_page_renders_and_creates(staff_client, en):
    url = reverse("admin:customers_customer_add")
    assert "external_id" in staff_client.get(url, **en).text
    data = {
        "name": "王芳",
        "gender": "female",
        "level": "regular",
        "phone": "+86 139-0000-1111",
        "external_id": "U2002",
        "visitor_identities-TOTAL_FORMS": "1",
        "visitor_identities-INITIAL_FORMS": "0",
        "visitor_identities-0-visitor_im_id": "oAbCdEfGhIjKlMnOpQrStUvWxYz1",
        "visitor_identities-0-channel": "wechat",
        "visitor_identities-0-bound_via": "staff",
        "notes-TOTAL_FORMS": "1",
        "notes-INITIAL_FORMS": "0",
        "notes-0-body": "首次来电咨询",
        "orders-TOTAL_FORMS": "0",
        "orders-INITIAL_FORMS": "0",
        "follow_ups-TOTAL_FORMS": "0",
        "follow_ups-INITIAL_FORMS": "0",
    }
    response = staff_client.post(url, data, **en)
    assert response.status_code == 302, response.text
    created = Customer.objects.get(external_id="U2002")
    assert created.phone == "13900001111"
    assert created.visitor_identities.get().channel == "wechat"
    note = created.notes.get()
    assert note.author.username == "boss"


def test_customer_add_rejects_a_duplicate_external_id(staff_client, customer, en):
    data = {
        "name": "假张伟",
        "gender": "unknown",
        "level": "regular",
        "external_id": "U1001",
        "visitor_identities-TOTAL_FORMS": "0",
        "visitor_identities-INITIAL_FORMS": "0",
        "notes-TOTAL_FORMS": "0",
        "notes-INITIAL_FORMS": "0",
        "orders-TOTAL_FORMS": "0",
        "orders-INITIAL_FORMS": "0",
    }
    response = staff_client.post(reverse("admin:customers_customer_add"), data, **en)
    assert response.status_code == 200
    assert "Another customer already has this external ID." in response.text
    assert Customer.objects.filter(external_id="U1001").count() == 1


def test_order_changelist_search_by_number_and_customer_phone(
    staff_client, customer, make_order, en
):
    other = Customer.objects.create(name="李娜", phone="13900000000")
    make_order(customer, "SO-A")
    make_order(other, "SO-B")
    url = reverse("admin:orders_order_changelist")
    response = staff_client.get(url, {"q": "SO-A"}, **en)
    assert "SO-A" in response.text and "SO-B" not in response.text
    response = staff_client.get(url, {"q": "13900000000"}, **en)
    assert "SO-B" in response.text and "SO-A" not in response.text


def test_order_changelist_filters_by_status(staff_client, customer, make_order, en):
    make_order(customer, "SO-PAID", status=Order.Status.PAID)
    make_order(customer, "SO-REFUNDED", status=Order.Status.REFUNDED)
    response = staff_client.get(
        reverse("admin:orders_order_changelist"), {"status__exact": "refunded"}, **en
    )
    assert "SO-REFUNDED" in response.text and "SO-PAID" not in response.text


def test_order_changelist_query_count_does_not_grow_with_rows(
    staff_client, customer, make_order, django_assert_max_num_queries, en
):
    for n in range(30):
        make_order(Customer.objects.create(name=f"客户{n}"), f"SO-{n:03d}")
    with django_assert_max_num_queries(12):
        response = staff_client.get(reverse("admin:orders_order_changelist"), **en)
    assert "SO-029" in response.text


def test_order_add_with_items_computes_the_total(staff_client, customer, en):
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
    response = staff_client.post(reverse("admin:orders_order_add"), data, **en)
    assert response.status_code == 302, response.text
    order = Order.objects.get(number="SO-NEW")
    assert str(order.total) == "999.90"
    assert order.items.count() == 2


def test_order_change_page_shows_items(staff_client, customer, make_order, en):
    order = make_order(customer, "SO-C", items=[("空气净化器 X3", 1, "1899.00")])
    response = staff_client.get(reverse("admin:orders_order_change", args=[order.pk]), **en)
    assert "空气净化器 X3" in response.text
    assert "1899.00" in response.text


def test_bulk_status_action_marks_orders_and_stamps_times(staff_client, customer, make_order, en):
    first = make_order(customer, "SO-X", status=Order.Status.PENDING)
    second = make_order(customer, "SO-Y", status=Order.Status.PENDING)
    response = staff_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_shipped", "_selected_action": [first.pk, second.pk]},
        follow=True,
        **en,
    )
    assert "2 orders marked as Shipped." in response.text
    for order in Order.objects.filter(pk__in=[first.pk, second.pk]):
        assert order.status == "shipped"
        assert order.paid_at is not None and order.shipped_at is not None


def test_visitor_identity_admin_searches_by_visitor_id(staff_client, visitor, en):
    response = staff_client.get(
        reverse("admin:customers_visitoridentity_changelist"),
        {"q": visitor.visitor_im_id},
        **en,
    )
    assert "张伟" in response.text


def test_visitor_info_is_read_only(staff_client, en):
    from iframe_panel.models import VisitorInfo

    info = VisitorInfo.objects.create(visitor_im_id="webim-visitor-1", params={"name": "Jack"})
    assert staff_client.get(reverse("admin:iframe_panel_visitorinfo_add"), **en).status_code == 403
    response = staff_client.get(
        reverse("admin:iframe_panel_visitorinfo_change", args=[info.pk]), **en
    )
    assert response.status_code == 200
    assert "Jack" in response.text
    assert 'name="params"' not in response.text


def test_admin_speaks_chinese_by_default(staff_client, customer):
    response = staff_client.get(reverse("admin:customers_customer_changelist"))
    assert '<html lang="zh-hans"' in response.text
    assert "客户" in response.text


@pytest.mark.parametrize(
    "url_name",
    ["admin:customers_customer_changelist", "admin:orders_order_changelist"],
)
def test_non_staff_are_refused(client, django_user_model, url_name):
    user = django_user_model.objects.create_user("agent", password="pw-123456")
    client.force_login(user)
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_anonymous_are_sent_to_login(client):
    response = client.get(reverse("admin:customers_customer_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_visitor_identity_unique_message_in_admin(staff_client, visitor, en):
    other = Customer.objects.create(name="李娜")
    response = staff_client.post(
        reverse("admin:customers_visitoridentity_add"),
        {
            "visitor_im_id": visitor.visitor_im_id,
            "customer": other.pk,
            "channel": "web",
            "bound_via": "staff",
            "first_seen_at_0": "2026-11-01",
            "first_seen_at_1": "10:00:00",
            "last_seen_at_0": "2026-11-01",
            "last_seen_at_1": "10:00:00",
        },
        **en,
    )
    assert response.status_code == 200
    assert "This visitor ID is already linked to a customer." in response.text
    assert (
        VisitorIdentity.objects.get(visitor_im_id=visitor.visitor_im_id).customer
        == visitor.customer
    )

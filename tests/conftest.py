from decimal import Decimal

import pytest
from django.utils import translation

from customers.models import Customer, VisitorIdentity
from orders.models import Order, OrderItem


@pytest.fixture(autouse=True)
def english_outside_requests():
    """Messages built outside a request (model validation, commands) in one known language;
    requests still choose theirs (Accept-Language in the admin, `lang` in the panel)."""
    with translation.override("en"):
        yield


@pytest.fixture
def customer(db):
    return Customer.objects.create(
        name="张伟",
        nickname="小伟",
        phone="138 0013 8000",
        email="ZhangWei@Example.com",
        external_id="U1001",
        company="杭州云帆科技有限公司",
        address="杭州市西湖区文三路478号",
    )


@pytest.fixture
def make_order(db):
    def make(
        customer, number, status=Order.Status.PAID, items=(("无线蓝牙耳机 Pro", 1, "399.00"),)
    ):
        order = Order.objects.create(number=number, customer=customer, status=status)
        for name, quantity, price in items:
            OrderItem.objects.create(
                order=order, product_name=name, quantity=quantity, unit_price=Decimal(price)
            )
        order.refresh_from_db()
        return order

    return make


@pytest.fixture
def visitor(customer):
    return VisitorIdentity.objects.create(
        visitor_im_id="webim-visitor-8K2FTG9QTYWRT8EYVJ7F",
        customer=customer,
        channel=VisitorIdentity.Channel.WEB,
    )


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-123456")
    client.force_login(user)
    return client

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from customers.models import Customer, VisitorIdentity
from customers.phones import normalize_phone
from orders.models import Order, OrderItem

pytestmark = pytest.mark.django_db


def test_customer_phone_and_email_are_normalized_on_save(customer):
    customer.refresh_from_db()
    assert customer.phone == "13800138000"
    assert customer.email == "zhangwei@example.com"


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("008613800138000", "13800138000"),
        ("８６１３８００１３８０００", "13800138000"),
        ("(0571) 8888-6666", "057188886666"),
        ("+1 415 555 0100", "+14155550100"),
        ("no digits", ""),
    ],
)
def test_normalize_phone(typed, stored):
    assert normalize_phone(typed) == stored


def test_external_id_is_unique_with_a_clear_message(customer):
    duplicate = Customer(name="李娜", external_id="U1001")
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert "Another customer already has this external ID." in str(excinfo.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_many_customers_may_have_no_external_id(db):
    Customer.objects.create(name="王芳")
    Customer.objects.create(name="刘洋")
    assert Customer.objects.filter(external_id="").count() == 2


def test_visitor_id_is_unique_with_a_clear_message(visitor, customer):
    other = Customer.objects.create(name="李娜")
    duplicate = VisitorIdentity(visitor_im_id=visitor.visitor_im_id, customer=other)
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert "This visitor ID is already linked to a customer." in str(excinfo.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_order_number_is_unique_with_a_clear_message(customer, make_order):
    make_order(customer, "SO-1")
    duplicate = Order(number="SO-1", customer=customer)
    with pytest.raises(ValidationError) as excinfo:
        duplicate.full_clean()
    assert "An order with this number already exists." in str(excinfo.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


def test_order_total_follows_its_items(customer, make_order):
    order = make_order(customer, "SO-2", items=[("耳机", 2, "399.00"), ("充电器", 1, "129.00")])
    assert order.total == Decimal("927.00")

    item = order.items.get(product_name="充电器")
    item.quantity = 3
    item.save()
    order.refresh_from_db()
    assert order.total == Decimal("1185.00")

    item.delete()
    order.refresh_from_db()
    assert order.total == Decimal("798.00")


def test_order_total_includes_shipping_and_discount(customer, make_order):
    order = make_order(customer, "SO-3", items=[("绿茶", 1, "88.00")])
    order.shipping_fee = Decimal("12.00")
    order.discount = Decimal("10.00")
    order.save()
    order.refresh_from_db()
    assert order.total == Decimal("90.00")


def test_discount_larger_than_the_order_is_refused(customer, make_order):
    order = make_order(customer, "SO-4", items=[("绿茶", 1, "88.00")])
    order.discount = Decimal("100.00")
    with pytest.raises(ValidationError) as excinfo:
        order.full_clean()
    assert "discount" in excinfo.value.message_dict


@pytest.mark.parametrize(
    "field, value",
    [("shipping_fee", Decimal("-1")), ("discount", Decimal("-0.01"))],
)
def test_negative_order_amounts_are_refused_by_the_database(customer, field, value):
    order = Order(number="SO-5", customer=customer, **{field: value})
    with pytest.raises(ValidationError):
        order.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.bulk_create([order])


@pytest.mark.parametrize(
    "field, value",
    [("quantity", 0), ("unit_price", Decimal("-5.00"))],
)
def test_bad_item_quantity_or_price_is_refused_by_the_database(customer, make_order, field, value):
    order = make_order(customer, "SO-6")
    values = {"quantity": 1, "unit_price": Decimal("1.00"), field: value}
    item = OrderItem(order=order, product_name="x", **values)
    with pytest.raises(ValidationError):
        item.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderItem.objects.bulk_create([item])


def test_deleting_a_customer_with_orders_is_refused(customer, make_order):
    from django.db.models import ProtectedError

    make_order(customer, "SO-7")
    with pytest.raises(ProtectedError):
        customer.delete()


def _index_columns(table):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return [tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]]


def test_lookup_indexes_exist():
    customer_indexes = _index_columns(Customer._meta.db_table)
    for column in ("phone", "email", "external_id"):
        assert (column,) in customer_indexes
    assert ("visitor_im_id",) in _index_columns(VisitorIdentity._meta.db_table)
    order_indexes = _index_columns(Order._meta.db_table)
    assert ("number",) in order_indexes
    assert ("customer_id", "placed_at") in order_indexes

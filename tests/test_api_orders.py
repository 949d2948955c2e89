import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import IntegrationToken
from orders.models import Order, OrderItem

PAYLOAD = {
    "customer": "U1001",
    "status": "paid",
    "items": [
        {
            "product_name": "无线蓝牙耳机 Pro",
            "sku": "BT-PRO",
            "quantity": 2,
            "unit_price": "399.00",
        },
        {"product_name": "充电线", "quantity": 1, "unit_price": 29.9},
    ],
    "shipping_fee": "10.00",
    "discount": "20.00",
    "placed_at": "2026-03-01T10:30:00+08:00",
    "paid_at": "2026-03-01T10:31:05+08:00",
    "recipient": "张伟",
    "shipping_address": "杭州市西湖区文三路478号",
}


@pytest.fixture
def api(db):
    token = IntegrationToken(name="Shop")
    raw = token.set_new_token()
    token.save()
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def put(api, number, payload):
    return api.put(f"/api/v1/orders/{number}/", payload, format="json")


def state():
    """Everything the API can change, to compare before and after."""
    orders = list(Order.objects.order_by("pk").values())
    items = list(OrderItem.objects.order_by("pk").values())
    return orders, items


def test_it_creates_an_order(api, customer):
    response = put(api, "SO20260301001", PAYLOAD)
    assert response.status_code == 201
    order = Order.objects.get(number="SO20260301001")
    assert order.customer == customer
    assert order.status == Order.Status.PAID
    assert str(order.total) == "817.90"
    assert [(i.product_name, i.quantity, str(i.unit_price)) for i in order.items.all()] == [
        ("无线蓝牙耳机 Pro", 2, "399.00"),
        ("充电线", 1, "29.90"),
    ]
    body = response.json()
    assert body["number"] == "SO20260301001"
    assert body["customer"] == "U1001"
    assert body["total"] == "817.90"
    assert body["placed_at"] == "2026-03-01T10:30:00+08:00"
    assert body["items"][0]["line_total"] == "798.00"


def test_it_is_idempotent(api, customer):
    put(api, "SO1", PAYLOAD)
    before = state()
    response = put(api, "SO1", PAYLOAD)
    assert response.status_code == 200
    assert state() == before


def test_it_replaces_items_as_a_whole(api, customer):
    put(api, "SO1", PAYLOAD)
    response = put(
        api, "SO1", {**PAYLOAD, "items": [{"product_name": "保温杯", "unit_price": "59.00"}]}
    )
    assert response.status_code == 200
    order = Order.objects.get(number="SO1")
    assert list(order.items.values_list("product_name", "quantity")) == [("保温杯", 1)]
    assert str(order.total) == "49.00"
    assert OrderItem.objects.count() == 1


def test_it_updates_fields_and_keeps_items(api, customer):
    put(api, "SO1", PAYLOAD)
    item_pks = list(OrderItem.objects.values_list("pk", flat=True))
    shipped = {**PAYLOAD, "status": "shipped", "carrier": "顺丰", "tracking_number": "SF123"}
    assert put(api, "SO1", shipped).status_code == 200
    order = Order.objects.get(number="SO1")
    assert order.status == Order.Status.SHIPPED
    assert order.tracking_number == "SF123"
    assert list(OrderItem.objects.values_list("pk", flat=True)) == item_pks


def test_it_keeps_left_out_fields(api, customer):
    put(api, "SO1", PAYLOAD)
    put(api, "SO1", {"customer": "U1001", "items": PAYLOAD["items"]})
    order = Order.objects.get(number="SO1")
    assert order.recipient == "张伟"
    assert str(order.discount) == "20.00"
    assert str(order.total) == "817.90"


def test_it_moves_an_order_to_another_customer(api, customer):
    from customers.models import Customer

    other = Customer.objects.create(name="王芳", external_id="U1002")
    put(api, "SO1", PAYLOAD)
    assert put(api, "SO1", {**PAYLOAD, "customer": "U1002"}).status_code == 200
    assert Order.objects.get(number="SO1").customer == other


def test_it_accepts_a_matching_total(api, customer):
    response = put(api, "SO1", {**PAYLOAD, "total": "817.90"})
    assert response.status_code == 201


def test_it_rejects_a_total_that_contradicts_the_items(api, customer):
    response = put(api, "SO1", {**PAYLOAD, "total": "1.00"})
    assert response.status_code == 400
    assert "817.90" in response.json()["total"][0]
    assert not Order.objects.exists()


def test_it_rejects_a_discount_larger_than_the_order(api, customer):
    response = put(api, "SO1", {**PAYLOAD, "discount": "9999.00"})
    assert response.status_code == 400
    assert "discount" in response.json()
    assert not Order.objects.exists()


def test_it_rejects_a_total_too_large_to_store(api, customer):
    items = [{"product_name": "金条", "quantity": 2147483647, "unit_price": "9999999999.99"}]
    response = put(api, "SO1", {**PAYLOAD, "items": items})
    assert response.status_code == 400
    assert "items" in response.json()
    assert not Order.objects.exists()


def test_it_rejects_an_unknown_customer(api, customer):
    response = put(api, "SO1", {**PAYLOAD, "customer": "U404"})
    assert response.status_code == 400
    assert "U404" in response.json()["customer"][0]
    assert not Order.objects.exists()


def test_it_rejects_a_customer_without_external_id(api, customer):
    response = put(api, "SO1", {**PAYLOAD, "customer": ""})
    assert response.status_code == 400
    assert "customer" in response.json()


def test_it_requires_items(api, customer):
    response = put(api, "SO1", {key: v for key, v in PAYLOAD.items() if key != "items"})
    assert response.status_code == 400
    assert "items" in response.json()


def test_it_rejects_an_empty_item_list(api, customer):
    response = put(api, "SO1", {**PAYLOAD, "items": []})
    assert response.status_code == 400
    assert "items" in response.json()


@pytest.mark.parametrize(
    "item",
    [
        {"product_name": "杯子", "quantity": 0, "unit_price": "1.00"},
        {"product_name": "杯子", "quantity": 1.5, "unit_price": "1.00"},
        {"product_name": "杯子", "quantity": 10**30, "unit_price": "1.00"},
        {"product_name": "杯子", "quantity": "many", "unit_price": "1.00"},
        {"product_name": "杯子", "quantity": 1, "unit_price": "-1.00"},
        {"product_name": "杯子", "quantity": 1, "unit_price": "1.001"},
        {"product_name": "杯子", "quantity": 1, "unit_price": "1e400"},
        {"product_name": "杯子", "quantity": 1, "unit_price": "NaN"},
        {"product_name": "杯子", "quantity": 1, "unit_price": 1e308},
        {"product_name": "杯子", "quantity": 1, "unit_price": {"amount": 1}},
        {"product_name": "", "quantity": 1, "unit_price": "1.00"},
        {"quantity": 1, "unit_price": "1.00"},
        "杯子",
        None,
    ],
)
def test_it_rejects_bad_items(api, customer, item):
    response = put(api, "SO1", {**PAYLOAD, "items": [item]})
    assert response.status_code == 400
    assert "items" in response.json()
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"status": "lost"}, "status"),
        ({"currency": "rmb"}, "currency"),
        ({"shipping_fee": "-5"}, "shipping_fee"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"placed_at": 1700000000}, "placed_at"),
        ({"placed_at": "0001-01-01T00:00:00+14:00"}, "placed_at"),
        ({"customer": {"external_id": "U1001"}}, "customer"),
        ({"customer": "U\x001001"}, "customer"),
    ],
)
def test_it_rejects_bad_fields(api, customer, changes, field):
    response = put(api, "SO1", {**PAYLOAD, **changes})
    assert response.status_code == 400
    assert field in response.json()
    assert not Order.objects.exists()


def test_it_rejects_lone_surrogates(api, customer):
    body = json.dumps({**PAYLOAD, "remarks": "\ud800"})
    response = api.generic("PUT", "/api/v1/orders/SO1/", body, content_type="application/json")
    assert response.status_code == 400
    assert "remarks" in response.json()


def test_a_rejected_update_changes_nothing(api, customer):
    put(api, "SO1", PAYLOAD)
    before = state()
    response = put(api, "SO1", {**PAYLOAD, "items": [], "status": "refunded"})
    assert response.status_code == 400
    assert state() == before


def test_it_rejects_non_json(api, customer):
    response = api.generic(
        "PUT", "/api/v1/orders/SO1/", b"\xff\xfe", content_type="application/json"
    )
    assert response.status_code == 400


@pytest.mark.parametrize("number", ["SO%001", " SO1", "SO%091", "S" * 65])
def test_it_rejects_bad_order_numbers(api, customer, number):
    response = put(api, number, PAYLOAD)
    assert response.status_code == 400
    assert "number" in response.json()
    assert not Order.objects.exists()


def test_it_requires_a_token(customer):
    response = APIClient().put("/api/v1/orders/SO1/", PAYLOAD, format="json")
    assert response.status_code == 401
    assert not Order.objects.exists()


def test_it_rejects_a_revoked_token(api, customer):
    IntegrationToken.objects.update(revoked_at=timezone.now())
    assert put(api, "SO1", PAYLOAD).status_code == 401
    assert not Order.objects.exists()


def test_it_reads_an_order(api, customer, make_order):
    make_order(customer, "SO1")
    response = api.get("/api/v1/orders/SO1/")
    assert response.status_code == 200
    body = response.json()
    assert body["customer"] == "U1001"
    assert body["total"] == "399.00"
    assert body["items"][0]["unit_price"] == "399.00"


def test_it_reads_an_unknown_order_as_404(api):
    assert api.get("/api/v1/orders/SO404/").status_code == 404

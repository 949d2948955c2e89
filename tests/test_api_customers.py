from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import IntegrationToken
from customers.models import Customer, Tag

PAYLOAD = {
    "name": "李娜",
    "phone": "+86 139-1234-5678",
    "email": "LiNa@Example.com",
    "gender": "female",
    "level": "gold",
    "company": "上海星河贸易有限公司",
    "tags": ["VIP", "回头客"],
}


@pytest.fixture
def api(db):
    token = IntegrationToken(name="Shop")
    raw = token.set_new_token()
    token.save()
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def put(api, external_id, payload):
    return api.put(f"/api/v1/customers/{external_id}/", payload, format="json")


def test_it_creates_a_customer(api):
    response = put(api, "U2001", PAYLOAD)
    assert response.status_code == 201
    customer = Customer.objects.get(external_id="U2001")
    assert customer.name == "李娜"
    assert customer.phone == "13912345678"
    assert customer.email == "lina@example.com"
    assert customer.level == Customer.Level.GOLD
    assert sorted(customer.tags.values_list("name", flat=True)) == ["VIP", "回头客"]
    body = response.json()
    assert body["external_id"] == "U2001"
    assert body["phone"] == "13912345678"
    assert sorted(body["tags"]) == ["VIP", "回头客"]


def test_it_updates_a_customer(api, customer):
    response = put(api, "U1001", {"name": "张伟伟", "level": "silver"})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.name == "张伟伟"
    assert customer.level == Customer.Level.SILVER
    # Fields left out keep their value.
    assert customer.company == "杭州云帆科技有限公司"
    assert Customer.objects.count() == 1


def test_it_is_idempotent(api):
    put(api, "U2001", PAYLOAD)
    first = Customer.objects.get(external_id="U2001")
    response = put(api, "U2001", PAYLOAD)
    assert response.status_code == 200
    second = Customer.objects.get(external_id="U2001")
    assert Customer.objects.count() == 1
    assert Tag.objects.count() == 2
    assert second.updated_at == first.updated_at
    assert response.json()["updated_at"] == put(api, "U2001", PAYLOAD).json()["updated_at"]


def test_an_unchanged_phone_in_another_notation_is_no_change(api, customer):
    before = customer.updated_at
    put(api, "U1001", {"name": "张伟", "phone": "+86 138-0013-8000"})
    customer.refresh_from_db()
    assert customer.updated_at == before


def test_it_replaces_tags(api):
    put(api, "U2001", PAYLOAD)
    put(api, "U2001", {"name": "李娜", "tags": ["新客"]})
    customer = Customer.objects.get(external_id="U2001")
    assert list(customer.tags.values_list("name", flat=True)) == ["新客"]


def test_it_keeps_tags_when_left_out(api):
    put(api, "U2001", PAYLOAD)
    put(api, "U2001", {"name": "李娜"})
    assert Customer.objects.get(external_id="U2001").tags.count() == 2


def test_it_requires_a_name(api):
    response = put(api, "U2001", {"phone": "13912345678"})
    assert response.status_code == 400
    assert "name" in response.json()
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "李娜", "email": "not-an-email"}, "email"),
        ({"name": "李娜", "gender": "robot"}, "gender"),
        ({"name": "李娜", "level": 7}, "level"),
        ({"name": "x" * 101}, "name"),
        ({"name": ["李娜"]}, "name"),
        ({"name": {"first": "娜"}}, "name"),
        ({"name": None}, "name"),
        ({"name": "李\x00娜"}, "name"),
        ({"name": "李娜", "tags": "VIP"}, "tags"),
        ({"name": "李娜", "tags": [{"name": "VIP"}]}, "tags"),
        ({"name": "李娜", "tags": ["x" * 51]}, "tags"),
    ],
)
def test_it_rejects_bad_fields(api, payload, field):
    response = put(api, "U2001", payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not Customer.objects.exists()


def test_it_rejects_a_list_body(api):
    response = put(api, "U2001", [PAYLOAD])
    assert response.status_code == 400
    assert not Customer.objects.exists()


def test_it_rejects_non_json(api):
    response = api.generic(
        "PUT", "/api/v1/customers/U2001/", "name=李娜", content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()


def test_it_rejects_form_data(api):
    response = api.put("/api/v1/customers/U2001/", {"name": "李娜"})
    assert response.status_code == 415


def test_it_rejects_deeply_nested_json(api):
    body = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api.generic("PUT", "/api/v1/customers/U2001/", body, content_type="application/json")
    assert response.status_code == 400


def test_it_rejects_a_body_over_the_upload_limit(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = put(api, "U2001", {"name": "李娜", "remarks": "长" * 1000})
    assert response.status_code == 413
    assert not Customer.objects.exists()


@pytest.mark.parametrize("external_id", [" U2001", "U2001%20", "U%00", "U%0A1", "U" * 129])
def test_it_rejects_bad_external_ids(api, external_id):
    response = put(api, external_id, PAYLOAD)
    assert response.status_code == 400
    assert "external_id" in response.json()
    assert not Customer.objects.exists()


def test_it_ignores_a_sent_external_id(api):
    response = put(api, "U2001", {**PAYLOAD, "external_id": "U9999"})
    assert response.status_code == 201
    assert Customer.objects.get().external_id == "U2001"


def test_it_requires_a_token(db):
    response = APIClient().put("/api/v1/customers/U2001/", PAYLOAD, format="json")
    assert response.status_code == 401
    assert not Customer.objects.exists()


def test_it_rejects_a_revoked_token(api):
    IntegrationToken.objects.update(revoked_at=timezone.now())
    response = put(api, "U2001", PAYLOAD)
    assert response.status_code == 401
    assert not Customer.objects.exists()


def test_it_reads_a_customer_with_recent_orders(api, customer, make_order, visitor):
    for n in range(12):
        order = make_order(customer, f"SO{n:04d}")
        order.placed_at = timezone.now() - timedelta(days=n)
        order.save()
    response = api.get("/api/v1/customers/U1001/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "张伟"
    assert body["email"] == "zhangwei@example.com"
    assert [o["number"] for o in body["recent_orders"]] == [f"SO{n:04d}" for n in range(10)]
    first = body["recent_orders"][0]
    assert first["customer"] == "U1001"
    assert first["total"] == "399.00"
    assert first["items"] == [
        {
            "product_name": "无线蓝牙耳机 Pro",
            "sku": "",
            "quantity": 1,
            "unit_price": "399.00",
            "line_total": "399.00",
        }
    ]
    assert body["visitor_ids"][0]["visitor_im_id"] == visitor.visitor_im_id


def test_it_writes_times_in_iso_8601(api, customer):
    created_at = api.get("/api/v1/customers/U1001/").json()["created_at"]
    assert timezone.datetime.fromisoformat(created_at) == customer.created_at


def test_it_reads_an_unknown_customer_as_404(api):
    response = api.get("/api/v1/customers/U404/")
    assert response.status_code == 404
    assert response.json()["detail"] == "No customer has this external ID."


def test_it_does_not_read_customers_without_a_token(customer):
    assert APIClient().get("/api/v1/customers/U1001/").status_code == 401


def test_it_lists_customers(api, customer):
    Customer.objects.create(name="王芳", phone="13700001111", external_id="U1002")
    response = api.get("/api/v1/customers/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [c["external_id"] for c in body["results"]] == ["U1001", "U1002"]


def test_it_paginates(api, customer):
    for n in range(3):
        Customer.objects.create(name=f"客户{n}", external_id=f"P{n}")
    body = api.get("/api/v1/customers/", {"page_size": 2, "page": 2}).json()
    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert body["previous"] is not None


def test_it_answers_404_past_the_last_page(api, customer):
    assert api.get("/api/v1/customers/", {"page": 5}).status_code == 404


def test_it_filters_by_phone_in_any_notation(api, customer):
    Customer.objects.create(name="王芳", phone="13700001111", external_id="U1002")
    body = api.get("/api/v1/customers/", {"phone": "+86 138 0013 8000"}).json()
    assert [c["external_id"] for c in body["results"]] == ["U1001"]


def test_a_phone_filter_without_digits_finds_nobody(api, customer):
    Customer.objects.create(name="王芳", external_id="U1002")
    body = api.get("/api/v1/customers/", {"phone": "abc"}).json()
    assert body["count"] == 0


def test_it_filters_by_email_ignoring_case(api, customer):
    body = api.get("/api/v1/customers/", {"email": "ZHANGWEI@example.com"}).json()
    assert [c["external_id"] for c in body["results"]] == ["U1001"]


def test_it_filters_by_updated_since(api, customer):
    old = timezone.now() - timedelta(days=30)
    Customer.objects.filter(pk=customer.pk).update(updated_at=old)
    Customer.objects.create(name="王芳", external_id="U1002")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    body = api.get("/api/v1/customers/", {"updated_since": since}).json()
    assert [c["external_id"] for c in body["results"]] == ["U1002"]


def test_it_rejects_a_bad_updated_since(api):
    response = api.get("/api/v1/customers/", {"updated_since": "yesterday"})
    assert response.status_code == 400
    assert "updated_since" in response.json()


def test_it_rejects_a_nul_in_a_filter(api):
    response = api.get("/api/v1/customers/", {"email": "a\x00@example.com"})
    assert response.status_code == 400

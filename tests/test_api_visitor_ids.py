import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import IntegrationToken
from customers.models import Customer, VisitorIdentity

URL = "/api/v1/customers/U1001/visitor-ids/"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture
def api(db):
    token = IntegrationToken(name="Shop")
    raw = token.set_new_token()
    token.save()
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def other(db):
    return Customer.objects.create(name="王芳", external_id="U1002")


def bind(api, payload, url=URL):
    return api.post(url, payload, format="json")


def test_it_binds_a_visitor_id(api, customer):
    response = bind(api, {"visitor_im_id": OPENID, "channel": "wechat"})
    assert response.status_code == 201
    identity = VisitorIdentity.objects.get(visitor_im_id=OPENID)
    assert identity.customer == customer
    assert identity.channel == VisitorIdentity.Channel.WECHAT
    assert identity.bound_via == VisitorIdentity.BoundVia.API
    assert response.json()["bound_via"] == "api"


def test_channel_defaults_to_other(api, customer):
    bind(api, {"visitor_im_id": OPENID})
    assert VisitorIdentity.objects.get().channel == VisitorIdentity.Channel.OTHER


def test_binding_again_to_the_same_customer_is_idempotent(api, customer):
    bind(api, {"visitor_im_id": OPENID, "channel": "wechat"})
    before = list(VisitorIdentity.objects.values())
    response = bind(api, {"visitor_im_id": OPENID, "channel": "wechat"})
    assert response.status_code == 200
    assert list(VisitorIdentity.objects.values()) == before


def test_binding_again_keeps_how_it_was_first_bound(api, customer, visitor):
    response = bind(api, {"visitor_im_id": visitor.visitor_im_id, "channel": "web"})
    assert response.status_code == 200
    visitor.refresh_from_db()
    assert visitor.bound_via == VisitorIdentity.BoundVia.STAFF


def test_it_refuses_a_visitor_id_bound_to_another_customer(api, customer, other):
    VisitorIdentity.objects.create(visitor_im_id=OPENID, customer=other)
    response = bind(api, {"visitor_im_id": OPENID, "channel": "wechat"})
    assert response.status_code == 409
    body = response.json()
    assert "another customer" in body["detail"]
    assert body["customer"] == "U1002"
    assert VisitorIdentity.objects.get().customer == other


def test_it_refuses_an_unknown_customer(api, db):
    response = bind(api, {"visitor_im_id": OPENID}, url="/api/v1/customers/U404/visitor-ids/")
    assert response.status_code == 404
    assert not VisitorIdentity.objects.exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "visitor_im_id"),
        ({"visitor_im_id": ""}, "visitor_im_id"),
        ({"visitor_im_id": "x" * 256}, "visitor_im_id"),
        ({"visitor_im_id": "webim\x00visitor"}, "visitor_im_id"),
        ({"visitor_im_id": "webim\nvisitor"}, "visitor_im_id"),
        ({"visitor_im_id": ["a", "b"]}, "visitor_im_id"),
        ({"visitor_im_id": OPENID, "channel": "telegram"}, "channel"),
    ],
)
def test_it_rejects_bad_payloads(api, customer, payload, field):
    response = bind(api, payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not VisitorIdentity.objects.exists()


def test_it_requires_a_token(customer):
    response = APIClient().post(URL, {"visitor_im_id": OPENID}, format="json")
    assert response.status_code == 401
    assert not VisitorIdentity.objects.exists()


def test_it_rejects_a_wrong_token(customer):
    client = APIClient(HTTP_AUTHORIZATION="Bearer crm_wrong")
    assert client.post(URL, {"visitor_im_id": OPENID}, format="json").status_code == 401


def test_it_rejects_a_revoked_token(api, customer):
    IntegrationToken.objects.update(revoked_at=timezone.now())
    assert bind(api, {"visitor_im_id": OPENID}).status_code == 401
    assert not VisitorIdentity.objects.exists()


def test_it_lists_a_customers_visitor_ids(api, customer, visitor):
    response = api.get(URL)
    assert response.status_code == 200
    assert [v["visitor_im_id"] for v in response.json()] == [visitor.visitor_im_id]


def test_it_unbinds(api, customer, visitor):
    response = api.delete(f"{URL}{visitor.visitor_im_id}/")
    assert response.status_code == 204
    assert not VisitorIdentity.objects.exists()


def test_it_does_not_unbind_from_another_customer(api, customer, other):
    VisitorIdentity.objects.create(visitor_im_id=OPENID, customer=other)
    response = api.delete(f"{URL}{OPENID}/")
    assert response.status_code == 404
    assert VisitorIdentity.objects.exists()


def test_it_answers_404_to_unbinding_an_unknown_visitor_id(api, customer):
    assert api.delete(f"{URL}{OPENID}/").status_code == 404


def test_unbinding_requires_a_token(customer, visitor):
    response = APIClient().delete(f"{URL}{visitor.visitor_im_id}/")
    assert response.status_code == 401
    assert VisitorIdentity.objects.exists()


def test_an_unbound_visitor_id_can_be_bound_elsewhere(api, customer, other, visitor):
    api.delete(f"{URL}{visitor.visitor_im_id}/")
    response = bind(
        api, {"visitor_im_id": visitor.visitor_im_id}, url="/api/v1/customers/U1002/visitor-ids/"
    )
    assert response.status_code == 201
    assert VisitorIdentity.objects.get().customer == other

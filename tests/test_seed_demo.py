import pytest
from django.core.management import call_command

from customers.models import Customer, FollowUp, VisitorIdentity
from orders.models import Order, OrderItem

pytestmark = pytest.mark.django_db


def counts():
    return (
        Customer.objects.count(),
        VisitorIdentity.objects.count(),
        Order.objects.count(),
        OrderItem.objects.count(),
    )


def test_seed_demo_creates_realistic_data(capsys):
    call_command("seed_demo", customers=40)
    assert Customer.objects.count() == 40
    assert set(Order.objects.values_list("status", flat=True)) == set(Order.Status.values)
    channels = set(VisitorIdentity.objects.values_list("channel", flat=True))
    assert {"web", "app", "wechat"} <= channels
    customer = Customer.objects.order_by("external_id").first()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in customer.name)
    assert len(customer.phone) == 11 and customer.phone.startswith("1")
    order = Order.objects.filter(items__isnull=False).first()
    assert order.total == sum(item.line_total for item in order.items.all()) + (
        order.shipping_fee - order.discount
    )
    assert "40 customers" in capsys.readouterr().out
    # Something in the admin's list of follow-ups, open and each on its own customer.
    assert (
        FollowUp.objects.open().count()
        == FollowUp.objects.values("customer").distinct().count()
        > 0
    )


def test_seed_demo_is_idempotent():
    call_command("seed_demo", customers=25)
    before = counts()
    call_command("seed_demo", customers=25)
    assert counts() == before


def test_seed_demo_grows_to_a_larger_size_without_duplicates():
    call_command("seed_demo", customers=10)
    first_ten = list(Customer.objects.order_by("external_id").values_list("name", "phone"))
    call_command("seed_demo", customers=15)
    assert Customer.objects.count() == 15
    assert (
        list(Customer.objects.order_by("external_id").values_list("name", "phone")[:10])
        == first_ten
    )


def test_bootstrap_seeds_once_and_creates_an_admin_with_a_random_password(
    capsys, django_user_model
):
    call_command("bootstrap")
    out = capsys.readouterr().out
    assert Customer.objects.exists()
    admin = django_user_model.objects.get(username="admin")
    assert admin.is_superuser
    password = out.split("password ", 1)[1].split()[0]
    assert admin.check_password(password)
    assert "/panel/panel-token-for-tests-7Qm2x/" in out
    # Not the local token for production, but a new one strong enough for it.
    production_token = out.split("PANEL_TOKEN=", 1)[1].split()[0]
    assert production_token != "panel-token-for-tests-7Qm2x"
    assert len(production_token) >= 20
    assert f"https://YOUR-HOST/panel/{production_token}/" in out

    before = counts()
    call_command("bootstrap")
    out = capsys.readouterr().out
    assert password not in out
    assert "changepassword admin" in out
    assert counts() == before
    assert django_user_model.objects.filter(is_superuser=True).count() == 1


def test_seed_demo_scales_to_hundreds_of_customers_without_duplicate_visitor_ids():
    call_command("seed_demo", customers=600)
    assert Customer.objects.count() == 600
    ids = list(VisitorIdentity.objects.values_list("visitor_im_id", flat=True))
    assert len(ids) == len(set(ids)) > 600

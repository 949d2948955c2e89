"""The panel's cached customer card (iframe_panel/views.py, `_customer_html`) never shows stale
data: whatever path changes a customer, their tags, identities, notes, orders or items, the very
next panel load shows the change.

Each test loads the panel twice (the second load from the cache, in fewer statements), changes
something through the real entry point (the admin, the API, a command, the admin's import, the
panel's own actions, the erasure), then loads once more.
"""

import html
import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
import redis
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.forms import CheckboxInput, MultiWidget
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import IntegrationToken
from customers.models import Customer, Note, Tag, VisitorIdentity
from orders.models import Order, OrderItem
from tests.test_import_export import import_file

pytestmark = pytest.mark.django_db

PANEL = "/panel/panel-token-for-tests-7Qm2x/"
VISITOR = "webim-visitor-8K2FTG9QTYWRT8EYVJ7F"
OTHER_VISITOR = "webim-visitor-OTHER0000000000000000"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}

# A load served from the cache: the identity with its customer, the visitor's pushed info and
# the open follow-up (one query), the contact history, the audit INSERT. A load that renders
# the card adds the orders (with the summary), their items, the tags and the notes (with their
# authors).
HIT = 3
MISS = 7


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def panel():
    """A client of its own for the panel: no admin session rides along."""
    return Client()


@pytest.fixture
def linked(customer, visitor, make_order):
    """张伟, linked to VISITOR, with one paid order of one ¥399.00 item."""
    make_order(customer, "SO-1001")
    return customer


@pytest.fixture
def other(db):
    """李娜, linked to OTHER_VISITOR, with no orders."""
    other = Customer.objects.create(name="李娜", phone="13900001111", external_id="U2002")
    VisitorIdentity.objects.create(visitor_im_id=OTHER_VISITOR, customer=other)
    return other


@pytest.fixture
def api(db):
    token = IntegrationToken(name="Shop")
    raw = token.set_new_token()
    token.save()
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


# --- loading the panel and reading it --------------------------------------------------------


def load(panel, visitor_im_id=VISITOR, lang="zh", **params):
    """(page, statements) of one panel load."""
    with CaptureQueriesContext(connection) as queries:
        response = panel.get(PANEL, {"visitorImId": visitor_im_id, "lang": lang, **params})
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def cached(panel, visitor_im_id=VISITOR, lang="zh"):
    """Load the panel twice and check that the second load came from the cache; its page."""
    first, miss = load(panel, visitor_im_id, lang)
    page, hit = load(panel, visitor_im_id, lang)
    # A customer without orders has no items to read: one statement fewer on a miss.
    assert hit == HIT < miss
    assert card(page) == card(first)
    return page


def card(page):
    """The cached part of a page: the customer's card, summary, orders and notes list."""
    start = page.find('<section class="card customer" id="customer">')
    end = page.find("</section>", page.find('<section class="card" id="notes">'))
    assert start != -1 and end != -1, page
    return page[start:end]


def name(page):
    return re.search(r"<h1>([^<]*?)(?: <span|</h1>)", page).group(1)


def tags(page):
    return re.findall(r'<span class="tag">([^<]*)</span>', page)


def stats(page):
    """The order summary: count, spent, last order."""
    summary = re.search(r'id="order-summary">(.*?)</section>', page, re.S).group(1)
    return re.findall(r'<span class="stat-value">([^<]*)</span>', summary)


def orders(page):
    """{number: (status, total)} of the recent orders."""
    found = re.findall(
        r'data-order="([^"]+)">.*?class="status status-(\w+)".*?'
        r'<span class="order-total">([^<]*)</span>',
        page,
        re.S,
    )
    return {number: (status, total) for number, status, total in found}


def items(page, number):
    """[(product, quantity, price)] of an order."""
    order = re.search(rf'data-order="{re.escape(number)}">(.*?)</details>', page, re.S).group(1)
    return re.findall(
        r"<tr><td>([^<]*?)(?: <span[^>]*>[^<]*</span>)?</td><td>(\d+)</td>"
        r"<td>([^<]*)</td></tr>",
        order,
    )


def notes(page):
    return re.findall(r"<li><p>([^<]*)</p>", page)


def unknown(page):
    return 'id="unknown-visitor"' in page and 'id="customer"' not in page


# --- the admin's forms, posted back as a browser would ---------------------------------------


def form_data(form):
    """What a browser posts for `form` as rendered, unchanged."""
    data = {}
    for field in form:
        widget, value = field.field.widget, field.value()
        if isinstance(widget, MultiWidget):
            parts = value if isinstance(value, list) else widget.decompress(value)
            for i, (sub, part) in enumerate(zip(widget.widgets, parts, strict=True)):
                data[f"{field.html_name}_{i}"] = sub.format_value(part) or ""
        elif isinstance(widget, CheckboxInput):
            if value:
                data[field.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[field.html_name] = [str(v) for v in value]
        elif value is not None:
            data[field.html_name] = str(value)
    return data


def change_form(client, url):
    """The admin change page at `url` as the browser would post it back unchanged, inlines and
    their management forms included."""
    response = client.get(url, **EN)
    assert response.status_code == 200
    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(form_data(form))
    return data


def post_form(client, url, data):
    response = client.post(url, data, **EN)
    assert response.status_code == 302, response.content.decode()


def customer_url(customer):
    return reverse("admin:customers_customer_change", args=[customer.pk])


def order_url(order):
    return reverse("admin:orders_order_change", args=[order.pk])


def inline_prefix(data, prefix, pk):
    """The form prefix (`items-0`) of the inline form for the object `pk`."""
    for key, value in data.items():
        if key.startswith(prefix + "-") and key.endswith("-id") and value == str(pk):
            return key[: -len("-id")]
    raise AssertionError(f"no {prefix} form for {pk}")


def run(command, path):
    call_command(command, str(path), stdout=StringIO(), stderr=StringIO())


# --- the cache itself ------------------------------------------------------------------------


def test_a_repeat_load_is_served_from_the_cache(panel, linked):
    page, miss = load(panel)
    again, hit = load(panel)
    assert (miss, hit) == (MISS, HIT)
    assert hit < miss
    assert card(again) == card(page)
    assert name(again) == "张伟"
    assert orders(again) == {"SO-1001": ("paid", "¥399.00")}


def test_a_cached_load_takes_as_many_statements_for_300_orders_as_for_1(panel, linked, other):
    now = timezone.now()
    created = Order.objects.bulk_create(
        Order(
            number=f"SO-{i:08d}",
            customer=other,
            status=Order.Status.COMPLETED,
            total=Decimal("20.00"),
            placed_at=now - timedelta(hours=i),
        )
        for i in range(300)
    )
    OrderItem.objects.bulk_create(
        OrderItem(order=order, product_name=product, unit_price=Decimal("10.00"))
        for order in created
        for product in ("数据线", "充电头")
    )
    Customer.objects.filter(pk=other.pk).touch()

    one = cached(panel)
    many = cached(panel, OTHER_VISITOR)
    assert stats(one)[0] == "1"
    assert stats(many)[0] == "300"
    assert len(orders(many)) == 10


# --- the customer's fields -------------------------------------------------------------------


def test_a_change_in_the_admin_shows(panel, staff_client, linked):
    assert name(cached(panel)) == "张伟"
    data = change_form(staff_client, customer_url(linked))
    data.update(name="张大伟", company="宁波新公司")
    post_form(staff_client, customer_url(linked), data)

    page, _ = load(panel)
    assert name(page) == "张大伟"
    assert "宁波新公司" in page
    assert "杭州云帆科技有限公司" not in page


def test_a_change_through_the_api_shows(panel, api, linked):
    assert name(cached(panel)) == "张伟"
    response = api.put("/api/v1/customers/U1001/", {"name": "张大伟"}, format="json")
    assert response.status_code == 200

    assert name(load(panel)[0]) == "张大伟"


def test_a_change_by_the_import_customers_command_shows(panel, linked, tmp_path):
    assert name(cached(panel)) == "张伟"
    path = tmp_path / "customers.csv"
    path.write_text("external_id,name,company\nU1001,张大伟,宁波新公司\n", encoding="utf-8")
    run("import_customers", path)

    page, _ = load(panel)
    assert name(page) == "张大伟"
    assert "宁波新公司" in page


def test_a_change_by_the_admin_import_shows(panel, staff_client, linked):
    assert name(cached(panel)) == "张伟"
    import_file(staff_client, "customers_customer", "external_id,name\nU1001,张大伟\n")

    assert name(load(panel)[0]) == "张大伟"


# --- tags ------------------------------------------------------------------------------------


def test_tags_added_and_removed_in_the_admin_show(panel, staff_client, linked):
    vip = Tag.objects.create(name="VIP")
    linked.tags.add(vip)
    new = Tag.objects.create(name="回头客")
    assert tags(cached(panel)) == ["VIP"]

    data = change_form(staff_client, customer_url(linked))
    data["tags"] = [str(new.pk)]
    post_form(staff_client, customer_url(linked), data)
    assert tags(load(panel)[0]) == ["回头客"]

    data["tags"] = []
    post_form(staff_client, customer_url(linked), data)
    assert tags(load(panel)[0]) == []


def test_a_tag_renamed_in_the_admin_shows(panel, staff_client, linked):
    tag = Tag.objects.create(name="VIP")
    linked.tags.add(tag)
    assert tags(cached(panel)) == ["VIP"]

    post_form(staff_client, reverse("admin:customers_tag_change", args=[tag.pk]), {"name": "SVIP"})
    assert tags(load(panel)[0]) == ["SVIP"]


def test_a_tag_deleted_in_the_admin_goes(panel, staff_client, linked):
    tag = Tag.objects.create(name="VIP")
    linked.tags.add(tag)
    assert tags(cached(panel)) == ["VIP"]

    url = reverse("admin:customers_tag_delete", args=[tag.pk])
    post_form(staff_client, url, {"post": "yes"})
    assert tags(load(panel)[0]) == []


def test_tags_set_through_the_api_show(panel, api, linked):
    linked.tags.add(Tag.objects.create(name="VIP"))
    assert tags(cached(panel)) == ["VIP"]
    response = api.put(
        "/api/v1/customers/U1001/", {"name": "张伟", "tags": ["新客"]}, format="json"
    )
    assert response.status_code == 200

    assert tags(load(panel)[0]) == ["新客"]


# --- identities ------------------------------------------------------------------------------


def test_a_visitor_relinked_in_the_admin_shows_the_other_customer(
    panel, staff_client, linked, visitor, other
):
    assert name(cached(panel)) == "张伟"
    url = reverse("admin:customers_visitoridentity_change", args=[visitor.pk])
    data = change_form(staff_client, url)
    data["customer"] = str(other.pk)
    post_form(staff_client, url, data)

    page, _ = load(panel)
    assert name(page) == "李娜"
    assert orders(page) == {}


def test_an_identity_deleted_in_the_admin_leaves_an_unknown_visitor(
    panel, staff_client, linked, visitor
):
    assert name(cached(panel)) == "张伟"
    url = reverse("admin:customers_visitoridentity_delete", args=[visitor.pk])
    post_form(staff_client, url, {"post": "yes"})

    page, _ = load(panel)
    assert unknown(page)
    assert "张伟" not in page


def action_token(page):
    return html.unescape(re.search(r'data-token="([^"]*)"', page).group(1))


def test_the_panels_unlink_and_link_show(panel, linked, other):
    page = cached(panel)
    response = panel.post(f"{PANEL}unlink/", {"t": action_token(page), "v": VISITOR, "lang": "zh"})
    assert response.status_code == 200

    page, _ = load(panel)
    assert unknown(page)
    response = panel.post(
        f"{PANEL}link/", {"t": action_token(page), "v": VISITOR, "lang": "zh", "customer": other.pk}
    )
    assert response.status_code == 200

    assert name(load(panel)[0]) == "李娜"


# --- notes -----------------------------------------------------------------------------------


def test_a_note_saved_in_the_panel_shows(panel, linked):
    page = cached(panel)
    assert notes(page) == []
    response = panel.post(
        f"{PANEL}note/", {"t": action_token(page), "v": VISITOR, "lang": "zh", "body": "周末送货"}
    )
    assert response.status_code == 200

    assert notes(load(panel)[0]) == ["周末送货"]


def test_notes_added_and_deleted_in_the_admin_show(panel, staff_client, linked):
    assert notes(cached(panel)) == []
    data = change_form(staff_client, customer_url(linked))
    data.update({"notes-TOTAL_FORMS": "1", "notes-0-body": "要开发票"})
    post_form(staff_client, customer_url(linked), data)
    assert notes(load(panel)[0]) == ["要开发票"]
    assert notes(load(panel)[0]) == ["要开发票"]

    note = Note.objects.get()
    post_form(staff_client, reverse("admin:customers_note_delete", args=[note.pk]), {"post": "yes"})
    assert notes(load(panel)[0]) == []


def test_a_note_authors_new_name_shows(panel, staff_client, linked, django_user_model):
    boss = django_user_model.objects.get(username="boss")
    Note.objects.create(customer=linked, body="要开发票", author=boss)
    assert "· boss<" in cached(panel)
    url = reverse("admin:auth_user_change", args=[boss.pk])
    data = change_form(staff_client, url)
    data.update(first_name="美", last_name="王")
    post_form(staff_client, url, data)

    page, _ = load(panel)
    assert "· 美 王<" in page
    assert "· boss<" not in page


def test_a_note_authors_deletion_shows(panel, staff_client, linked, django_user_model):
    writer = django_user_model.objects.create_user("xiaomei", first_name="美", last_name="王")
    Note.objects.create(customer=linked, body="要开发票", author=writer)
    assert "· 美 王<" in cached(panel)
    url = reverse("admin:auth_user_delete", args=[writer.pk])
    post_form(staff_client, url, {"post": "yes"})

    page, _ = load(panel)
    assert notes(page) == ["要开发票"]
    assert "美 王" not in page


# --- orders ----------------------------------------------------------------------------------


def test_an_order_added_in_the_admin_shows(panel, staff_client, linked):
    assert stats(cached(panel))[:2] == ["1", "¥399.00"]
    data = {
        "number": "SO-2002",
        "customer": linked.pk,
        "status": "paid",
        "placed_at_0": timezone.localdate().isoformat(),
        "placed_at_1": "10:00:00",
        "shipping_fee": "0",
        "discount": "0",
        "currency": "CNY",
        "items-TOTAL_FORMS": "1",
        "items-INITIAL_FORMS": "0",
        "items-0-product_name": "机械键盘",
        "items-0-quantity": "2",
        "items-0-unit_price": "100.00",
    }
    post_form(staff_client, reverse("admin:orders_order_add"), data)

    page, _ = load(panel)
    assert orders(page)["SO-2002"] == ("paid", "¥200.00")
    assert items(page, "SO-2002") == [("机械键盘", "2", "100.00")]
    assert stats(page)[:2] == ["2", "¥599.00"]


def test_a_status_changed_in_the_admin_shows(panel, staff_client, linked):
    order = Order.objects.get(number="SO-1001")
    assert orders(cached(panel))["SO-1001"][0] == "paid"
    data = change_form(staff_client, order_url(order))
    data["status"] = "refunded"
    post_form(staff_client, order_url(order), data)

    page, _ = load(panel)
    assert orders(page)["SO-1001"] == ("refunded", "¥399.00")
    # Refunded orders are not spent.
    assert stats(page)[:2] == ["1", "¥0.00"]


def test_the_bulk_mark_as_shipped_action_shows(panel, staff_client, linked, make_order):
    second = make_order(linked, "SO-1002", status=Order.Status.PENDING)
    first = Order.objects.get(number="SO-1001")
    assert orders(cached(panel)) == {
        "SO-1002": ("pending", "¥399.00"),
        "SO-1001": ("paid", "¥399.00"),
    }
    response = staff_client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "mark_shipped", "_selected_action": [first.pk, second.pk]},
        **EN,
    )
    assert response.status_code == 302

    page, _ = load(panel)
    assert orders(page) == {"SO-1002": ("shipped", "¥399.00"), "SO-1001": ("shipped", "¥399.00")}
    assert stats(page)[:2] == ["2", "¥798.00"]


def test_an_order_moved_to_another_customer_in_the_admin_shows_on_both(
    panel, staff_client, linked, other
):
    order = Order.objects.get(number="SO-1001")
    assert "SO-1001" in orders(cached(panel))
    assert orders(cached(panel, OTHER_VISITOR)) == {}
    data = change_form(staff_client, order_url(order))
    data["customer"] = str(other.pk)
    post_form(staff_client, order_url(order), data)

    mine, _ = load(panel)
    theirs, _ = load(panel, OTHER_VISITOR)
    assert orders(mine) == {}
    assert stats(mine)[:2] == ["0", "¥0.00"]
    assert orders(theirs) == {"SO-1001": ("paid", "¥399.00")}
    assert stats(theirs)[:2] == ["1", "¥399.00"]


def test_an_order_deleted_in_the_admin_goes(panel, staff_client, linked):
    order = Order.objects.get(number="SO-1001")
    assert "SO-1001" in orders(cached(panel))
    post_form(staff_client, reverse("admin:orders_order_delete", args=[order.pk]), {"post": "yes"})

    page, _ = load(panel)
    assert orders(page) == {}
    assert stats(page)[0] == "0"


ORDER = {
    "customer": "U1001",
    "status": "paid",
    "items": [{"product_name": "保温杯", "quantity": 2, "unit_price": "50.00"}],
    "placed_at": "2026-03-01T10:30:00+08:00",
}


def test_an_order_created_and_updated_through_the_api_shows(panel, api, linked):
    assert "SO-API" not in orders(cached(panel))
    response = api.put("/api/v1/orders/SO-API/", ORDER, format="json")
    assert response.status_code == 201

    page, _ = load(panel)
    assert orders(page)["SO-API"] == ("paid", "¥100.00")
    assert items(page, "SO-API") == [("保温杯", "2", "50.00")]
    assert load(panel)[1] == HIT

    changed = {
        **ORDER,
        "status": "shipped",
        "items": [{"product_name": "保温杯", "quantity": 3, "unit_price": "50.00"}],
    }
    response = api.put("/api/v1/orders/SO-API/", changed, format="json")
    assert response.status_code == 200

    page, _ = load(panel)
    assert orders(page)["SO-API"] == ("shipped", "¥150.00")
    assert items(page, "SO-API") == [("保温杯", "3", "50.00")]
    assert stats(page)[:2] == ["2", "¥549.00"]


def test_an_order_moved_through_the_api_shows_on_both(panel, api, linked, other):
    assert api.put("/api/v1/orders/SO-API/", ORDER, format="json").status_code == 201
    assert "SO-API" in orders(cached(panel))
    assert orders(cached(panel, OTHER_VISITOR)) == {}
    response = api.put("/api/v1/orders/SO-API/", {**ORDER, "customer": "U2002"}, format="json")
    assert response.status_code == 200

    assert "SO-API" not in orders(load(panel)[0])
    assert orders(load(panel, OTHER_VISITOR)[0]) == {"SO-API": ("paid", "¥100.00")}


ORDERS_CSV = (
    "number,customer_external_id,status,product_name,quantity,unit_price\n"
    "SO-1001,U1001,shipped,无线蓝牙耳机 Pro,2,399\n"
    "SO-3003,U1001,paid,保温杯,1,89\n"
)


def test_orders_written_by_the_import_orders_command_show(panel, linked, tmp_path):
    assert orders(cached(panel)) == {"SO-1001": ("paid", "¥399.00")}
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV, encoding="utf-8")
    run("import_orders", path)

    page, _ = load(panel)
    assert orders(page) == {"SO-1001": ("shipped", "¥798.00"), "SO-3003": ("paid", "¥89.00")}
    assert items(page, "SO-1001") == [("无线蓝牙耳机 Pro", "2", "399.00")]


def test_an_order_moved_by_the_import_orders_command_shows_on_both(panel, linked, other, tmp_path):
    assert "SO-1001" in orders(cached(panel))
    assert orders(cached(panel, OTHER_VISITOR)) == {}
    path = tmp_path / "orders.csv"
    path.write_text("number,customer_external_id,status\nSO-1001,U2002,paid\n", encoding="utf-8")
    run("import_orders", path)

    assert orders(load(panel)[0]) == {}
    assert orders(load(panel, OTHER_VISITOR)[0]) == {"SO-1001": ("paid", "¥399.00")}


def test_orders_written_by_the_admin_import_show(panel, staff_client, linked):
    assert orders(cached(panel)) == {"SO-1001": ("paid", "¥399.00")}
    import_file(staff_client, "orders_order", ORDERS_CSV)

    page, _ = load(panel)
    assert orders(page) == {"SO-1001": ("shipped", "¥798.00"), "SO-3003": ("paid", "¥89.00")}


def test_an_order_moved_by_the_admin_import_shows_on_both(panel, staff_client, linked, other):
    assert "SO-1001" in orders(cached(panel))
    assert orders(cached(panel, OTHER_VISITOR)) == {}
    import_file(staff_client, "orders_order", "number,customer_external_id\nSO-1001,U2002\n")

    assert orders(load(panel)[0]) == {}
    assert orders(load(panel, OTHER_VISITOR)[0]) == {"SO-1001": ("paid", "¥399.00")}


# --- items -----------------------------------------------------------------------------------


def test_an_item_changed_in_the_admin_shows_in_the_total_and_the_summary(
    panel, staff_client, linked
):
    order = Order.objects.get(number="SO-1001")
    item = order.items.get()
    assert stats(cached(panel))[:2] == ["1", "¥399.00"]
    data = change_form(staff_client, order_url(order))
    prefix = inline_prefix(data, "items", item.pk)
    data.update({f"{prefix}-quantity": "3", f"{prefix}-unit_price": "100.00"})
    post_form(staff_client, order_url(order), data)

    page, _ = load(panel)
    assert orders(page)["SO-1001"] == ("paid", "¥300.00")
    assert items(page, "SO-1001") == [("无线蓝牙耳机 Pro", "3", "100.00")]
    assert stats(page)[:2] == ["1", "¥300.00"]


def test_an_item_deleted_in_the_admin_goes(panel, staff_client, customer, visitor, make_order):
    order = make_order(customer, "SO-1001", items=(("耳机", 1, "399.00"), ("保护套", 2, "30.00")))
    assert orders(cached(panel))["SO-1001"] == ("paid", "¥459.00")
    data = change_form(staff_client, order_url(order))
    prefix = inline_prefix(data, "items", order.items.get(product_name="保护套").pk)
    data[f"{prefix}-DELETE"] = "on"
    post_form(staff_client, order_url(order), data)

    page, _ = load(panel)
    assert orders(page)["SO-1001"] == ("paid", "¥399.00")
    assert items(page, "SO-1001") == [("耳机", "1", "399.00")]
    assert stats(page)[:2] == ["1", "¥399.00"]


# --- the erasure of personal data ------------------------------------------------------------


def test_an_erasure_shows(panel, staff_client, linked):
    linked.tags.add(Tag.objects.create(name="VIP"))
    order = Order.objects.get(number="SO-1001")
    order.recipient, order.shipping_address = "张伟", "宁波市海曙区中山西路1号"
    order.save()
    page = cached(panel)
    assert (name(page), tags(page)) == ("张伟", ["VIP"])
    assert "宁波市海曙区中山西路1号" in page
    url = reverse("admin:customers_customer_erase_personal_data", args=[linked.pk])
    post_form(staff_client, url, {})

    # The identities go with the personal data: the visitor is unknown again.
    page, _ = load(panel)
    assert unknown(page)
    # Linked again by an agent, the customer shows erased (nothing of the old card).
    response = panel.post(
        f"{PANEL}link/",
        {"t": action_token(page), "v": VISITOR, "lang": "zh", "customer": linked.pk},
    )
    assert response.status_code == 200
    page, _ = load(panel)
    assert name(page) == f"已删除的客户 #{linked.pk}"
    assert tags(page) == []
    assert "138****8000" not in page
    assert "杭州云帆科技有限公司" not in page
    assert "中山西路" not in page
    # The orders stay, for the books.
    assert orders(page) == {"SO-1001": ("paid", "¥399.00")}


# --- the cache server ------------------------------------------------------------------------


def redis_cache(url):
    return {
        "default": {
            "BACKEND": "ops.cache.FallbackRedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }


def test_with_redis_down_a_change_still_shows(panel, api, linked, settings):
    settings.CACHES = redis_cache("redis://127.0.0.1:1/0")
    # The second load is served from this process's fallback memory.
    assert name(cached(panel)) == "张伟"
    assert cache.degraded
    response = api.put("/api/v1/customers/U1001/", {"name": "张大伟"}, format="json")
    assert response.status_code == 200

    assert name(load(panel)[0]) == "张大伟"


@pytest.fixture
def shared_redis(settings):
    url = "redis://127.0.0.1:6379/11"
    server = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        server.flushdb()
    except redis.RedisError as e:
        pytest.skip(f"no Redis at {url}: {e}")
    settings.CACHES = redis_cache(url)
    yield server
    server.flushdb()


def test_with_the_shared_redis_a_change_shows_and_each_language_has_its_card(
    panel, api, linked, shared_redis
):
    assert name(cached(panel)) == "张伟"
    assert shared_redis.keys("*panel:customer:*")
    response = api.put("/api/v1/customers/U1001/", {"name": "张大伟"}, format="json")
    assert response.status_code == 200
    zh, miss = load(panel)
    assert name(zh) == "张大伟"
    zh, hit = load(panel)
    assert hit == HIT < miss
    en = cached(panel, lang="en")
    assert '<span class="stat-label">订单</span>' in zh
    assert '<span class="stat-label">Orders</span>' in en
    assert "Orders" not in card(zh)
    assert name(en) == "张大伟"
    assert len(shared_redis.keys("*panel:customer:*")) == 3

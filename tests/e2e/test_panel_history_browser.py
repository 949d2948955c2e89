"""The panel's contact history, copy-ready replies and follow-ups, in a real browser."""

import importlib
from datetime import datetime, timedelta

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import FollowUp
from orders.models import Order
from tests.e2e import test_panel_browser
from tests.e2e.test_panel_browser import panel_url

pytestmark = pytest.mark.django_db(transaction=True)

# 欧阳娜娜, linked to the visitor panel_url() opens, with three shipped orders.
known = test_panel_browser.known


@pytest.fixture
def default_replies(db):
    """The reply templates a fresh installation has: a transactional test's database is
    emptied between tests, the data migration's rows with it."""
    migration = importlib.import_module("orders.migrations.0004_default_reply_templates")
    migration.add_defaults(apps, None)


def test_contact_history_appears_on_the_second_session(page, live_server, known):
    page.goto(panel_url(live_server, lang="en", ssid="S-FIRST"))
    assert page.locator("#history").count() == 0
    page.fill("#note-form textarea", "客户要开发票，周一再联系")
    page.click("#note-form [type=submit]")
    page.wait_for_selector("#notice:not([hidden])")

    page.goto(panel_url(live_server, lang="en", ssid="S-SECOND", agentName="客服阿强"))
    summary = page.locator("#history summary")
    today = timezone.localdate().isoformat()
    expect(summary).to_have_text(f"One earlier conversation, on {today} with 客服小美")
    summary.click()
    expect(page.locator("#history .conversations li")).to_contain_text("客户要开发票，周一再联系")


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        ("zh", "您的订单 SO20261123001 已于 11月23日 发货，顺丰 SF1234567890。"),
        (
            "en",
            "Your order SO20261123001 shipped on Nov 23 with 顺丰, tracking number SF1234567890.",
        ),
    ],
)
def test_copy_a_reply_puts_the_sentence_on_the_clipboard(
    page, live_server, known, default_replies, lang, sentence
):
    Order.objects.create(
        number="SO20261123001",
        customer=known,
        status=Order.Status.SHIPPED,
        carrier="顺丰",
        tracking_number="SF1234567890",
        placed_at=timezone.now() + timedelta(minutes=1),
        shipped_at=timezone.make_aware(datetime(2026, 11, 23, 10, 0)),
    )
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(panel_url(live_server, lang=lang))
    order = page.locator('details.order[data-order="SO20261123001"]')
    button = order.locator("button.copy.reply")
    button.click()
    expect(button).to_have_text("已复制" if lang == "zh" else "Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == sentence


def test_a_follow_up_set_in_the_panel_appears_in_the_admins_due_list(
    staff_page, live_server, known
):
    page = staff_page
    page.goto(panel_url(live_server, lang="en"))
    now = timezone.localtime()
    due = min(now + timedelta(minutes=10), now.replace(hour=23, minute=59))
    page.click("#new-follow-up summary")
    form = page.locator("#follow-up-form")
    form.locator("[name=due_at]").fill(due.strftime("%Y-%m-%dT%H:%M"))
    form.locator("[name=what]").fill("回电确认发票抬头")
    form.locator("[type=submit]").click()
    page.wait_for_selector("#notice:not([hidden])")
    assert page.locator("#notice").inner_text() == "Follow-up set."
    expect(page.locator("#follow-ups .follow-up-what")).to_have_text("回电确认发票抬头")

    page.goto(f"{live_server.url}/admin/customers/followup/?state=due")
    row = page.locator("#result_list tbody tr", has_text="回电确认发票抬头")
    expect(row).to_contain_text("欧阳娜娜")
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", "mark_done")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert FollowUp.objects.get().done_by.username == "boss"

"""The panel in a real browser, loaded directly as Easemob's workbench loads it."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import Customer, FollowUp, Note, VisitorIdentity
from iframe_panel.models import AuditEvent, Conversation
from orders.models import Order, OrderItem

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "panel-token-for-tests-7Qm2x"
VISITOR = "webim-visitor-E2EKNOWN000000000001"


@pytest.fixture
def known(db):
    customer = Customer.objects.create(
        name="欧阳娜娜",
        nickname="娜娜",
        phone="13800138000",
        email="nana.ouyang@example.com",
        company="深圳市前海星辰贸易有限公司" * 3,
        address="广东省深圳市南山区科技园南区深南大道9988号华润置地大厦E座" * 2,
        remarks="一段很长的备注" * 30,
        level=Customer.Level.GOLD,
    )
    VisitorIdentity.objects.create(visitor_im_id=VISITOR, customer=customer, channel="web")
    for n in range(3):
        order = Order.objects.create(
            number=f"2026112400{n:06d}",
            customer=customer,
            status=Order.Status.SHIPPED,
            carrier="顺丰速运",
            tracking_number="SF1234567890123456789",
            shipping_address="广东省深圳市南山区科技园南区深南大道9988号" * 2,
        )
        OrderItem.objects.create(
            order=order,
            product_name="超长名称的商品" * 8,
            sku="SKU-" + "X" * 40,
            quantity=2,
            unit_price=Decimal("1299.00"),
        )
    return customer


@pytest.fixture
def last_time(known):
    """What happened last time, and what is pending: an earlier conversation with its note, and
    an open follow-up, as the panel shows them under the customer's card."""
    customer = known
    earlier = timezone.now() - timedelta(days=3)
    Conversation.objects.create(
        ssid="S-0",
        visitor_im_id=VISITOR,
        customer=customer,
        channel="web",
        agent_name="客服小李",
        first_seen_at=earlier,
        last_seen_at=earlier,
    )
    Note.objects.create(
        customer=customer,
        body="客户询问耳机发货时间，已催仓库。",
        ssid="S-0",
        agent_name="客服小李",
    )
    FollowUp.objects.create(
        customer=customer,
        due_at=timezone.now() + timedelta(hours=2),
        what="回电确认耳机是否送达",
        agent_name="客服小李",
    )
    return customer


def panel_url(live_server, visitor=VISITOR, **params):
    session = {"agentName": "客服小美", "agentId": "1001", "ssid": "S-1"}
    query = urlencode({"visitorImId": visitor, **session, **params})
    return f"{live_server.url}/panel/{TOKEN}/?{query}"


def overflow(page):
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.mark.parametrize("width", [280, 600])
def test_the_panel_has_no_horizontal_overflow(
    page, live_server, known, last_time, width, screenshot
):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(panel_url(live_server, name="Jack" * 30, lang="zh", originType="webim"))
    page.locator("details.order").first.click()
    assert page.locator("h1").first.inner_text().startswith("欧阳娜娜")
    chat = ["你好，在吗？", "我上周买的耳机还没到", "订单号 2026112400000001，电话 13800138000"]
    for text in chat:
        sync(page, text)
    page.locator('#messages button.lookup-chip[data-value="2026112400000001"]').click()
    expect(page.locator("#messages .lookup-result")).to_contain_text("顺丰速运")
    assert overflow(page) <= 0
    expect(page.locator("#follow-ups")).to_contain_text("回电确认耳机是否送达")
    expect(page.locator("#history")).to_contain_text("客服小李")
    screenshot(page, f"panel-{width}.png")


@pytest.mark.parametrize("width", [280, 600])
def test_the_unknown_visitor_panel_has_no_horizontal_overflow(page, live_server, db, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(panel_url(live_server, visitor="webim-visitor-" + "Q" * 200, phone="1" * 40))
    assert page.locator("#unknown-visitor").is_visible()
    assert overflow(page) <= 0


def test_reveal_shows_the_full_phone_and_is_recorded(page, live_server, known):
    page.goto(panel_url(live_server, lang="en"))
    phone = page.locator('[data-value-of="phone"]')
    assert phone.inner_text() == "138****8000"
    page.locator('button.reveal[data-field="phone"]').click()
    # Polled from Playwright, not evaluated in the page: the panel's CSP forbids eval.
    expect(phone).to_have_text("13800138000")
    event = AuditEvent.objects.get(action="reveal")
    assert (event.customer, event.agent_name, event.detail) == (known, "客服小美", "phone")


def test_an_agent_adds_a_note(page, live_server, known):
    page.goto(panel_url(live_server, lang="en"))
    page.fill("#note-form textarea", "客户说周六下午才方便收货")
    page.click("#note-form [type=submit]")
    page.wait_for_selector("#notice:not([hidden])")
    assert page.locator("#notice").inner_text() == "Note saved."
    assert "客户说周六下午才方便收货" in page.locator("#notes").inner_text()
    note = Note.objects.get(customer=known)
    assert (note.agent_name, note.agent_id, note.ssid) == ("客服小美", "1001", "S-1")


def test_an_expired_page_token_is_refused(page, live_server, known, settings):
    page.goto(panel_url(live_server, lang="en"))
    settings.PANEL_ACTION_MAX_AGE = -1
    page.fill("#note-form textarea", "过期的页面")
    page.click("#note-form [type=submit]")
    error = page.locator("#note-form .form-error")
    error.wait_for()
    assert "expired" in error.inner_text()
    assert not Note.objects.exists()


def test_an_agent_links_an_unknown_visitor_found_by_phone(page, live_server, known):
    visitor = "oE2EwechatUnknownVisitor0001"
    page.goto(panel_url(live_server, visitor=visitor, lang="en"))
    page.fill("#search-form input[name=q]", "138 0013 8000")
    page.click("#search-form [type=submit]")
    result = page.locator(f'#search-results li[data-customer="{known.pk}"]')
    assert "138****8000" in result.inner_text()
    result.locator("button.link-customer").click()
    page.wait_for_selector("#customer")
    assert page.locator("#notice").inner_text() == "Linked to 欧阳娜娜."
    identity = VisitorIdentity.objects.get(visitor_im_id=visitor)
    assert (identity.customer, identity.channel, identity.bound_via) == (known, "wechat", "agent")


def test_an_agent_creates_a_customer_prefilled_from_the_visitor(page, live_server, db):
    visitor = "webim-visitor-E2ENEWVISITOR0000001"
    page.goto(
        panel_url(
            live_server,
            visitor=visitor,
            nickname="小杰",
            name="杰克",
            phone="13911112222",
            email="agent@kefu.example.com",
            lang="en",
        )
    )
    form = page.locator("#create-form")
    assert form.locator("[name=name]").input_value() == "杰克"
    assert form.locator("[name=phone]").input_value() == "13911112222"
    # The session's `email` is the agent's, never the customer's.
    assert form.locator("[name=email]").input_value() == ""
    form.locator("[name=company]").fill("杭州云帆科技有限公司")
    form.locator("[type=submit]").click()
    page.wait_for_selector("#customer")
    customer = Customer.objects.get(name="杰克")
    assert (customer.phone, customer.company) == ("13911112222", "杭州云帆科技有限公司")
    assert VisitorIdentity.objects.get(visitor_im_id=visitor).customer == customer


def test_create_shows_the_servers_errors_and_saves_nothing(page, live_server, known):
    known.external_id = "U-E2E-1"
    known.save()
    page.goto(panel_url(live_server, visitor="webim-visitor-E2EDUPLICATE000001", lang="en"))
    page.click("#new-customer summary")
    form = page.locator("#create-form")
    form.locator("[name=name]").fill("重复的客户")
    form.locator("[name=external_id]").fill("U-E2E-1")
    form.locator("[type=submit]").click()
    error = form.locator(".form-error")
    error.wait_for()
    assert "search and link it instead" in error.inner_text()
    field_error = form.locator('[data-field="external_id"] .field-error')
    assert field_error.inner_text() == "Another customer already has this external ID."
    assert not Customer.objects.filter(name="重复的客户").exists()
    assert not VisitorIdentity.objects.filter(visitor_im_id__contains="DUPLICATE").exists()


def test_an_agent_unlinks_a_wrongly_bound_visitor(page, live_server, known):
    page.goto(panel_url(live_server, lang="en"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#unlink-form [type=submit]")
    page.wait_for_selector("#unknown-visitor")
    assert not VisitorIdentity.objects.filter(visitor_im_id=VISITOR).exists()
    assert AuditEvent.objects.filter(action="unlink", customer=known).exists()


def sync(page, text):
    """A customer message, posted as Easemob's workbench posts it (同步客户消息)."""
    page.evaluate("text => window.postMessage(text, '*')", text)


def test_a_note_keeps_the_synced_messages_and_a_revealed_phone(page, live_server, known):
    page.goto(panel_url(live_server, lang="en"))
    page.locator('button.reveal[data-field="phone"]').click()
    expect(page.locator('[data-value-of="phone"]')).to_have_text("13800138000")
    for n in range(5):
        sync(page, f"第{n}条消息")
    sync(page, "订单 2026112400000001 到哪了")
    messages = page.locator("#messages")
    expect(messages).to_be_visible()
    # Right under the customer's card; the latest three in view, the rest folded.
    assert page.locator("#customer + #messages").count() == 1
    expect(messages.locator(".messages.latest li")).to_have_count(3)
    expect(messages.locator(".earlier li")).to_have_count(3)
    messages.locator('button.lookup-chip[data-value="2026112400000001"]').click()
    expect(messages.locator(".lookup-result")).to_contain_text("顺丰速运")

    page.fill("#note-form textarea", "客户说周六下午才方便收货")
    page.locator("#note-form [type=submit]").scroll_into_view_if_needed()
    scroll = page.evaluate("window.scrollY")
    page.click("#note-form [type=submit]")
    # The notice next to the form, in view; the page was not reloaded to its top.
    notice = page.locator("#notes #notice")
    expect(notice).to_have_text("Note saved.")
    expect(notice).to_be_in_viewport()
    assert scroll > 0
    expect(page.locator("#note-list")).to_contain_text("客户说周六下午才方便收货")
    expect(page.locator("#note-form textarea")).to_have_value("")
    # Nothing else changed: messages, their lookup, the revealed phone, the scroll position.
    expect(messages.locator(".messages.latest li").first).to_contain_text("2026112400000001")
    expect(messages.locator(".lookup-result")).to_contain_text("顺丰速运")
    expect(page.locator('[data-value-of="phone"]')).to_have_text("13800138000")
    assert page.evaluate("window.scrollY") >= scroll
    assert Note.objects.get(customer=known).body == "客户说周六下午才方便收货"


def test_a_phone_in_an_unknown_visitors_chat_leads_to_a_link(page, live_server, known, screenshot):
    visitor = "webim-visitor-E2ECHATPHONE00000001"
    page.set_viewport_size({"width": 280, "height": 900})
    page.goto(panel_url(live_server, visitor=visitor, lang="en"))
    sync(page, "你好，我的手机是 138 0013 8000")
    messages = page.locator("#messages")
    assert page.locator("#unknown-visitor + #messages").count() == 1
    messages.locator('button.lookup-chip[data-value="13800138000"]').click()
    found = messages.locator(f'.lookup-result li[data-customer="{known.pk}"]')
    expect(found).to_contain_text("138****8000")
    assert overflow(page) <= 0
    screenshot(page, "panel-chat-lookup-280.png")
    found.locator("button.link-customer").click()
    expect(page.locator("#customer h1")).to_contain_text("欧阳娜娜")
    expect(page.locator("#notice + #customer")).to_contain_text("欧阳娜娜")
    expect(page.locator("#notice")).to_have_text("Linked to 欧阳娜娜.")
    # The chat stays, now under the linked customer's card.
    assert page.locator("#customer + #messages").count() == 1
    expect(messages.locator(".messages li")).to_have_count(1)
    identity = VisitorIdentity.objects.get(visitor_im_id=visitor)
    assert (identity.customer, identity.bound_via) == (known, "agent")
    # The new page token names the customer: a note is accepted without a reload.
    page.fill("#note-form textarea", "聊天里找到的客户")
    page.click("#note-form [type=submit]")
    expect(page.locator("#notes #notice")).to_have_text("Note saved.")
    assert Note.objects.get(customer=known).body == "聊天里找到的客户"


def test_another_customers_phone_says_so(page, live_server, known):
    other = Customer.objects.create(name="李娜", phone="13900001111")
    page.goto(panel_url(live_server, lang="en"))
    sync(page, "帮我查一下 139-0000-1111 的订单")
    page.locator('button.lookup-chip[data-value="13900001111"]').click()
    result = page.locator("#messages .lookup-result")
    expect(result).to_contain_text("13900001111 is not the phone of 欧阳娜娜.")
    expect(result.locator(f'li[data-customer="{other.pk}"] button.link-customer')).to_be_visible()


def test_order_numbers_are_spotted(page, live_server, known):
    Order.objects.create(number="A7", customer=known, status=Order.Status.PAID)
    page.goto(panel_url(live_server, lang="en"))
    sync(page, "SO-1001 和 A7 都没到，价格 1299.00 元，2026 年买的")
    chips = page.locator("#messages button.lookup-chip")
    expect(chips).to_have_count(2)
    # SO-1001 by the default pattern; A7, which no pattern would take, as this customer's order.
    assert [chips.nth(i).get_attribute("data-value") for i in range(2)] == ["A7", "SO-1001"]
    chips.nth(0).click()
    expect(page.locator("#messages .lookup-result .found-order")).to_have_attribute(
        "data-order", "A7"
    )


def test_a_pushed_email_is_masked_until_shown(page, live_server, known):
    page.goto(panel_url(live_server, lang="en", customerEmail="pushed.person@example.com"))
    value = page.locator('[data-value-of="param:customerEmail"]')
    expect(value).to_have_text("pu***@example.com")
    page.locator('button.reveal[data-field="param:customerEmail"]').click()
    expect(value).to_have_text("pushed.person@example.com")
    event = AuditEvent.objects.get(action="reveal")
    assert (event.customer, event.detail) == (known, "param:customerEmail")


def test_the_channel_is_named_in_the_panels_language(page, live_server, known):
    page.goto(panel_url(live_server, lang="zh", originType="weixin"))
    session = page.locator("#session")
    expect(session).to_contain_text("微信")
    assert "weixin" not in session.inner_text()


def test_long_remarks_fold_until_clicked(page, live_server, known):
    page.set_viewport_size({"width": 280, "height": 900})
    page.goto(panel_url(live_server, lang="en"))
    remarks = page.locator("dd.remarks")
    folded = remarks.bounding_box()["height"]
    expect(remarks).to_have_attribute("aria-expanded", "false")
    remarks.click()
    expect(remarks).to_have_attribute("aria-expanded", "true")
    assert remarks.bounding_box()["height"] > 3 * folded

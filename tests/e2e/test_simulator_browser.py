"""The whole integration in a real browser: the workbench simulator frames the panel exactly as
Easemob's workbench does (URL, DES parameters, cmd messages, message sync)."""

import json

import pytest
from django.core.management import call_command
from django.utils import translation
from playwright.sync_api import expect

from customers.models import Customer, VisitorIdentity
from iframe_panel import crypto
from workbench.conversations import CALL_VISITOR, NEW_APP_VISITOR, NEW_WEB_VISITOR

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(db):
    call_command("seed_demo", customers=20, verbosity=0)


@pytest.fixture
def simulator(staff_page, live_server, demo):
    def open_(lang="zh", visitor=""):
        query = f"?lang={lang}" + (f"&visitor={visitor}" if visitor else "")
        staff_page.goto(f"{live_server.url}/simulator/{query}")
        return staff_page

    return open_


def frame(page):
    return page.frame_locator("#panel-frame")


def known_visitors(page, count):
    items = page.locator('li.conversation[data-known="true"]')
    return [items.nth(i).get_attribute("data-visitor") for i in range(count)]


def open_conversation(page, visitor):
    page.locator(f'li.conversation[data-visitor="{visitor}"] button.conversation-button').click()


def test_switching_conversations_shows_each_customers_own_data(simulator, screenshot):
    page = simulator("zh")
    first, second = known_visitors(page, 2)
    for visitor in (first, second, first):
        customer = VisitorIdentity.objects.get(visitor_im_id=visitor).customer
        open_conversation(page, visitor)
        expect(frame(page).locator("#customer h1")).to_contain_text(customer.name)
        latest = customer.orders.order_by("-placed_at").first()
        expect(frame(page).locator("#orders")).to_contain_text(latest.number)
        others = Customer.objects.exclude(pk=customer.pk).filter(orders__isnull=False)
        for other_order in [o for c in others[:3] for o in c.orders.all()[:1]]:
            expect(frame(page).locator("#orders")).not_to_contain_text(other_order.number)
    screenshot(page, "simulator.png")


def test_a_cmd_push_shows_the_params_and_a_later_load_still_does(simulator, screenshot):
    page = simulator("en", visitor=NEW_WEB_VISITOR)
    expect(frame(page).locator("#unknown-visitor")).to_be_visible()
    page.fill("#cmd-params", json.dumps({"name": "Jack", "age": "40", "sex": "man"}))
    page.click("#send-cmd")
    info = frame(page).locator("#visitor-info")
    expect(info).to_contain_text("Jack")
    expect(info).to_contain_text("man")
    expect(page.locator("#frame-url")).to_contain_text("name=Jack")
    expect(page.locator("#cmd-message")).to_contain_text("updateVisitorInfoSrc")

    # Away and back: the URL no longer carries the params, the panel still shows them.
    open_conversation(page, known_visitors(page, 1)[0])
    expect(frame(page).locator("#customer")).to_be_visible()
    open_conversation(page, NEW_WEB_VISITOR)
    expect(page.locator("#frame-url")).not_to_contain_text("name=Jack")
    expect(frame(page).locator("#visitor-info")).to_contain_text("Jack")
    expect(frame(page).locator("#visitor-info")).to_contain_text("updated")
    screenshot(page, "simulator-cmd-push.png")


def test_an_app_push_with_custom_user_id_links_the_visitor(simulator):
    page = simulator("en", visitor=NEW_APP_VISITOR)
    expect(frame(page).locator("#unknown-visitor")).to_be_visible()
    suggested = json.loads(page.input_value("#cmd-params"))
    customer = Customer.objects.get(external_id=suggested["customUserId"])
    page.click("#send-cmd")
    expect(frame(page).locator("#customer h1")).to_contain_text(customer.name)
    identity = VisitorIdentity.objects.get(visitor_im_id=NEW_APP_VISITOR)
    assert (identity.customer, identity.bound_via) == (customer, "custom_user_id")


def test_message_sync_spots_an_order_number_and_looks_it_up(simulator, screenshot):
    page = simulator("zh")
    visitor = known_visitors(page, 1)[0]
    customer = VisitorIdentity.objects.get(visitor_im_id=visitor).customer
    order = customer.orders.order_by("-placed_at").first()
    open_conversation(page, visitor)
    expect(frame(page).locator("#customer")).to_be_visible()
    page.fill("#chat-input", f"你好,我的订单 {order.number} 什么时候发货?")
    page.click("#send-chat")
    messages = frame(page).locator("#messages")
    expect(messages).to_be_visible()
    expect(messages).to_contain_text(order.number)
    chip = messages.locator(f'button.lookup-chip[data-value="{order.number}"]')
    chip.click()
    result = messages.locator(".lookup-result")
    with translation.override("zh-hans"):
        expect(result).to_contain_text(order.get_status_display())
    expect(frame(page).locator(f'details.order[data-order="{order.number}"]')).to_have_class(
        "order highlight"
    )
    screenshot(page, "simulator-message-sync.png")


def test_message_sync_accepts_a_plain_string_and_spots_a_phone(simulator):
    page = simulator("en")
    visitor = known_visitors(page, 1)[0]
    customer = VisitorIdentity.objects.get(visitor_im_id=visitor).customer
    open_conversation(page, visitor)
    expect(frame(page).locator("#customer")).to_be_visible()
    page.check("#chat-as-string")
    page.fill("#chat-input", f"my number is {customer.phone}")
    page.click("#send-chat")
    chip = frame(page).locator(f'button.lookup-chip[data-value="{customer.phone}"]')
    chip.click()
    expect(frame(page).locator("#messages .lookup-result")).to_contain_text(customer.name)


def test_with_a_key_and_encrypted_system_params_the_panel_still_finds_the_customer(
    simulator, settings
):
    settings.EASEMOB_IFRAME_KEY = "kefu-demo-key-2026"
    settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS = True
    page = simulator("en")
    visitor = known_visitors(page, 1)[0]
    customer = VisitorIdentity.objects.get(visitor_im_id=visitor).customer
    open_conversation(page, visitor)
    expect(frame(page).locator("#customer h1")).to_contain_text(customer.name)
    cipher = crypto.encrypt(visitor, settings.EASEMOB_IFRAME_KEY)
    expect(page.locator("#frame-url")).to_contain_text(f"visitorImId={cipher}")


def test_the_simulator_switches_language(simulator):
    page = simulator("en")
    expect(frame(page).locator("html")).to_have_attribute("lang", "en")
    page.click("#lang-zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(frame(page).locator("html")).to_have_attribute("lang", "zh-hans")


def test_the_call_workbench_conversation_finds_the_customer_by_caller_number(simulator, screenshot):
    page = simulator("zh")
    call = page.locator('li.conversation[data-call="true"]')
    caller_id = call.locator(".nickname").inner_text()
    customer = Customer.objects.get(phone="".join(caller_id.split())[3:])
    call.locator("button.conversation-button").click()
    expect(page.locator("#call-hint")).to_be_visible()
    expect(frame(page).locator("#customer h1")).to_contain_text(customer.name)
    expect(frame(page).locator("#session")).to_contain_text(caller_id)
    identity = VisitorIdentity.objects.get(visitor_im_id=CALL_VISITOR)
    assert (identity.customer, identity.bound_via) == (customer, "phone")
    screenshot(page, "simulator-call.png")

    # Back to a chat: no call hint; the call again: the same customer, now by their identity.
    open_conversation(page, known_visitors(page, 1)[0])
    expect(page.locator("#call-hint")).to_be_hidden()
    open_conversation(page, CALL_VISITOR)
    expect(frame(page).locator("#customer h1")).to_contain_text(customer.name)


RELOAD_FRAME = """frame => new Promise(resolve => {
    frame.addEventListener("load", () => resolve(), { once: true });
    frame.contentWindow.location.reload();
})"""


def test_a_conversation_with_an_order_number_and_a_phone_shows_them_in_the_panel(simulator):
    page = simulator("en")
    chat = page.locator('li.conversation[data-history="true"]')
    visitor = chat.get_attribute("data-visitor")
    customer = VisitorIdentity.objects.get(visitor_im_id=visitor).customer
    order = customer.orders.order_by("-placed_at").first()
    chat.locator("button.conversation-button").click()
    messages = frame(page).locator("#messages")
    expect(messages).to_be_visible()
    expect(messages).to_contain_text(order.number)
    expect(messages).to_contain_text(customer.phone[:3] + " " + customer.phone[3:7])
    expect(messages.locator(f'button.lookup-chip[data-value="{order.number}"]')).to_be_visible()
    expect(messages.locator(f'button.lookup-chip[data-value="{customer.phone}"]')).to_be_visible()
    expect(page.locator("#chat-log li")).to_have_count(2)

    # The panel reloading itself gets nothing again: only opening the conversation replays it.
    # A message sent after the reload arrives after anything replayed would have: it is alone.
    page.locator("#panel-frame").evaluate(RELOAD_FRAME)
    page.fill("#chat-input", "thanks")
    page.click("#send-chat")
    expect(frame(page).locator("#messages")).to_contain_text("thanks")
    expect(frame(page).locator("#messages li")).to_have_count(1)

    # Opened straight from the page's URL, the conversation's messages reach the panel too.
    page.reload()
    expect(frame(page).locator("#messages")).to_contain_text(order.number)
    expect(frame(page).locator("#messages li")).to_have_count(2)

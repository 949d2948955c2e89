"""The simulated workbench's conversations, drawn from the demo data (`seed_demo`)."""

import re
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from customers.models import Customer, VisitorIdentity
from orders.models import Order

# Easemob's `originType` for each of our channels.
ORIGIN_TYPES = {
    VisitorIdentity.Channel.WEB: "webim",
    VisitorIdentity.Channel.APP: "app",
    VisitorIdentity.Channel.WECHAT: "weixin",
    VisitorIdentity.Channel.WEIBO: "weibo",
    VisitorIdentity.Channel.WECOM: "wxwork",
    VisitorIdentity.Channel.OTHER: "",
}
# Visitors no customer is linked to. Their ids have the shapes of the real channels' ids, and
# are fixed so that browser tests and people can find them again.
NEW_WEB_VISITOR = "webim-visitor-SIMNEWVISITOR00001"
NEW_WECHAT_VISITOR = "oSimNewWeChatVisitor00000001"
# Pushes the `customUserId` of an existing customer, so sending its cmd message links it.
NEW_APP_VISITOR = "app-user-SIMNEWAPP00001"
# A phone call in the call workbench (呼叫工作台). Easemob does not document the visitor id of a
# caller; this one is made up, fixed like the others.
CALL_VISITOR = "callcenter-visitor-SIMCALLER00001"
SIMULATED_VISITORS = (NEW_WEB_VISITOR, NEW_WECHAT_VISITOR, NEW_APP_VISITOR, CALL_VISITOR)
# The number the caller dialled (a made-up hotline) and the extension of the agent who answers.
HOTLINE = "4008201234"
EXTENSION = "8001"
KNOWN_PER_CHANNEL = 2
# Documented in Easemob's example of a cmd message.
EXAMPLE_PARAMS = {"name": "Jack", "age": "40", "sex": "man"}
FALLBACK_PHONE = "13800138000"


@dataclass
class SimVisitor:
    visitor_im_id: str
    channel: str
    nickname: str
    customer: Customer | None = None
    suggested_params: dict = field(default_factory=dict)
    sample_message: str = ""
    # What the visitor wrote before the agent opened the conversation.
    history: list[str] = field(default_factory=list)
    # The call workbench's parameters, for a phone call.
    call_params: dict = field(default_factory=dict)
    frame_url: str = ""

    @property
    def origin_type(self):
        return ORIGIN_TYPES.get(self.channel, "")

    @property
    def is_call(self):
        return bool(self.call_params)

    @property
    def channel_label(self):
        if self.is_call:
            return _("Phone call")
        return VisitorIdentity.Channel(self.channel).label


def _order_question(customer):
    order = customer.orders.order_by("-placed_at").first()
    if order is None:
        return _("Hello, I have a question about my account.")
    return _("My order %(number)s — when will it ship?") % {"number": order.number}


def _phone_question(phone):
    return _("Hi, my phone number is %(phone)s, can you check my orders?") % {"phone": phone}


_MAINLAND_MOBILE = re.compile(r"1\d{10}")


def _spaced(phone):
    """A mainland mobile as people write it: 139 1234 5678."""
    if _MAINLAND_MOBILE.fullmatch(phone):
        return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    return phone


def caller_id(phone):
    """A mainland mobile as the call workbench shows a caller: +86 139 1234 5678."""
    return f"+86 {_spaced(phone)}" if _MAINLAND_MOBILE.fullmatch(phone) else phone


def call_params(phone):
    """The call parameters of an incoming call from `phone`, for the names the CRM is set to
    read as call parameters (PANEL_CALL_PARAMS). Easemob documents none of them: the names are
    the setting's defaults, the values made up. `callerNumber` and `caller` are also phone
    parameters (PANEL_PHONE_PARAMS), so the panel finds the customer by them."""
    values = {
        "callId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm-simulator-call:{CALL_VISITOR}")),
        "callerNumber": caller_id(phone),
        "caller": phone,
        "calleeNumber": HOTLINE,
        "callee": EXTENSION,
        "callDirection": "inbound",
    }
    return {name: values[name] for name in settings.PANEL_CALL_PARAMS if name in values}


def conversations():
    """Demo visitors of customers with orders on each channel; a chat that mentions an order
    number and a phone; a phone call from a customer; then visitors nobody is linked to yet."""
    with_orders = Exists(Order.objects.filter(customer=OuterRef("customer")))
    identities = (
        VisitorIdentity.objects.filter(with_orders)
        .exclude(visitor_im_id__in=SIMULATED_VISITORS)
        .select_related("customer")
        .order_by("customer_id", "pk")
    )
    visitors = []
    for channel in ORIGIN_TYPES:
        for identity in identities.filter(channel=channel)[:KNOWN_PER_CHANNEL]:
            customer = identity.customer
            visitors.append(
                SimVisitor(
                    identity.visitor_im_id,
                    channel,
                    customer.nickname or customer.name,
                    customer=customer,
                    suggested_params=dict(EXAMPLE_PARAMS),
                    sample_message=_order_question(customer),
                )
            )

    chat = _chat(identities.exclude(visitor_im_id__in=[v.visitor_im_id for v in visitors]))
    if chat:
        visitors.append(chat)

    with_orders_customers = Customer.objects.filter(
        Exists(Order.objects.filter(customer=OuterRef("pk")))
    ).order_by("pk")
    call = _call(with_orders_customers)
    if call:
        visitors.append(call)
    phone = (
        with_orders_customers.exclude(phone="").values_list("phone", flat=True).first()
        or FALLBACK_PHONE
    )
    visitors.append(
        SimVisitor(
            NEW_WEB_VISITOR,
            VisitorIdentity.Channel.WEB,
            _("New web visitor"),
            suggested_params=dict(EXAMPLE_PARAMS),
            sample_message=_phone_question(phone),
        )
    )
    visitors.append(
        SimVisitor(
            NEW_WECHAT_VISITOR,
            VisitorIdentity.Channel.WECHAT,
            _("New WeChat follower"),
            suggested_params={"source": "公众号菜单", "city": "杭州"},
            sample_message=_phone_question(phone),
        )
    )
    # A customer with no app visitor id of their own (the simulator's app visitor aside): the
    # app visitor's cmd message carries their customUserId, and the panel links the two.
    other_app_ids = VisitorIdentity.objects.filter(
        customer=OuterRef("pk"), channel=VisitorIdentity.Channel.APP
    ).exclude(visitor_im_id=NEW_APP_VISITOR)
    app_customer = (
        with_orders_customers.exclude(external_id="").filter(~Exists(other_app_ids)).first()
    )
    app_params = {"customUserId": app_customer.external_id} if app_customer else {}
    if app_customer:
        app_params["name"] = app_customer.name
    visitors.append(
        SimVisitor(
            NEW_APP_VISITOR,
            VisitorIdentity.Channel.APP,
            _("New app user"),
            suggested_params=app_params or dict(EXAMPLE_PARAMS),
            sample_message=_order_question(app_customer) if app_customer else "",
        )
    )
    return visitors


def _chat(identities):
    """A known visitor not listed yet, whose first messages mention one of their orders and
    their phone: the panel spots both."""
    identity = identities.exclude(customer__phone="").first()
    if identity is None:
        return None
    customer = identity.customer
    return SimVisitor(
        identity.visitor_im_id,
        identity.channel,
        customer.nickname or customer.name,
        customer=customer,
        suggested_params=dict(EXAMPLE_PARAMS),
        history=[_order_question(customer), _phone_question(_spaced(customer.phone))],
    )


def _call(with_orders_customers):
    """A phone call from a customer whose number is theirs alone (a shared number finds no
    one). Once the panel has linked the caller, the call stays theirs."""
    linked = (
        VisitorIdentity.objects.filter(visitor_im_id=CALL_VISITOR)
        .exclude(customer__phone="")
        .select_related("customer")
        .first()
    )
    if linked:
        customer = linked.customer
    else:
        shared = Customer.objects.filter(phone=OuterRef("phone")).exclude(pk=OuterRef("pk"))
        customer = with_orders_customers.exclude(phone="").filter(~Exists(shared)).first()
    if customer is None:
        return None
    return SimVisitor(
        CALL_VISITOR,
        VisitorIdentity.Channel.OTHER,
        caller_id(customer.phone),
        customer=customer,
        call_params=call_params(customer.phone),
    )

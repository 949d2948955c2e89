from django.contrib import admin
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, VisitorIdentity

from .models import AuditEvent, Conversation, VisitorInfo

# Characters of a visitor id, agent name or detail shown in a table cell. The panel takes a
# visitorImId of up to 255 characters from anyone holding its URL, and a single unbroken one
# pushed the audit log and the Easemob integration page off-screen.
CELL_LENGTH = 40

# What the codes stored in AuditEvent.detail mean: iframe_panel/params.py's ParamError codes,
# signing.py's token errors (prefixed "token "), and for links the way a visitor was matched.
DETAIL_TEXTS = {
    "too_many_params": _("The request had too many parameters."),
    "bad_param_name": _("A parameter name was empty, too long or invalid."),
    "ambiguous_param": _("A system parameter appeared twice with different values."),
    "param_too_long": _("A parameter value was too long."),
    "control_characters": _("A parameter contained control characters."),
    "missing_visitor": _("The panel was opened without a visitorImId parameter."),
    "visitor_too_long": _("The visitorImId was too long."),
    "system_undecryptable": _(
        "A system parameter did not decrypt: the encryption key or the 同时加密系统参数 box "
        "in Easemob differs from this CRM's settings."
    ),
    "token expired": _("The panel page had expired."),
    "token invalid": _("The action token was not genuine."),
    "token other_visitor": _("The action token was issued for another visitor."),
}


def shortened(value, length=CELL_LENGTH):
    """A table cell's text cut to `length` characters, the whole of it on hover."""
    value = str(value or "")
    if len(value) <= length:
        return value
    return format_html('<span title="{}">{}…</span>', value, value[: length - 1])


def detail_text(event):
    """An audit event's detail as a sentence in the user's language; free text (a search, an
    order lookup) as it was typed."""
    detail = event.detail
    if detail in DETAIL_TEXTS:
        return str(DETAIL_TEXTS[detail])
    if event.action == AuditEvent.Action.BIND and detail in VisitorIdentity.BoundVia.values:
        return str(VisitorIdentity.BoundVia(detail).label)
    if event.action == AuditEvent.Action.REVEAL and detail in ("phone", "email"):
        return capfirst(Customer._meta.get_field(detail).verbose_name)
    return detail


class LongValuesMedia:
    # Read-only values (a visitor id, the parameters) wrap instead of widening the page.
    css = {"all": ["iframe_panel/admin.css"]}


@admin.register(VisitorInfo)
class VisitorInfoAdmin(admin.ModelAdmin):
    """Read-only: the values come from the visitors' apps, never from staff."""

    list_display = ["visitor", "updated_at"]
    search_fields = ["=visitor_im_id"]
    readonly_fields = [
        "visitor_im_id",
        "params",
        "param_meta",
        "unlinked_customer_ids",
        "updated_at",
    ]
    show_full_result_count = False
    Media = LongValuesMedia

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("visitor IM ID"), ordering="visitor_im_id")
    def visitor(self, info):
        return shortened(info.visitor_im_id)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The panel's audit log: written by the panel only, never edited."""

    list_display = [
        "created_at",
        "action",
        "outcome",
        "visitor",
        "customer",
        "agent",
        "ip",
        "detail_sentence",
    ]
    list_filter = ["action", "outcome", "created_at"]
    search_fields = ["=visitor_im_id", "agent_name", "=agent_id", "=ssid", "customer__name"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    Media = LongValuesMedia

    def get_fields(self, request, obj=None):
        # Every field, the detail as a sentence in place of its code.
        return [
            "detail_sentence" if field.name == "detail" else field.name
            for field in self.model._meta.fields
            if field.name != "id"
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("visitor IM ID"), ordering="visitor_im_id")
    def visitor(self, event):
        return shortened(event.visitor_im_id)

    @admin.display(description=_("agent name"), ordering="agent_name")
    def agent(self, event):
        return shortened(event.agent_name)

    @admin.display(description=_("detail"))
    def detail_sentence(self, event):
        return shortened(detail_text(event), 80)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """The contact history: recorded by the panel, never edited. Each customer's, with their
    notes and orders, is on their timeline (the customer's page links to it)."""

    list_display = ["first_seen_at", "customer", "channel", "agent", "visitor", "last_seen_at"]
    list_filter = ["channel", "first_seen_at"]
    search_fields = ["=ssid", "=visitor_im_id", "customer__name", "agent_name", "=agent_id"]
    list_select_related = ["customer"]
    date_hierarchy = "first_seen_at"
    show_full_result_count = False
    Media = LongValuesMedia

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields if field.name != "id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("visitor IM ID"), ordering="visitor_im_id")
    def visitor(self, conversation):
        return shortened(conversation.visitor_im_id)

    @admin.display(description=_("agent name"), ordering="agent_name")
    def agent(self, conversation):
        return shortened(conversation.agent)

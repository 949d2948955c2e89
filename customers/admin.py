import json

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from orders.models import Order
from orders.search import matching_customers

from . import personal_data, timeline
from .models import Customer, FollowUp, Note, Tag, VisitorIdentity
from .resources import CustomerResource, VisitorIdentityResource
from .spreadsheet_admin import SpreadsheetImportExportMixin


class PlainActionCheckbox:
    """The row checkbox of a changelist written as HTML: Django renders a form widget's
    template for each row, a fifth of a 50-row list's CPU time (measured on the order list),
    for the same markup."""

    def action_checkbox(self, obj):
        label = gettext("Select this object for an action - {}")
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(label, str(obj)),
        )


class LabelledChanges(HistoricalRecordContextHelper):
    """A change as staff read it: a choice by its label (金卡, not gold), an empty value as a
    dash."""

    def prepare_delta_change_value(self, change, value):
        value = super().prepare_delta_change_value(change, value)
        field = self.model._meta.get_field(change.field)
        if field.choices:
            value = dict(field.flatchoices).get(value, value)
        return "–" if value in ("", None) else value


def _check_id(pk_field, value):
    # simple-history looks ids up as given: "nope" would be a 500, not a 404.
    try:
        pk_field.to_python(unquote(value))
    except ValidationError as e:
        raise Http404 from e


class ChangeHistoryAdmin(SimpleHistoryAdmin):
    """The History button shows django-simple-history's page: every change, by whom or
    through which door (customers/history.py), and the fields it changed."""

    def history_view(self, request, object_id, extra_context=None):
        _check_id(self.opts.pk, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # A version is shown, never saved back (SIMPLE_HISTORY_REVERT_DISABLED): the library
        # hides the button but would still save a POST, with only the view permission.
        if request.method != "GET":
            raise PermissionDenied
        _check_id(self.opts.pk, object_id)
        _check_id(self.model.history.model._meta.pk, version_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_historical_record_context_helper(self, request, historical_record):
        return LabelledChanges(self.model, historical_record)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]
    list_display = ["name"]


class VisitorIdentityInline(admin.TabularInline):
    model = VisitorIdentity
    extra = 0
    fields = ["visitor_im_id", "channel", "bound_via", "first_seen_at", "last_seen_at"]
    readonly_fields = ["first_seen_at", "last_seen_at"]


class NoteInline(admin.StackedInline):
    model = Note
    extra = 0
    fields = ["body", "written_by", "ssid", "created_at"]
    readonly_fields = ["written_by", "ssid", "created_at"]
    ordering = ["-created_at"]

    @admin.display(description=_("written by"))
    def written_by(self, note):
        return note.written_by


class FollowUpInline(admin.TabularInline):
    model = FollowUp
    extra = 0
    fields = ["due_at", "what", "written_by", "done_at"]
    readonly_fields = ["written_by", "done_at"]
    ordering = ["done_at", "due_at"]

    @admin.display(description=_("set by"))
    def written_by(self, follow_up):
        return follow_up.written_by


class OrderInline(admin.TabularInline):
    """The customer's orders, read-only here; each links to its own page."""

    model = Order
    extra = 0
    fields = ["order_link", "status", "total", "placed_at"]
    readonly_fields = fields
    ordering = ["-placed_at"]
    show_change_link = False
    can_delete = False
    verbose_name_plural = _("orders")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("order number"))
    def order_link(self, order):
        url = reverse("admin:orders_order_change", args=[order.pk])
        return format_html('<a href="{}">{}</a>', url, order.number)


def _order_summary(customer):
    # Set for the changelist's rows (CustomerChangeList) and the change page (get_object); a
    # customer being added has no orders.
    return getattr(customer, "order_summary", {})


class ChannelListFilter(admin.SimpleListFilter):
    """Customers with a visitor id on a channel, through a subquery: the related-field filter
    joins the identities and needs a DISTINCT over every customer it finds."""

    title = _("channel")
    parameter_name = "visitor_identities__channel"

    def lookups(self, request, model_admin):
        return VisitorIdentity.Channel.choices

    def queryset(self, request, queryset):
        if self.value() in VisitorIdentity.Channel.values:
            identities = VisitorIdentity.objects.filter(channel=self.value())
            return queryset.filter(pk__in=identities.values("customer_id"))
        return queryset


class TagListFilter(admin.SimpleListFilter):
    """Customers with a tag, through a subquery, for the same reason as ChannelListFilter."""

    title = _("tags")
    parameter_name = "tags__id__exact"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in Tag.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            tagged = Customer.tags.through.objects.filter(tag_id=int(self.value()))
            return queryset.filter(pk__in=tagged.values("customer_id"))
        return queryset


class CustomerChangeList(ChangeList):
    def get_results(self, request):
        """The page's customers, each with the summary of their orders: one grouped query
        for the rows shown, whatever the list is sorted or filtered by."""
        super().get_results(request)
        customers = list(self.result_list)  # fills the page's cache; the template reuses it
        summaries = Order.objects.summaries(customer.pk for customer in customers)
        for customer in customers:
            customer.order_summary = summaries.get(customer.pk, {})


def truncated(value):
    """A long text cut to its column's width (customers/admin.css), whole on hover."""
    if not value:
        return ""
    return format_html('<span class="crm-truncate" title="{}">{}</span>', value, value)


@admin.register(Customer)
class CustomerAdmin(PlainActionCheckbox, SpreadsheetImportExportMixin, ChangeHistoryAdmin):
    resource_classes = [CustomerResource]
    list_display = [
        "display_name",
        "phone",
        "display_email",
        "level",
        "display_company",
        "display_external_id",
        "order_count",
        "amount_spent",
        "last_order",
    ]
    list_filter = ["level", TagListFilter, ChannelListFilter, "gender", "created_at"]
    # The search itself is get_search_results; a non-empty list shows the search box.
    search_fields = ["phone"]
    search_help_text = _(
        "A phone in any form or its last four digits, an order number, an email, an external "
        "ID, a visitor ID or a name."
    )
    filter_horizontal = ["tags"]
    readonly_fields = ["created_at", "updated_at", "order_count", "amount_spent", "last_order"]
    fieldsets = [
        (None, {"fields": ["name", "nickname", "gender", "level", "tags"]}),
        (_("Contact"), {"fields": ["phone", "email", "qq", "wechat", "company", "address"]}),
        (_("Business system"), {"fields": ["external_id", "remarks"]}),
        (_("Orders"), {"fields": ["order_count", "amount_spent", "last_order"]}),
        (_("History"), {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [FollowUpInline, VisitorIdentityInline, NoteInline, OrderInline]
    # No date_hierarchy: its links cost a MIN/MAX and a DISTINCT over the customers found on
    # every load (0.2–0.3 s each at 100,000 customers); the "created" filter does the job.
    list_per_page = 50
    # Counting every row of a large table on each page view is the slowest part of a
    # changelist; the paginator still works without the total.
    show_full_result_count = False
    actions = ["export_personal_data", "erase_personal_data"]

    class Media:
        css = {"all": ["customers/admin.css"]}

    def get_changelist(self, request, **kwargs):
        return CustomerChangeList

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(pk__in=matching_customers(term)), False

    @admin.display(description=_("name"), ordering="name")
    def display_name(self, customer):
        return truncated(customer.name)

    @admin.display(description=_("email"), ordering="email")
    def display_email(self, customer):
        return truncated(customer.email)

    @admin.display(description=_("company"), ordering="company")
    def display_company(self, customer):
        return truncated(customer.company)

    @admin.display(description=_("external ID"), ordering="external_id")
    def display_external_id(self, customer):
        return truncated(customer.external_id)

    @admin.display(description=_("orders"))
    def order_count(self, customer):
        return _order_summary(customer).get("count", 0)

    @admin.display(description=_("amount spent"))
    def amount_spent(self, customer):
        spent = _order_summary(customer).get("spent")
        return number_format(spent, 2, force_grouping=True) if spent is not None else "–"

    @admin.display(description=_("last order"))
    def last_order(self, customer):
        placed_at = _order_summary(customer).get("last_placed_at")
        # 2026-11-27: the narrowest date that reads the same in both languages.
        return timezone.localdate(placed_at).isoformat() if placed_at else "–"

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, Note) and not instance.pk:
                instance.author = request.user
            if isinstance(instance, FollowUp) and not instance.pk:
                instance.created_by = request.user
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()

    # --- Personal data (PIPL): an access request's export, and erasure ---------------------
    # Each needs its own permission (or a superuser): seeing or editing customers is not enough.

    def has_export_personal_data_permission(self, request):
        return request.user.has_perm("customers.export_customer_data")

    def has_erase_personal_data_permission(self, request):
        return request.user.has_perm("customers.erase_customer")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/personal-data/export/",
                view(self.export_personal_data_view),
                name="customers_customer_export_personal_data",
            ),
            path(
                "<int:pk>/timeline/",
                view(self.timeline_view),
                name="customers_customer_timeline",
            ),
            path(
                "<int:pk>/personal-data/erase/",
                view(self.erase_personal_data_view),
                name="customers_customer_erase_personal_data",
            ),
            *super().get_urls(),
        ]

    def get_object(self, request, object_id, from_field=None):
        customer = super().get_object(request, object_id, from_field)
        if customer is not None:
            # The totals on the customer's page: one grouped query (Order.objects.summaries).
            customer.order_summary = Order.objects.summaries([customer.pk]).get(customer.pk, {})
        return customer

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_add_order": request.user.has_perm("orders.add_order"),
            "can_export_personal_data": self.has_export_personal_data_permission(request),
            "can_erase_personal_data": self.has_erase_personal_data_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(
        description=_("Export the selected customer’s personal data (JSON)"),
        permissions=["export_personal_data"],
    )
    def export_personal_data(self, request, queryset):
        customer = self._only_one(request, queryset)
        if customer:
            return self._personal_data_response(request, customer)

    @admin.action(
        description=_("Erase the selected customer’s personal data"),
        permissions=["erase_personal_data"],
    )
    def erase_personal_data(self, request, queryset):
        customer = self._only_one(request, queryset)
        if customer:
            return redirect("admin:customers_customer_erase_personal_data", customer.pk)

    def export_personal_data_view(self, request, pk):
        # A GET, like the change page that shows the same data; it changes nothing but the
        # customer's history.
        if not self.has_export_personal_data_permission(request):
            raise PermissionDenied
        return self._personal_data_response(request, get_object_or_404(Customer, pk=pk))

    def timeline_view(self, request, pk):
        """Conversations, notes, follow-ups and orders in one list, newest first."""
        customer = get_object_or_404(Customer, pk=pk)
        if not self.has_view_or_change_permission(request, customer):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Timeline of %(name)s") % {"name": customer.name},
            "customer": customer,
            "entries": timeline.timeline(customer),
            "limit": timeline.LIMIT,
        }
        return TemplateResponse(request, "admin/customers/customer/timeline.html", context)

    def erase_personal_data_view(self, request, pk):
        """A confirmation page saying what goes and what stays; only its POST erases."""
        if not self.has_erase_personal_data_permission(request):
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=pk)
        if request.method == "POST":
            personal_data.erase(customer, request.user)
            self.message_user(
                request,
                _("The personal data of customer #%(pk)s was erased.") % {"pk": pk},
                messages.SUCCESS,
            )
            if self.has_view_or_change_permission(request, customer):
                return redirect("admin:customers_customer_change", pk)
            return redirect("admin:index")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Erase a customer’s personal data"),
            "customer": customer,
            "erased_name": personal_data.erased_name(customer.pk),
            "identity_count": customer.visitor_identities.count(),
            "note_count": customer.notes.count(),
            "follow_up_count": customer.follow_ups.count(),
            "order_count": customer.orders.count(),
        }
        return TemplateResponse(
            request, "admin/customers/customer/erase_personal_data.html", context
        )

    def _only_one(self, request, queryset):
        customers = list(queryset[:2])
        if len(customers) != 1:
            self.message_user(
                request,
                _(
                    "Select exactly one customer: personal data is exported and erased one "
                    "customer at a time."
                ),
                messages.WARNING,
            )
            return None
        return customers[0]

    def _personal_data_response(self, request, customer):
        data = personal_data.export(customer, request.user)
        response = HttpResponse(
            json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        # Named by the primary key: a file name is seen in download lists and folders.
        response["Content-Disposition"] = (
            f'attachment; filename="customer-{customer.pk}-personal-data.json"'
        )
        # Personal data: no browser or proxy cache keeps a copy.
        add_never_cache_headers(response)
        return response


@admin.register(VisitorIdentity)
class VisitorIdentityAdmin(SpreadsheetImportExportMixin, admin.ModelAdmin):
    resource_classes = [VisitorIdentityResource]
    list_display = ["display_visitor_im_id", "customer", "channel", "bound_via", "last_seen_at"]
    list_filter = ["channel", "bound_via"]
    search_fields = ["=visitor_im_id", "customer__name", "=customer__phone"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    show_full_result_count = False

    class Media:
        css = {"all": ["customers/admin.css"]}

    # A visitor id of hundreds of characters (anyone with the panel URL can send one) must not
    # widen the list off-screen.
    @admin.display(description=_("visitor IM ID"), ordering="visitor_im_id")
    def display_visitor_im_id(self, identity):
        return truncated(identity.visitor_im_id)


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["customer", "short_body", "written_by", "display_ssid", "created_at"]
    search_fields = ["body", "customer__name", "=ssid"]
    list_select_related = ["customer", "author"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["author", "agent_name", "agent_id", "ssid", "created_at"]
    date_hierarchy = "created_at"

    class Media:
        css = {"all": ["customers/admin.css"]}

    @admin.display(description=_("session ID"), ordering="ssid")
    def display_ssid(self, note):
        return truncated(note.ssid)

    show_full_result_count = False

    @admin.display(description=_("note"))
    def short_body(self, note):
        return note.body[:60]

    @admin.display(description=_("written by"))
    def written_by(self, note):
        return note.written_by

    def save_model(self, request, obj, form, change):
        if not change:
            obj.author = request.user
        super().save_model(request, obj, form, change)


class FollowUpStateFilter(admin.SimpleListFilter):
    """What back-office staff look for: what is due (today or earlier), what is overdue."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("due", _("Due by today's end")),
            ("overdue", _("Overdue")),
            ("upcoming", _("Upcoming")),
            ("open", _("Open")),
            ("done", _("Done")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        end_of_today = timezone.localtime(now).replace(hour=23, minute=59, second=59)
        match self.value():
            case "due":
                return queryset.due_by(end_of_today)
            case "overdue":
                return queryset.due_by(now)
            case "upcoming":
                return queryset.open().filter(due_at__gt=end_of_today)
            case "open":
                return queryset.open()
            case "done":
                return queryset.exclude(done_at=None)
        return queryset


@admin.register(FollowUp)
class FollowUpAdmin(admin.ModelAdmin):
    list_display = ["due_at", "state", "customer", "what", "written_by", "done_at"]
    list_display_links = ["due_at", "what"]
    list_filter = [FollowUpStateFilter]
    search_fields = ["what", "customer__name", "=customer__phone", "agent_name"]
    list_select_related = ["customer", "created_by"]
    autocomplete_fields = ["customer"]
    readonly_fields = [
        "created_at",
        "created_by",
        "agent_name",
        "agent_id",
        "ssid",
        "done_at",
        "done_by",
        "done_by_agent",
    ]
    date_hierarchy = "due_at"
    show_full_result_count = False
    actions = ["mark_done"]

    @admin.display(description=_("state"))
    def state(self, follow_up):
        if follow_up.done_at:
            return _("Done")
        return _("Overdue") if follow_up.overdue else _("Open")

    @admin.display(description=_("set by"))
    def written_by(self, follow_up):
        return follow_up.written_by

    @admin.action(description=_("Mark the selected follow-ups as done"))
    def mark_done(self, request, queryset):
        done = queryset.mark_done(user=request.user)
        self.message_user(
            request,
            ngettext(
                "%(count)d follow-up marked as done.", "%(count)d follow-ups marked as done.", done
            )
            % {"count": done},
            messages.SUCCESS,
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

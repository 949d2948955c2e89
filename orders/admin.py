import json

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections, transaction
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, ngettext

from customers import history
from customers.admin import ChangeHistoryAdmin, LabelledChanges, PlainActionCheckbox
from customers.models import Customer
from customers.phones import LastDigits, last_digits, looks_like_phone, normalize_phone
from customers.spreadsheet_admin import SpreadsheetImportExportMixin

from . import replies
from .models import Order, OrderItem, ReplyTemplate
from .resources import OrderResource


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 1
    fields = ["product_name", "sku", "quantity", "unit_price", "line_total"]
    readonly_fields = ["line_total"]

    @admin.display(description=_("line total"))
    def line_total(self, item):
        return item.line_total if item.pk else ""


PAID_STATUSES = (Order.Status.PAID, Order.Status.SHIPPED, Order.Status.COMPLETED)
SHIPPED_STATUSES = (Order.Status.SHIPPED, Order.Status.COMPLETED)
# The change reason of a bulk action's historical rows, beside the user who ran it.
BY_ACTION = gettext_noop("Bulk action: %(action)s")


def _status_action(status, label):
    """A bulk action that moves the selected orders to `status`, stamping paid/shipped times."""

    @admin.action(description=label, permissions=["change"])
    def action(modeladmin, request, queryset):
        now = timezone.now()
        stamps = {"paid_at": PAID_STATUSES, "shipped_at": SHIPPED_STATUSES}
        with transaction.atomic():
            # Read first: the list's filter (by status, say) may no longer match afterwards.
            orders = list(queryset)
            for order in orders:
                order.status, order.updated_at = status, now
                for field, statuses in stamps.items():
                    if status in statuses and getattr(order, field) is None:
                        setattr(order, field, now)
            with history.recorded_as(BY_ACTION, user=request.user, action=label):
                history.bulk_update(Order, orders, ["status", *stamps, "updated_at"])
            # bulk_update sends no signals (orders/revisions.py).
            Customer.objects.filter(pk__in={order.customer_id for order in orders}).touch()
        count = len(orders)
        modeladmin.message_user(
            request,
            ngettext(
                "%(count)d order marked as %(status)s.",
                "%(count)d orders marked as %(status)s.",
                count,
            )
            % {"count": count, "status": Order.Status(status).label},
            messages.SUCCESS,
        )

    action.__name__ = f"mark_{status}"
    return action


class CarrierListFilter(admin.SimpleListFilter):
    """The carriers to filter by, found without reading every order (Order.objects.carriers):
    the field filter's SELECT DISTINCT took 0.27 s at 1M orders on every load of the list."""

    title = _("carrier")
    parameter_name = "carrier"

    def lookups(self, request, model_admin):
        return [(carrier, carrier) for carrier in Order.objects.carriers()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(carrier=self.value())
        return queryset


class EstimatedCountPaginator(Paginator):
    """Counts up to EXACT_UP_TO rows; beyond, PostgreSQL's estimate of the row count.

    The paginator counts the list on every load: COUNT(*) over 1M orders took 70–80 ms, more
    than the rest of the page's statements together, and a status filter can match most of
    them. Past 10,000 orders (200 pages) the total shown is the planner's estimate (from the
    table's statistics, kept by autovacuum's ANALYZE): the pages are links, and an estimate
    off by a fraction of a percent only makes the last page short or empty. Other databases
    count exactly.
    """

    EXACT_UP_TO = 10_000

    @cached_property
    def count(self):
        rows = self.object_list.order_by()
        counted = rows[: self.EXACT_UP_TO + 1].count()
        if counted <= self.EXACT_UP_TO:
            return counted
        if connections[rows.db].vendor != "postgresql":
            return rows.count()
        plan = json.loads(rows.explain(format="json"))
        return max(int(plan[0]["Plan"]["Plan Rows"]), counted)


class OrderChangeList(ChangeList):
    """The order list with the sum of the orders it lists, per currency: "what did these
    orders bring in". Summed only when the paginator counted exactly (at most
    EstimatedCountPaginator.EXACT_UP_TO orders): a sum over a million orders reads them all
    (about 100 ms on every load), and a filter or a search narrows the list to what is worth
    adding up."""

    def get_results(self, request):
        super().get_results(request)
        self.totals = None
        if self.result_count <= EstimatedCountPaginator.EXACT_UP_TO:
            self.totals = list(
                self.queryset.order_by()
                .values("currency")
                .annotate(total=Sum("total"), orders=Count("pk"))
                .order_by("currency")
            )


def matching_orders(term):
    """The ids of the orders a search term may mean, as one query of indexed lookups: its
    number, tracking number, or the orders of the customers with this phone (in any form, or
    its last four digits) or, for a term with letters, this name."""
    if looks_like_phone(term):
        digits = last_digits(term)
        if digits:
            customers = Customer.objects.alias(last=LastDigits("phone")).filter(last=digits)
        else:
            customers = Customer.objects.filter(phone=normalize_phone(term) or term)
    else:
        customers = Customer.objects.filter(Q(name__icontains=term) | Q(nickname__icontains=term))
    branches = [
        # Order numbers are written in capitals; staff may not type them so.
        Order.objects.filter(number__in=sorted({term, term.upper()})),
        Order.objects.filter(tracking_number=term),
        Order.objects.filter(customer__in=customers.order_by().values("pk")),
    ]
    first, *others = (branch.order_by().values("pk") for branch in branches)
    return first.union(*others, all=True)


@admin.register(Order)
class OrderAdmin(PlainActionCheckbox, SpreadsheetImportExportMixin, ChangeHistoryAdmin):
    resource_classes = [OrderResource]
    list_display = ["number", "customer_link", "status", "total", "placed_at", "tracking_number"]
    # No date_hierarchy: its links cost a SELECT DISTINCT over every order's year (0.5–1 s at
    # 1M orders) on every load; the "placed" filter's ranges cost nothing.
    list_filter = ["status", "placed_at", CarrierListFilter]
    # The search itself is get_search_results; a non-empty list shows the search box.
    search_fields = ["number"]
    search_help_text = _(
        "An order number, a tracking number, or the customer's phone (in any form, or its last "
        "four digits) or name."
    )
    list_select_related = ["customer"]
    # Columns whose sort an index serves: sorting 1M orders by their customer's name or by
    # total means reading and sorting all of them (seconds), past the statement timeout.
    sortable_by = ["number", "status", "placed_at", "tracking_number"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["total", "created_at", "updated_at"]
    inlines = [OrderItemInline]
    list_per_page = 50
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["number", "customer", "status", "placed_at", "paid_at"]}),
        (_("Amounts"), {"fields": ["shipping_fee", "discount", "currency", "total"]}),
        (
            _("Shipping"),
            {
                "fields": [
                    "recipient",
                    "recipient_phone",
                    "shipping_address",
                    "carrier",
                    "tracking_number",
                    "shipped_at",
                ]
            },
        ),
        (_("Other"), {"fields": ["remarks", "created_at", "updated_at"]}),
    ]
    actions = [
        _status_action(Order.Status.PAID, _("Mark selected orders as paid")),
        _status_action(Order.Status.SHIPPED, _("Mark selected orders as shipped")),
        _status_action(Order.Status.COMPLETED, _("Mark selected orders as completed")),
        _status_action(Order.Status.CANCELLED, _("Mark selected orders as cancelled")),
        _status_action(Order.Status.REFUNDED, _("Mark selected orders as refunded")),
    ]

    paginator = EstimatedCountPaginator
    # The order's own history, then its items' (item_changes).
    object_history_template = "admin/orders/order/object_history.html"

    class Media:
        js = ["orders/order_total.js"]

    # The sum of the listed orders; django-import-export's list template extends this one.
    change_list_template = "admin/orders/order/change_list.html"

    def get_changelist(self, request, **kwargs):
        return OrderChangeList

    def get_changeform_initial_data(self, request):
        # "Add an order" on a customer's page links here with ?customer=<id>. Anything but an
        # id is dropped: the customer widget would fail on it.
        initial = super().get_changeform_initial_data(request)
        if not str(initial.get("customer", "")).isdigit():
            initial.pop("customer", None)
        return initial

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(pk__in=matching_orders(term)), False

    @admin.display(description=_("customer"))
    def customer_link(self, order):
        url = reverse("admin:customers_customer_change", args=[order.customer_id])
        return format_html('<a href="{}">{}</a>', url, order.customer.name)

    def save_formset(self, request, form, formset, change):
        if formset.model is not OrderItem:
            return super().save_formset(request, form, formset, change)
        # The total once for the whole form (save_related), not once per item: one row in
        # the order's history for what the form did to it, not one per item.
        for item in formset.save(commit=False):
            item.save(recalculate=False)
        for item in formset.deleted_objects:
            item.delete(recalculate=False)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.instance.recalculate_total()

    def set_history_delta_changes(self, request, historical_records, **kwargs):
        super().set_history_delta_changes(request, historical_records, **kwargs)
        # The total is not an editable field, which simple-history's diff leaves out; what
        # the items did to it is what a caller asks about.
        records = list(historical_records)
        label = capfirst(Order._meta.get_field("total").verbose_name)
        for newer, older in zip(records, records[1:], strict=False):
            if newer.total != older.total:
                newer.history_delta_changes = [
                    *getattr(newer, "history_delta_changes", []),
                    {"field": label, "old": older.total, "new": newer.total},
                ]

    def render_history_view(self, request, template, context, **kwargs):
        # Here rather than in history_view: the order is found and the permission checked.
        # (The page of one version renders through here too, without the items.)
        if template == self.object_history_template:
            context["item_changes"] = item_changes(context["object"].pk)
        return super().render_history_view(request, template, context, **kwargs)


# The item changes shown on an order's history page: the latest, for an order whose items a
# business system replaces on every sync.
ITEM_CHANGES_SHOWN = 200


def item_changes(order_id):
    """The changes to an order's items, newest first: each historical row of an item with
    what changed since the item's previous row (its values, when added or removed)."""
    records = list(
        OrderItem.history.filter(order_id=order_id)
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[:ITEM_CHANGES_SHOWN]
    )
    previous = {}
    for record in reversed(records):
        before = previous.get(record.id)
        if before is not None and record.history_type == "~":
            delta = record.diff_against(before, foreign_keys_are_objs=False)
            helper = LabelledChanges(OrderItem, record)
            record.changes = helper.context_for_delta_changes(delta)
        previous[record.id] = record
    return records


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(admin.ModelAdmin):
    """The sentences agents copy from the panel (Copy a reply), per order status and language."""

    list_display = ["status", "language", "text", "updated_at"]
    list_filter = ["language", "status"]
    fields = ["status", "language", "text", "example"]
    readonly_fields = ["example"]

    @admin.display(description=_("example"))
    def example(self, template):
        """The reply for the latest order of this status, as the panel would offer it."""
        order = (
            Order.objects.filter(status=template.status)
            .prefetch_related("items")
            .order_by("-placed_at")
            .first()
        )
        if not template.pk or order is None:
            return "—"
        return replies.render(template.text, order, template.language) or "—"

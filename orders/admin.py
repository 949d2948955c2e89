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
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from customers.admin import PlainActionCheckbox
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


def _status_action(status, label):
    """A bulk action that moves the selected orders to `status`, stamping paid/shipped times."""

    @admin.action(description=label, permissions=["change"])
    def action(modeladmin, request, queryset):
        now = timezone.now()
        with transaction.atomic():
            customer_ids = set(queryset.values_list("customer_id", flat=True))
            queryset.update(status=status, updated_at=now)
            if status in (Order.Status.PAID, Order.Status.SHIPPED, Order.Status.COMPLETED):
                queryset.filter(paid_at__isnull=True).update(paid_at=now)
            if status in (Order.Status.SHIPPED, Order.Status.COMPLETED):
                queryset.filter(shipped_at__isnull=True).update(shipped_at=now)
            # update() sends no signals (orders/revisions.py).
            Customer.objects.filter(pk__in=customer_ids).touch()
        count = queryset.count()
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
class OrderAdmin(PlainActionCheckbox, SpreadsheetImportExportMixin, admin.ModelAdmin):
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

    class Media:
        js = ["orders/order_total.js"]

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

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.instance.recalculate_total()


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

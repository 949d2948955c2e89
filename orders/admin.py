from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin

from customers.models import Customer

from .models import Order, OrderItem
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


@admin.register(Order)
class OrderAdmin(ImportExportMixin, admin.ModelAdmin):
    resource_classes = [OrderResource]
    list_display = ["number", "customer_link", "status", "total", "placed_at", "tracking_number"]
    list_filter = ["status", "placed_at", "carrier"]
    search_fields = ["=number", "=customer__phone", "customer__name", "=tracking_number"]
    date_hierarchy = "placed_at"
    list_select_related = ["customer"]
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

    @admin.display(description=_("customer"), ordering="customer__name")
    def customer_link(self, order):
        url = reverse("admin:customers_customer_change", args=[order.customer_id])
        return format_html('<a href="{}">{}</a>', url, order.customer.name)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        form.instance.recalculate_total()

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from import_export.admin import ImportExportMixin

from orders.models import Order

from .models import Customer, Note, Tag, VisitorIdentity
from .resources import CustomerResource, VisitorIdentityResource


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


@admin.register(Customer)
class CustomerAdmin(ImportExportMixin, admin.ModelAdmin):
    resource_classes = [CustomerResource]
    list_display = ["name", "phone", "email", "level", "company", "external_id", "created_at"]
    list_filter = ["level", "tags", "visitor_identities__channel", "gender", "created_at"]
    search_fields = [
        "name",
        "nickname",
        "=phone",
        "email",
        "=external_id",
        "=visitor_identities__visitor_im_id",
    ]
    filter_horizontal = ["tags"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "nickname", "gender", "level", "tags"]}),
        (_("Contact"), {"fields": ["phone", "email", "qq", "wechat", "company", "address"]}),
        (_("Business system"), {"fields": ["external_id", "remarks"]}),
        (_("History"), {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [VisitorIdentityInline, NoteInline, OrderInline]
    date_hierarchy = "created_at"
    list_per_page = 50
    # Counting every row of a large table on each page view is the slowest part of a
    # changelist; the paginator still works without the total.
    show_full_result_count = False

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for instance in instances:
            if isinstance(instance, Note) and not instance.pk:
                instance.author = request.user
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


@admin.register(VisitorIdentity)
class VisitorIdentityAdmin(ImportExportMixin, admin.ModelAdmin):
    resource_classes = [VisitorIdentityResource]
    list_display = ["visitor_im_id", "customer", "channel", "bound_via", "last_seen_at"]
    list_filter = ["channel", "bound_via"]
    search_fields = ["=visitor_im_id", "customer__name", "=customer__phone"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    show_full_result_count = False


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["customer", "short_body", "written_by", "ssid", "created_at"]
    search_fields = ["body", "customer__name", "=ssid"]
    list_select_related = ["customer", "author"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["author", "agent_name", "agent_id", "ssid", "created_at"]
    date_hierarchy = "created_at"
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

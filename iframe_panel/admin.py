from django.contrib import admin

from .models import AuditEvent, VisitorInfo


@admin.register(VisitorInfo)
class VisitorInfoAdmin(admin.ModelAdmin):
    """Read-only: the values come from the visitors' apps, never from staff."""

    list_display = ["visitor_im_id", "updated_at"]
    search_fields = ["=visitor_im_id"]
    readonly_fields = [
        "visitor_im_id",
        "params",
        "param_meta",
        "unlinked_customer_ids",
        "updated_at",
    ]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The panel's audit log: written by the panel only, never edited."""

    list_display = [
        "created_at",
        "action",
        "outcome",
        "visitor_im_id",
        "customer",
        "agent_name",
        "ip",
        "detail",
    ]
    list_filter = ["action", "outcome", "created_at"]
    search_fields = ["=visitor_im_id", "agent_name", "=agent_id", "=ssid", "customer__name"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

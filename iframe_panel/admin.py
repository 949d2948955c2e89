from django.contrib import admin

from .models import VisitorInfo


@admin.register(VisitorInfo)
class VisitorInfoAdmin(admin.ModelAdmin):
    """Read-only: the values come from the visitors' apps, never from staff."""

    list_display = ["visitor_im_id", "updated_at"]
    search_fields = ["=visitor_im_id"]
    readonly_fields = ["visitor_im_id", "params", "param_meta", "updated_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

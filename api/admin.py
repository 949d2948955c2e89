from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import IntegrationToken


@admin.register(IntegrationToken)
class IntegrationTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix"]
    list_select_related = ["created_by"]
    fields = ["name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        # Nothing but a name to type when adding: the token is generated on save.
        return ["name"] if obj is None else self.fields

    def save_model(self, request, obj, form, change):
        token = None
        if not change:
            token = obj.set_new_token()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if token:
            # The only time the token is shown: only its hash is stored.
            messages.success(
                request,
                _(
                    "The token for “%(name)s” is %(token)s — copy it now into the business "
                    "system: it will not be shown again."
                )
                % {"name": obj.name, "token": token},
            )

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", count)
            % {"count": count},
            messages.SUCCESS,
        )

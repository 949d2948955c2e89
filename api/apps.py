from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = _("API for the business system")

    def ready(self):
        # Registers the token scheme with drf-spectacular, which finds extensions by import.
        from . import schema  # noqa: F401

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IframePanelConfig(AppConfig):
    name = "iframe_panel"
    verbose_name = _("Easemob panel")

    def ready(self):
        # Connects the panel's part of a customer's data export and erasure.
        from . import signals  # noqa: F401

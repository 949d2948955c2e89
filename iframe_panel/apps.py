from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IframePanelConfig(AppConfig):
    name = "iframe_panel"
    verbose_name = _("Easemob panel")

"""Application configs that give the admin its site and third-party apps translated names."""

from axes.apps import AppConfig as AxesAppConfig
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.apps import DefaultConfig as StaticConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig as TOTPDefaultConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "crm_project.admin.CRMAdminSite"


# The admin shows an app's verbose name as a section title; these apps have none of their own
# ("Axes", "Otp_Totp"), and none that translates.
class AxesConfig(AxesAppConfig):
    verbose_name = _("Admin login lockouts")


class TOTPConfig(TOTPDefaultConfig):
    verbose_name = _("Two-factor devices")


class StaticTokensConfig(StaticConfig):
    verbose_name = _("Two-factor emergency codes")

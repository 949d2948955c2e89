"""The admin site: django-otp's second factor when ADMIN_TWO_FACTOR is on, and the page
django-axes answers a locked-out login with."""

import math

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class TwoFactorLoginForm(OTPAdminAuthenticationForm):
    def _chosen_device(self, user):
        # django-otp asks which device the code comes from, and offers the choice only after a
        # first post with the right password: staff with one device, a phone app, would always
        # have to post twice.
        device = super()._chosen_device(user)
        if device is None and not self.cleaned_data.get("otp_device"):
            devices = list(devices_for_user(user, for_verify=True))
            if len(devices) == 1:
                device = devices[0]
        return device


class CRMAdminSite(admin.AdminSite):
    """Django's admin site; with ADMIN_TWO_FACTOR on, django-otp's OTPAdminSite: the login
    form asks for the code of a TOTP device, and a session not verified by one is refused."""

    @property
    def login_form(self):
        return TwoFactorLoginForm if settings.ADMIN_TWO_FACTOR else None

    @property
    def login_template(self):
        return OTPAdminSite.login_template if settings.ADMIN_TWO_FACTOR else None

    def index(self, request, extra_context=None):
        """Django's index with the dashboard (crm_project/dashboard.py) above the app list:
        the sales for staff who may see orders, the panel's day for those who may see its
        audit log."""
        from . import dashboard

        user = request.user
        figures = {}
        if user.is_active and user.is_staff:
            sales = user.has_perm("orders.view_order")
            panel = user.has_perm("iframe_panel.view_auditevent")
            follow_ups = user.has_perm("customers.view_followup")
            figures = dashboard.figures(sales=sales, panel=panel, follow_ups=follow_ups)
        return super().index(request, {**(extra_context or {}), "dashboard": figures})

    def has_permission(self, request):
        if settings.ADMIN_TWO_FACTOR and not request.user.is_verified():
            return False
        return super().has_permission(request)


def login_username(request, credentials):
    """The username django-axes counts a failed login under, cut to the longest a username can
    be (Django's 150 characters). The rest of a longer one is what an attacker added, and axes'
    255-character column refused it with a 500 on PostgreSQL."""
    if credentials:
        username = credentials.get("username")
    else:
        username = getattr(request, "data", request.POST).get("username")
    return username[:150] if isinstance(username, str) else username


def lockout_response(request, original_response, credentials):
    """django-axes' answer to a login of a locked-out username from the same address."""
    cool_off = get_cool_off(request)
    context = {
        **admin.site.each_context(request),
        "title": _("Login temporarily locked"),
        "cool_off_minutes": math.ceil(cool_off.total_seconds() / 60),
    }
    response = render(request, "admin/locked_out.html", context, status=429)
    # The lock lifts at the latest this long after the failure that set it.
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response

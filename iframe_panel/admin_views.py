"""The admin's "Easemob integration" page: everything an administrator needs to get the Easemob
side of the iframe right, and to see whether it works."""

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import crypto
from .admin import detail_text
from .models import AuditEvent

RECENT_REQUESTS = 20


class CryptoForm(forms.Form):
    operation = forms.ChoiceField(
        label=_("Operation"),
        choices=[("encrypt", _("Encrypt")), ("decrypt", _("Decrypt"))],
        initial="encrypt",
    )
    value = forms.CharField(label=_("Value"), max_length=1000, strip=False)

    def result(self):
        key = settings.EASEMOB_IFRAME_KEY
        value = self.cleaned_data["value"]
        if self.cleaned_data["operation"] == "encrypt":
            return crypto.encrypt(value, key)
        try:
            return crypto.decrypt(value, key)
        except crypto.DecryptError:
            self.add_error("value", _("This value does not decrypt with the configured key."))
            return None


def recent_requests():
    events = list(
        AuditEvent.objects.filter(action=AuditEvent.Action.VIEW)
        .select_related("customer")
        .order_by("-created_at")[:RECENT_REQUESTS]
    )
    for event in events:
        event.detail_sentence = detail_text(event)
    return events


def easemob_integration(request):
    # The admin site's own check (with ADMIN_TWO_FACTOR on, a verified second factor), and a
    # superuser: the page shows the panel token.
    if not (admin.site.has_permission(request) and request.user.is_superuser):
        return redirect_to_login(request.get_full_path(), reverse("admin:login"))
    form = CryptoForm(request.POST or None)
    result = None
    if request.method == "POST" and settings.EASEMOB_IFRAME_KEY and form.is_valid():
        result = form.result()
    panel_path = reverse("iframe_panel:panel", args=[settings.PANEL_TOKEN])
    panel_url = request.build_absolute_uri(panel_path)
    if not panel_url.startswith("https://"):
        # Easemob only accepts HTTPS; show the address it must be reached at.
        panel_url = "https://" + panel_url.split("://", 1)[1]
    context = {
        **admin.site.each_context(request),
        "title": _("Easemob integration"),
        "panel_url": panel_url,
        "key_set": bool(settings.EASEMOB_IFRAME_KEY),
        "encrypt_system": settings.EASEMOB_ENCRYPT_SYSTEM_PARAMS,
        "frame_ancestors": settings.PANEL_FRAME_ANCESTORS,
        "phone_params": settings.PANEL_PHONE_PARAMS,
        "email_params": settings.PANEL_EMAIL_PARAMS,
        "simulator_enabled": settings.SIMULATOR_ENABLED,
        "form": form,
        "result": result,
        "recent": recent_requests(),
    }
    return render(request, "admin/iframe_panel/easemob_integration.html", context)

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, FollowUp

MAX_NOTE_LENGTH = 2000


class NewCustomerForm(forms.ModelForm):
    """What an agent may fill in when turning an unknown visitor into a customer."""

    class Meta:
        model = Customer
        fields = [
            "name",
            "nickname",
            "phone",
            "email",
            "external_id",
            "company",
            "address",
            "remarks",
        ]

    def clean_external_id(self):
        # Checked here rather than by the model's constraint so that the action can tell this
        # error from the others (its own code) and answer 409.
        external_id = self.cleaned_data["external_id"]
        if external_id and Customer.objects.filter(external_id=external_id).exists():
            raise forms.ValidationError(
                _("Another customer already has this external ID."), code="duplicate"
            )
        return external_id


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Note"),
        max_length=MAX_NOTE_LENGTH,
        strip=True,
        error_messages={"required": _("Write the note first.")},
    )


def tomorrow_morning():
    """What a follow-up's time starts as: 10:00 tomorrow, in the CRM's time zone."""
    tomorrow = timezone.localtime() + timedelta(days=1)
    return tomorrow.replace(hour=10, minute=0, second=0, microsecond=0)


class FollowUpForm(forms.ModelForm):
    """An agent's follow-up: when, and what to do."""

    class Meta:
        model = FollowUp
        fields = ["due_at", "what"]
        widgets = {
            # The browser's own date and time picker; it sends 2026-11-28T10:00, which the
            # form reads in the CRM's time zone.
            "due_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "what": forms.TextInput(attrs={"maxlength": 300}),
        }
        error_messages = {
            "due_at": {"required": _("Choose when to follow up.")},
            "what": {"required": _("Write what to follow up on.")},
        }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"due_at": tomorrow_morning()})
        super().__init__(*args, **kwargs)

    def clean_due_at(self):
        due_at = self.cleaned_data["due_at"]
        # A few minutes' grace: the agent may have opened the form a while ago.
        if due_at < timezone.now() - timedelta(minutes=5):
            raise forms.ValidationError(_("Choose a time that has not passed yet."))
        return due_at

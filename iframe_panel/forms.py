from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import Customer

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


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Note"),
        max_length=MAX_NOTE_LENGTH,
        strip=True,
        error_messages={"required": _("Write the note first.")},
    )

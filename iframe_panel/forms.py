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

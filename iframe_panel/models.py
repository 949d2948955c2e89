from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import VISITOR_IM_ID_MAX_LENGTH


class VisitorInfo(models.Model):
    """What a visitor's app pushed with `updateVisitorInfoSrc` cmd messages.

    Easemob only appends those parameters to the panel URL on the load that follows the cmd
    message; history sessions, quality checks and the second iframe load the panel without
    them. Keeping them here lets every later load show them.
    """

    visitor_im_id = models.CharField(
        _("visitor IM ID"), max_length=VISITOR_IM_ID_MAX_LENGTH, unique=True
    )
    # name -> value, decrypted, merged across loads (the newest value of a name wins).
    params = models.JSONField(_("parameters"), default=dict)
    # name -> {"updated_at": ISO time, "unverified": bool}: when each value last arrived, and
    # whether it came as plaintext while a key was set (so it is shown but never trusted).
    param_meta = models.JSONField(_("parameter details"), default=dict)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("visitor info")
        verbose_name_plural = _("visitor info")

    def __str__(self):
        return self.visitor_im_id

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Every token starts with this, so that a leaked one is recognisable in logs and by secret
# scanners.
TOKEN_PREFIX = "crm_"  # noqa: S105 (a public marker, not a secret)
# How much of the token is kept in clear to tell tokens apart in the admin: the marker and
# 8 random characters, leaving 35 (about 210 bits) secret.
RECOGNITION_LENGTH = len(TOKEN_PREFIX) + 8
# A token is used by every request of an integration; writing `last_used_at` each time
# would turn every read into a write.
LAST_USED_PRECISION = 60


def hash_token(token):
    # A fast hash is enough: the tokens are long random strings, not passwords that could be
    # guessed from a dictionary.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class IntegrationToken(models.Model):
    """The key one business system (shop, ERP) uses to call the API. Only its hash is kept."""

    name = models.CharField(
        _("token name"),
        max_length=100,
        help_text=_("Which system uses it, e.g. “Shop” or “ERP”."),
    )
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("prefix"), max_length=RECOGNITION_LENGTH, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("integration token")
        verbose_name_plural = _("integration tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def set_new_token(self):
        """Give this record a fresh token and return it: the only time it is ever seen."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        self.prefix = token[:RECOGNITION_LENGTH]
        return token

    @property
    def is_revoked(self):
        return self.revoked_at is not None

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            IntegrationToken.objects.filter(pk=self.pk).update(revoked_at=self.revoked_at)

    def record_use(self):
        now = timezone.now()
        if self.last_used_at and (now - self.last_used_at).total_seconds() < LAST_USED_PRECISION:
            return
        self.last_used_at = now
        IntegrationToken.objects.filter(pk=self.pk).update(last_used_at=now)

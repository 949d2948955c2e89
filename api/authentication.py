from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .models import IntegrationToken, hash_token

KEYWORDS = ("bearer", "token")


class IntegrationTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` (or `Token <token>`) with an IntegrationToken.

    An integration is not a person, so `request.user` stays anonymous and `request.auth` is
    the token; `permissions.IsIntegration` lets only such requests through.
    """

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Invalid Authorization header: expected “Bearer <token>”.")
            )
        token = IntegrationToken.objects.filter(token_hash=hash_token(parts[1])).first()
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if token.is_revoked:
            raise exceptions.AuthenticationFailed(_("This token has been revoked."))
        token.record_use()
        return AnonymousUser(), token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to requests without a usable token.
        return "Bearer"

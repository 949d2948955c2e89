from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .models import IntegrationToken


class IntegrationRateThrottle(SimpleRateThrottle):
    """Requests per minute per integration token, counted in the default cache."""

    scope = "integration"

    def get_rate(self):
        # Read when used rather than when the class is defined, so that a changed setting
        # (in tests, or a reload) takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, IntegrationToken):
            return None
        # The hash, not the primary key: a key never reused for another token.
        return self.cache_format % {"scope": self.scope, "ident": request.auth.token_hash}

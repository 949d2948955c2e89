from rest_framework import permissions

from .models import IntegrationToken


class IsIntegration(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, IntegrationToken)

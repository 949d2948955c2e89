from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running in production: the health check, request ids and their log lines."""

    name = "ops"

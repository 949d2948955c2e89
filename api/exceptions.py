from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status, views


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is larger than the server accepts.")
    default_code = "request_too_large"


def exception_handler(exc, context):
    # DRF reads the body through Django, which refuses one over DATA_UPLOAD_MAX_MEMORY_SIZE
    # with an exception that would become an HTML 400 page instead of a JSON answer.
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    return views.exception_handler(exc, context)

"""What the CRM answers when it fails itself: 503 while the database is unreachable or stalled,
500 for anything unexpected. Each part answers in its own form: the panel a small framable page
in the workbench's language (or JSON for its actions), the API JSON, the admin a page in the
user's language. Django calls these only with debug off; with debug on it shows the traceback.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from iframe_panel import responses as panel


def server_error(request):
    error = sys.exc_info()[1]
    status = 503 if isinstance(error, (OperationalError, InterfaceError)) else 500
    try:
        match = resolve(request.path_info)
    except Resolver404:
        match = None
    namespace = match.namespace if match else ""
    if namespace == "iframe_panel":
        return panel.fault(request, match.url_name, status)
    if namespace == "api":
        response = JsonResponse({"detail": _unavailable() if status == 503 else _failed()})
        response.status_code = status
        response["Cache-Control"] = "no-store"
        return response
    message = _unavailable() if status == 503 else _failed()
    return render(
        request, "server_error.html", {"message": message, "status": status}, status=status
    )


def _unavailable():
    return _("The CRM is temporarily unavailable. Try again in a minute.")


def _failed():
    return _(
        "Something went wrong on our side. Try again; if it keeps happening, tell your "
        "administrator."
    )

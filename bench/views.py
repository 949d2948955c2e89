"""Reference views for bench/run.py, served only under bench/settings.py."""

from django.http import HttpResponse, HttpResponseNotFound
from django.utils.html import format_html

from customers.models import Customer


def floor(request):
    """Nothing but the stack: gunicorn, Django's middleware, a response. No panel load can be
    faster than this."""
    return HttpResponse("ok", content_type="text/plain")


def seed_sample(request):
    """What Easemob's documentation sample does in its iframe page, done properly: one indexed
    SELECT of the customer by `visitorImId` (through VisitorIdentity's unique index) and three
    escaped fields. The lookup a user would otherwise write, and the panel's yardstick."""
    customer = (
        Customer.objects.filter(visitor_identities__visitor_im_id=request.GET.get("visitorImId"))
        .values("name", "phone", "email")
        .first()
    )
    if customer is None:
        return HttpResponseNotFound("unknown visitor", content_type="text/plain")
    return HttpResponse(
        format_html(
            '<!doctype html><meta charset="utf-8"><p>{}</p><p>{}</p><p>{}</p>',
            customer["name"],
            customer["phone"],
            customer["email"],
        )
    )

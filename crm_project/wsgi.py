import os

from django.core.wsgi import get_wsgi_application

from ops.wsgi import ContentTypeGuard

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings")

# gunicorn and runserver (WSGI_APPLICATION) load this; the guard answers the requests that
# Django would fail on while it builds its request object (ops/wsgi.py).
application = ContentTypeGuard(get_wsgi_application())

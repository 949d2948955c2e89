"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py crm_project.wsgi`.

Each value can be overridden from the environment (GUNICORN_BIND, GUNICORN_WORKERS, ...).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The panel's work is mostly waiting on the database, so a few threads per worker serve the
# bursts of an office switching conversations without more memory.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 30
keepalive = 5
# Restart workers now and then so that a slow leak can never grow without bound.
max_requests = 2000
max_requests_jitter = 200
# Trust X-Forwarded-* only from the local proxy.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# The path without its query string (%(U)s, never %(r)s or %(q)s): panel URLs carry visitors'
# names and phones. No referrer either: it is the panel's full URL. The last field is the
# request id the app answers with, as in nginx's log and the app's own log lines.
access_log_format = (
    '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s" %({x-request-id}o)s'
)
errorlog = "-"

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
# No runtime control socket (gunicorn 24+): its default path, $HOME/.gunicorn/gunicorn.ctl, is
# shared by every gunicorn of the same user (two app servers on one host) and read-only under
# the systemd unit; systemctl reload and restart do the same job.
control_socket_disable = True
# Trust X-Forwarded-* only from the local proxy.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# The panel takes up to PANEL_MAX_PARAMS (60) parameters of PANEL_MAX_VALUE_LENGTH (2,048)
# characters, and Easemob appends every parameter the visitor's app pushes: a URL of about
# 127 KB with every value at its longest in ASCII (hex ciphertext, ids, phones). gunicorn's
# request line limit goes no higher than 8,190 bytes, or 0 for none; its default, 4,094, answered
# a bare English 414 before the panel could say which parameter is too long. So none here: the
# app enforces its own limits, and nginx bounds the request line (large_client_header_buffers
# 128k in deploy/nginx/crm.conf) before gunicorn, which listens on 127.0.0.1 only, sees it.
limit_request_line = 0
# A header line as long as nginx lets through (128 KiB), so that the two agree.
limit_request_field_size = 128 * 1024

accesslog = "-"
# The path without its query string (%(U)s, never %(q)s): panel URLs carry visitors' names and
# phones. No referrer either: it is the panel's full URL. The last field is the request id the
# app answers with, as in nginx's log and the app's own log lines. The logger class hides the
# panel token in the path and escapes control characters, in this log and in the error log.
access_log_format = (
    '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s" %({x-request-id}o)s'
)
errorlog = "-"
logger_class = "ops.gunicorn_logging.Logger"

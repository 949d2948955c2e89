"""Settings for the CRM, read once from the environment (and an optional `.env` file).

Every variable is documented in README.md ("Configuration") and `.env.example`.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    # Values already in the process environment win over the file.
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off. Generate one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    SECRET_KEY = "django-insecure-development-only-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is required when DJANGO_DEBUG is off, e.g. crm.example.com"
    )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles so that `runserver` serves static files the way production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "import_export",
    "customers",
    "orders",
    "iframe_panel",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "ops",
]

MIDDLEWARE = [
    "ops.middleware.RequestIdMiddleware",
    # Load balancers' /healthz, before host validation and the HTTPS redirect (see its docstring).
    "ops.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "crm_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "crm_project.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    # Persistent connections save a TCP + auth round trip on every panel load.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two concurrent
    # read-then-write transactions wait for each other instead of failing with "database is
    # locked"; WAL lets readers go on while one writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed files in production (served for a year by whitenoise);
        # plain files in debug so that no collectstatic is needed while developing.
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Security -------------------------------------------------------------------------------
# Production sits behind a proxy that terminates TLS (nginx, a load balancer). The proxy must
# set X-Forwarded-Proto itself (overwriting what the client sent); see docs/deploy.md.
_proxy_header = env.str(
    "DJANGO_SECURE_PROXY_SSL_HEADER", default="" if DEBUG else "HTTP_X_FORWARDED_PROTO"
)
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancer health checks reach the app over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Everything but the panel refuses to be framed; the panel sends its own CSP frame-ancestors.
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = [
    # HSTS for every subdomain, and the browsers' preload list, commit the whole domain to
    # HTTPS, which is the domain owner's decision rather than this app's. Both are off by
    # default and switched on with DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS / _PRELOAD.
    "security.W005",
    "security.W021",
]

# --- The Easemob panel ----------------------------------------------------------------------
PANEL_TOKEN = env.str("PANEL_TOKEN", default="dev" if DEBUG else "")
if not PANEL_TOKEN:
    raise ImproperlyConfigured(
        "PANEL_TOKEN is required when DJANGO_DEBUG is off: it is the secret path segment of "
        "the panel URL pasted into Easemob. Generate one with: "
        'python -c "import secrets; print(secrets.token_urlsafe(24))"'
    )
EASEMOB_IFRAME_KEY = env.str("EASEMOB_IFRAME_KEY", default="")
if EASEMOB_IFRAME_KEY and len(EASEMOB_IFRAME_KEY.encode("utf-8")) < 8:
    raise ImproperlyConfigured(
        "EASEMOB_IFRAME_KEY must be the key typed into Easemob, which is longer than 8 "
        "characters (DES uses its first 8 bytes)."
    )
EASEMOB_ENCRYPT_SYSTEM_PARAMS = env.bool("EASEMOB_ENCRYPT_SYSTEM_PARAMS", default=False)
if EASEMOB_ENCRYPT_SYSTEM_PARAMS and not EASEMOB_IFRAME_KEY:
    raise ImproperlyConfigured(
        "EASEMOB_ENCRYPT_SYSTEM_PARAMS is on but EASEMOB_IFRAME_KEY is empty: Easemob can only "
        "encrypt system parameters with a key."
    )
# The workbench simulator (staff only) frames the panel from our own origin.
SIMULATOR_ENABLED = DEBUG or env.bool("SIMULATOR_ENABLED", default=False)
PANEL_FRAME_ANCESTORS = env.str(
    "PANEL_FRAME_ANCESTORS", default="https://kefu.easemob.com https://*.easemob.com"
).split()
if SIMULATOR_ENABLED and "'self'" not in PANEL_FRAME_ANCESTORS:
    PANEL_FRAME_ANCESTORS.append("'self'")
# Custom or call parameters whose value is a phone number or a customer's email, used to find
# the customer. Easemob's own `email` parameter is the agent's and is never one of them.
PANEL_PHONE_PARAMS = env.list(
    "PANEL_PHONE_PARAMS", default=["phone", "mobile", "tel", "callerNumber", "caller"]
)
PANEL_EMAIL_PARAMS = env.list(
    "PANEL_EMAIL_PARAMS", default=["customerEmail", "visitorEmail", "userEmail"]
)
# Parameters of the call workbench, shown as session context rather than cached as visitor
# info. Easemob does not document them, hence a setting.
PANEL_CALL_PARAMS = env.list(
    "PANEL_CALL_PARAMS",
    default=["callId", "callerNumber", "caller", "calleeNumber", "callee", "callDirection"],
)
# Order numbers spotted in synced chat messages (a JavaScript regular expression).
PANEL_ORDER_NUMBER_PATTERN = env.str(
    "PANEL_ORDER_NUMBER_PATTERN", default=r"\b[A-Za-z]{0,4}-?\d{8,24}\b"
)
# Loads per minute and client address. A 50-agent office behind one NAT address switching
# conversations stays far below the default; failures (wrong token, undecryptable
# parameters) are limited much more tightly.
PANEL_RATE_LIMIT = env.int("PANEL_RATE_LIMIT", default=600)
PANEL_FAILURE_RATE_LIMIT = env.int("PANEL_FAILURE_RATE_LIMIT", default=30)
PANEL_MAX_PARAMS = env.int("PANEL_MAX_PARAMS", default=60)
PANEL_MAX_VALUE_LENGTH = env.int("PANEL_MAX_VALUE_LENGTH", default=2048)
# How long the signed token in a panel page stays valid for its actions (reveal, lookups).
PANEL_ACTION_MAX_AGE = env.int("PANEL_ACTION_MAX_AGE", default=8 * 3600)
# How many proxies in front of the app append to X-Forwarded-For (nginx: 1). The client's
# address for rate limits and the audit log is read that many entries from the right.
NUM_PROXIES = env.int("DJANGO_NUM_PROXIES", default=0 if DEBUG else 1)

# One line per record on stderr (journald under systemd), each with the request's id. Request
# errors are logged as method, path, status: never the query string, which on the panel holds
# visitors' names and phone numbers (ops.log).
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")

# --- The API for the business system (shop/ERP) -------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.IntegrationTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsIntegration"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.IntegrationRateThrottle"],
    # Requests per integration token, counted in the default cache (Redis in production, so
    # that every process shares one count).
    "DEFAULT_THROTTLE_RATES": {"integration": env.str("API_RATE_LIMIT", default="1200/min")},
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    # JSON only: integrations are machines, and people read the API at /api/docs/.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Customer service CRM API",
    "DESCRIPTION": "Customers, orders and Easemob visitor ids pushed by the business system.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed drf-spectacular-sidecar: CDNs are neither reachable from
    # nor allowed in the networks this CRM is installed in.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "ops.log.RequestContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default handlers (a console in debug, mail to ADMINS) would print lines
        # twice or unfiltered; its records go to the root handler above instead.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
    },
}

# --- Import and export (django-import-export) -------------------------------------------------
# A file is imported whole or not at all: every row in one transaction, rolled back on any error.
IMPORT_EXPORT_USE_TRANSACTIONS = True

# --- Personal data ----------------------------------------------------------------------------
# What the app of a visitor never linked to a customer pushed (VisitorInfo) is deleted by
# `manage.py prune_visitor_info` once it has not been updated for this many days. Linked
# visitors' info stays as long as the customer does (until erased).
VISITOR_INFO_RETENTION_DAYS = env.int("VISITOR_INFO_RETENTION_DAYS", default=90)
if VISITOR_INFO_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("VISITOR_INFO_RETENTION_DAYS must be at least 1.")

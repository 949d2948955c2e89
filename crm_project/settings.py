"""Settings for the CRM, read once from the environment (and an optional `.env` file).

Every variable is documented in README.md ("Configuration") and `.env.example`.
"""

from datetime import timedelta
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
    # django.contrib.admin with the site of crm_project/admin.py (two-factor when switched on).
    "crm_project.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles so that `runserver` serves static files the way production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "import_export",
    # Who changed what and when on customers, orders and items (customers/history.py).
    "simple_history",
    "customers",
    "orders",
    "iframe_panel",
    # The workbench simulator (SIMULATOR_ENABLED below).
    "workbench",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "ops",
    "crm_project.apps.AxesConfig",
    "django_otp",
    "crm_project.apps.TOTPConfig",
    "crm_project.apps.StaticTokensConfig",
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
    "django_otp.middleware.OTPMiddleware",
    # Lends the request's user to the change history of what the request saves.
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
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
    # The panel's pages (iframe_panel/jinja2/), rendered on every conversation switch: Jinja2
    # takes a third less time on them than Django's engine (docs/benchmarks.md). Second, so that
    # a template name is looked up in Django's templates first and the admin is untouched.
    {
        "NAME": "jinja2",
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "APP_DIRS": True,
        "OPTIONS": {"environment": "iframe_panel.jinja_env.environment"},
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's PostgreSQL backend with bounded waits in requests (ops/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "ops.postgresql"
# A database that is down or stalled costs a request at most a few seconds (a 503 page), never
# the agent's workbench: give up connecting after DATABASE_CONNECT_TIMEOUT seconds (libpq's
# minimum is 2); end a panel request's database round trip after PANEL_DATABASE_TIMEOUT
# seconds (a lock wait, a stalled server); in other web requests, cancel a statement after
# DATABASE_STATEMENT_TIMEOUT seconds (0: no limit). Management commands are not limited.
# /healthz answers within HEALTHZ_TIMEOUT seconds whatever the database does.
DATABASE_CONNECT_TIMEOUT = env.int("DATABASE_CONNECT_TIMEOUT", default=2)
DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=30)
PANEL_DATABASE_TIMEOUT = env.float("PANEL_DATABASE_TIMEOUT", default=3)
HEALTHZ_TIMEOUT = env.float("HEALTHZ_TIMEOUT", default=1.5)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two concurrent
    # read-then-write transactions wait for each other instead of failing with "database is
    # locked"; WAL lets readers go on while one writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Redis holds counters only (rate limits); while it is unreachable or stalled each process
    # counts in its own memory (ops.cache). Short timeouts: Redis answers in a millisecond on
    # a LAN, so a stall costs the panel a fraction of a second, once per process and interval.
    CACHES["default"]["BACKEND"] = "ops.cache.FallbackRedisCache"
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {
            "socket_connect_timeout": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
            "socket_timeout": env.float("CACHE_SOCKET_TIMEOUT", default=0.25),
            "RETRY_INTERVAL": env.float("CACHE_RETRY_INTERVAL", default=5),
        }
    )

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
# The project's own static files (the admin's dashboard); the apps keep theirs.
STATICFILES_DIRS = [BASE_DIR / "static"]
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
_GENERATE_PANEL_TOKEN = 'python -c "import secrets; print(secrets.token_urlsafe(24))"'  # noqa: S105
if not PANEL_TOKEN:
    raise ImproperlyConfigured(
        "PANEL_TOKEN is required when DJANGO_DEBUG is off: it is the secret path segment of "
        f"the panel URL pasted into Easemob. Generate one with: {_GENERATE_PANEL_TOKEN}"
    )
# Whoever has the token reads every customer the panel shows, and the URL cannot carry a login,
# so production refuses one that could be guessed: short, a default, or a pattern ("aaaa…").
if not DEBUG and (len(PANEL_TOKEN) < 20 or len(set(PANEL_TOKEN)) < 12):
    raise ImproperlyConfigured(
        "PANEL_TOKEN is too easy to guess: use 20 or more random characters (12 or more "
        "different ones). Generate one "
        f"with: {_GENERATE_PANEL_TOKEN}"
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
# Order numbers spotted in synced chat messages (a JavaScript regular expression): up to four
# capital letters and at least four digits (SO-1001, SO20261123001), or ten digits and more
# (2026112300012301); not a price (1299.00, RMB1299), a year or a date (20261123). Whatever it
# says, the panel also spots the order numbers of the customer it shows.
PANEL_ORDER_NUMBER_PATTERN = env.str(
    "PANEL_ORDER_NUMBER_PATTERN",
    default=r"\b(?!(?:RMB|CNY|USD)\d)(?:[A-Z]{1,4}-?\d{4,24}|\d{10,24})\b",
)
# How long the panel keeps a customer's rendered card in the cache (0: never). A change to the
# customer shows on the next load whatever this says: the card is cached under the customer's
# revision (Customer.revision).
PANEL_CACHE_SECONDS = env.int("PANEL_CACHE_SECONDS", default=900)
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

# --- Change history (django-simple-history; customers/history.py) -----------------------------
# The History page shows versions and does not revert to them: an order's version holds neither
# its items nor a total that matches them, so a revert would restore half an order.
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- Admin logins -----------------------------------------------------------------------------
# django-axes counts failed admin logins per username and client address, in the database: a
# lockout survives restarts, holds across app hosts, and does not depend on Redis (the admin
# keeps working, lockouts included, while the cache is down). Failures of one username never
# lock out another username from the same address: a whole office may share one NAT address.
AUTHENTICATION_BACKENDS = [
    # Refuses a locked-out username+address before the password is checked; logs no one in.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ADMIN_LOGIN_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5)
ADMIN_LOGIN_COOLOFF_MINUTES = env.int("ADMIN_LOGIN_COOLOFF_MINUTES", default=15)
if ADMIN_LOGIN_FAILURE_LIMIT < 1 or ADMIN_LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured(
        "ADMIN_LOGIN_FAILURE_LIMIT and ADMIN_LOGIN_COOLOFF_MINUTES must be at least 1."
    )
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = ADMIN_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=ADMIN_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The client's address as the panel's rate limits and audit log read it: NUM_PROXIES entries from
# the right of X-Forwarded-For. Axes' default, REMOTE_ADDR, is nginx's own address for every
# client; one function for every per-address count keeps them agreeing (and needs no ipware).
AXES_CLIENT_IP_CALLABLE = "iframe_panel.ratelimit.client_ip"
AXES_USERNAME_CALLABLE = "crm_project.admin.login_username"
AXES_RESET_ON_SUCCESS = True
# Attempts made while locked out are refused without being counted: the lock lifts
# ADMIN_LOGIN_COOLOFF_MINUTES after the last counted failure, and an attacker who keeps trying
# does not grow the attempt's row (axes appends every counted attempt's form data to it).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A 429 page in the admin's language, with Retry-After (crm_project/admin.py).
AXES_LOCKOUT_CALLABLE = "crm_project.admin.lockout_response"
# Axes' log lines name the lockout parameters, masked below, and the path; not verbose, they
# leave out the user agent (a string the client chooses) and the start-up banner of every process.
AXES_VERBOSE = False
# Masked in log lines and in the form data axes keeps with each attempt (the password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken", "otp_token"]
# Axes writes two INFO lines for every attempt (one of them a cleanup of nothing); its warnings
# (a failure, a lockout) are the ones worth reading.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}
# Neither django-axes nor django-otp ships Chinese: their admin strings are translated there.
LOCALE_PATHS.append(BASE_DIR / "locale" / "third_party")
# Two-factor authentication (django-otp): with it on, the admin asks staff for the code of their
# TOTP device after the password, and refuses staff without one. Enrol devices before turning
# it on (README, "Admin logins").
ADMIN_TWO_FACTOR = env.bool("ADMIN_TWO_FACTOR", default=False)
# The name authenticator apps show next to the username.
OTP_TOTP_ISSUER = env.str("ADMIN_TWO_FACTOR_ISSUER", default="Customer service CRM")

# --- Personal data ----------------------------------------------------------------------------
# What the app of a visitor never linked to a customer pushed (VisitorInfo) is deleted by
# `manage.py prune_visitor_info` once it has not been updated for this many days. Linked
# visitors' info stays as long as the customer does (until erased).
VISITOR_INFO_RETENTION_DAYS = env.int("VISITOR_INFO_RETENTION_DAYS", default=90)
if VISITOR_INFO_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("VISITOR_INFO_RETENTION_DAYS must be at least 1.")

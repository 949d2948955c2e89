"""The project's settings, with the values the test suite depends on.

`DATABASE_URL` and `CACHE_URL` still come from the environment, so that the same suite runs on
SQLite and on PostgreSQL (see .ci/run).
"""

import os

os.environ["DJANGO_DEBUG"] = "false"
os.environ["DJANGO_SECRET_KEY"] = "tests-only-secret-key-" + "x" * 40
os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost,127.0.0.1"
os.environ["PANEL_TOKEN"] = "panel-token-for-tests-7Qm2x"
os.environ["EASEMOB_IFRAME_KEY"] = ""
os.environ["EASEMOB_ENCRYPT_SYSTEM_PARAMS"] = "false"
# The test client speaks plain HTTP.
os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "false"

from crm_project.settings import *  # noqa: E402, F403

# No collectstatic before tests: the manifest storage is exercised in test_settings.py.
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Serve static files straight from the apps (as in debug) so the live-server browser tests
# get them without a collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

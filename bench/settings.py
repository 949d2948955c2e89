"""The production settings with the bench-only URLs of bench/urls.py: the two reference views
go through the same middleware, database and cache as the panel they are compared with."""

from crm_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

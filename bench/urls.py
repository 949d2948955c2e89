"""The app's URLs plus the two reference views bench/run.py measures the panel against."""

from django.urls import path

from crm_project import urls as app_urls

from . import views

urlpatterns = [
    path("bench/floor/", views.floor),
    path("bench/seed-sample/", views.seed_sample),
    *app_urls.urlpatterns,
]

handler500 = app_urls.handler500

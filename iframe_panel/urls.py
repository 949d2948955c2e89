from django.urls import path

from . import views

app_name = "iframe_panel"

urlpatterns = [
    path("<str:token>/", views.panel, name="panel"),
    path("<str:token>/reveal/", views.reveal, name="reveal"),
    path("<str:token>/lookup/", views.lookup, name="lookup"),
]

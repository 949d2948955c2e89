from django.urls import path

from . import views

app_name = "simulator"

urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("frame-url/", views.frame_url_view, name="frame_url"),
]

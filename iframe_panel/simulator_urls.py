from django.urls import path

from . import simulator

app_name = "simulator"

urlpatterns = [
    path("", simulator.workbench, name="workbench"),
    path("frame-url/", simulator.frame_url_view, name="frame_url"),
]

from django.urls import path

from . import actions, views

app_name = "iframe_panel"

urlpatterns = [
    path("<str:token>/", views.panel, name="panel"),
    path("<str:token>/reveal/", actions.reveal, name="reveal"),
    path("<str:token>/lookup/", actions.lookup, name="lookup"),
    path("<str:token>/search/", actions.search, name="search"),
    path("<str:token>/link/", actions.link, name="link"),
    path("<str:token>/create/", actions.create, name="create"),
    path("<str:token>/note/", actions.note, name="note"),
    path("<str:token>/unlink/", actions.unlink, name="unlink"),
    path("<str:token>/follow-up/", actions.follow_up, name="follow_up"),
    path("<str:token>/follow-up/done/", actions.follow_up_done, name="follow_up_done"),
]

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from . import views

app_name = "api"

urlpatterns = [
    path("v1/customers/", views.CustomerList.as_view(), name="customer-list"),
    path("v1/customers/<str:external_id>/", views.CustomerDetail.as_view(), name="customer-detail"),
    path(
        "v1/customers/<str:external_id>/visitor-ids/",
        views.CustomerVisitorIds.as_view(),
        name="customer-visitor-ids",
    ),
    path(
        "v1/customers/<str:external_id>/visitor-ids/<str:visitor_im_id>/",
        views.CustomerVisitorIdDetail.as_view(),
        name="customer-visitor-id",
    ),
    path("v1/orders/<str:number>/", views.OrderDetail.as_view(), name="order-detail"),
    # The schema and its documentation are public: they describe the API, not its data.
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
        name="schema",
    ),
    path(
        "docs/",
        views.ApiDocs.as_view(
            url_name="api:schema", authentication_classes=[], permission_classes=[]
        ),
        name="docs",
    ),
]

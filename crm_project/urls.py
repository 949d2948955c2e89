from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("Customer service CRM")
admin.site.site_title = _("Customer service CRM")
admin.site.index_title = _("Customers and orders")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("panel/", include("iframe_panel.urls")),
]

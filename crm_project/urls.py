from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from iframe_panel.admin_views import easemob_integration

admin.site.site_header = _("Customer service CRM")
admin.site.site_title = _("Customer service CRM")
admin.site.index_title = _("Customers and orders")
# The CRM has no public site: "View site" led to a 404.
admin.site.site_url = None
# No navigation sidebar: at 1280 px it and a list's filters left the table too narrow (names
# and companies wrapped a character a line); the home page and the breadcrumbs lead everywhere.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/easemob/", easemob_integration, name="easemob_integration"),
    path("admin/", admin.site.urls),
    # set_language: the admin header's zh-hans / en switch (templates/admin/base_site.html).
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("api.urls")),
    path("panel/", include("iframe_panel.urls")),
    path("simulator/", include("workbench.urls")),
]

handler500 = "crm_project.errors.server_error"

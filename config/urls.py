"""URLs: pages, the admin, the REST API and live video."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def favicon(request):
    """Browsers ask for /favicon.ico; the icon is a static SVG (its hashed name is known only at run time)."""
    return HttpResponseRedirect(static("favicon.svg"))


urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("dispatch.urls")),
    path("", include("liveview.urls")),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("dispatch.api")),
    path("api/v1/", include("alerts.api")),
    path("live/", include("liveview.api")),
]

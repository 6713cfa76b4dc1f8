from django.urls import path

from dispatch import views

urlpatterns = [
    path("console/", views.console, name="dispatch-console"),
    path("mdt/", views.mdt, name="mdt"),
]

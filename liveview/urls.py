from django.urls import path

from liveview import views

urlpatterns = [
    path("wall/", views.wall, name="live-wall"),
]

"""Sign-in, sign-out and the page each role lands on."""

from functools import wraps

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from accounts.forms import SignInForm
from accounts.roles import LANDING_PAGE, Role, has_role, primary_role


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def role_required(*roles: Role):
    """Let signed-in users with one of the roles through; 403 for the others."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied("This page is for the " + " or ".join(role.value for role in roles) + " role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@login_required
def home(request):
    """Send each user to their role's page."""
    role = primary_role(request.user)
    if role is None:
        return render(request, "accounts/no_role.html", status=403)
    return redirect(LANDING_PAGE[role])

"""Audit rows for sign-ins, sign-outs and role changes, wherever they happen.

Django signals are the one place every sign-in and every group change passes,
whether from the sign-in page, the admin or a shell.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from accounts.middleware import current_request
from audit.services import audit_record

User = get_user_model()


@receiver(user_logged_in, dispatch_uid="beacon-audit-login")
def _audit_login(sender, request, user, **kwargs):
    audit_record(action="login", actor=user, request=request)


@receiver(user_logged_out, dispatch_uid="beacon-audit-logout")
def _audit_logout(sender, request, user, **kwargs):
    if user is not None:
        reason = getattr(request, "_beacon_logout_reason", "signed out")
        audit_record(action="logout", actor=user, request=request, detail={"reason": reason})


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="beacon-audit-roles")
def _audit_role_change(sender, instance, action, pk_set, **kwargs):
    if action not in {"post_add", "post_remove", "post_clear"} or not isinstance(instance, User):
        return
    from django.contrib.auth.models import Group

    names = sorted(Group.objects.filter(pk__in=pk_set or []).values_list("name", flat=True))
    request = current_request.get()
    actor = getattr(request, "user", None)
    audit_record(
        action="role.changed",
        actor=actor,
        actor_name="" if actor is not None and actor.is_authenticated else "system",
        request=request,
        target=f"user:{instance.get_username()}",
        detail={"change": action.removeprefix("post_"), "groups": names},
    )

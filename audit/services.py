"""The one writer of the audit trail."""

from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditRecord

GENESIS_HASH = "0" * 64
# Any fixed 64-bit key: serializes appends so the chain never forks.
_CHAIN_LOCK_KEY = 0x6265_6163_6F6E_0001


def actor_user(actor):
    """The signed-in user behind a change, or None for the system (a device, a timer)."""
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def actor_name(actor) -> str:
    """The name a timeline or audit row shows for whoever made a change."""
    user = actor_user(actor)
    return user.get_username() if user is not None else "system"


def client_ip(request) -> str | None:
    """The client's address as the server saw it (the proxy's when behind one)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    action: str,
    actor=None,
    actor_name: str = "",
    target: str = "",
    outcome: str = "ok",
    request=None,
    source_ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Append one row to the hash chain, inside the caller's transaction if any."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_name = actor_name or actor.get_username()
    else:
        actor = None
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditRecord.objects.order_by("-id").only("hash").first()
        record = AuditRecord(
            at=timezone.now(),
            actor=actor,
            actor_name=actor_name,
            action=action,
            target=target,
            outcome=outcome,
            source_ip=source_ip or client_ip(request),
            detail=detail or {},
            previous_hash=last.hash if last else GENESIS_HASH,
        )
        record.hash = record.compute_hash()
        record.save()
    return record


def audit_chain_breaks() -> list[int]:
    """Ids of rows whose hash or link does not match: empty when nobody tampered."""
    broken = []
    previous = GENESIS_HASH
    for record in AuditRecord.objects.order_by("id").iterator():
        if record.previous_hash != previous or record.compute_hash() != record.hash:
            broken.append(record.id)
        previous = record.hash
    return broken

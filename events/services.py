"""The one way a console-visible change enters the event log."""

from typing import Any

from django.db import connection, transaction

from events.models import Event

# Any fixed 64-bit key. Held until commit, it makes sequence order commit
# order on PostgreSQL: without it, a transaction that took seq 7 could commit
# after one that took seq 8, and a console resuming after 8 would never see 7.
# SQLite serializes writers itself (BEGIN IMMEDIATE).
_EVENT_LOCK_KEY = 0x6265_6163_6F6E_0002


def record_event(kind: str, data: dict[str, Any]) -> Event:
    """Append an event in the caller's transaction and publish it after commit."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction that makes the change.")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_EVENT_LOCK_KEY])
    # The next number is taken under the lock rather than from the table's
    # sequence: a PostgreSQL sequence keeps the numbers of rolled-back inserts,
    # and a gap in the log would look to a console like an event it missed.
    event = Event.objects.create(seq=head_seq() + 1, kind=kind, data=data)

    from events.hub import publish_event  # the hub imports Django's async parts lazily

    transaction.on_commit(lambda: publish_event(event))
    return event


def head_seq() -> int:
    """The newest sequence number, 0 for an empty log."""
    last = Event.objects.order_by("-seq").values_list("seq", flat=True).first()
    return last or 0


def events_after(seq: int, limit: int | None = None) -> list[Event]:
    """Every event after `seq`, oldest first."""
    qs = Event.objects.filter(seq__gt=seq).order_by("seq")
    return list(qs[:limit] if limit else qs)

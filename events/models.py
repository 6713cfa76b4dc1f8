"""The event log: every console-visible change, in order, for replay.

The channel layer may drop a message; this table may not. A console that
missed anything asks for every row after the last sequence it saw.
"""

from django.db import models


class Event(models.Model):
    # The primary key is the sequence consoles see. Appends are serialized
    # (see events.services.record_event) so it grows in commit order.
    seq = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=64, help_text="<noun>.<verb>, e.g. alert.raised")
    data = models.JSONField()
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"

    def as_frame(self) -> dict:
        """The frame a console receives for this event (DESIGN.md, Contracts)."""
        return {"type": "event", "seq": self.seq, "event": self.kind, "data": self.data}

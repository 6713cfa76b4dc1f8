"""The log's sequence has no holes, so a console never waits for an event that does not exist."""

import pytest
from django.db import transaction

from events.models import Event
from events.services import record_event

pytestmark = pytest.mark.django_db(transaction=True)


class Abandoned(Exception):
    pass


def test_a_rolled_back_change_leaves_no_hole_in_the_sequence():
    with transaction.atomic():
        first = record_event("call.created", {"n": 1})
    with pytest.raises(Abandoned), transaction.atomic():
        record_event("call.created", {"n": "rolled back"})
        raise Abandoned
    with transaction.atomic():
        second = record_event("call.created", {"n": 2})
    assert second.seq == first.seq + 1
    assert list(Event.objects.values_list("data__n", flat=True)) == [1, 2]

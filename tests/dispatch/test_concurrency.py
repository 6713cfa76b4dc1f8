"""Two people acting at the same moment: one unit assigned twice, many calls taken at once.

These run in real transactions on separate connections (threads), so the row
locks and the partial unique constraint do the work, on SQLite and PostgreSQL.
"""

import threading

import pytest
from django.db import connection

from config.errors import RefusedChange
from dispatch import services
from dispatch.models import Assignment, Call, UnitStatus

# The APCO codes come back after each flush (dispatch.apps restores them on post_migrate).
pytestmark = pytest.mark.django_db(transaction=True)


def run_at_once(count: int, work) -> list:
    """Run `work(i)` in `count` threads released together; return each result or exception."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # the test inspects what each thread met
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_dispatchers_assigning_one_unit_at_once_one_wins_and_one_gets_a_conflict(make_call, make_unit, make_user):
    unit = make_unit("2A33")
    calls = [make_call(), make_call()]
    dispatchers = [make_user("alex", "dispatcher"), make_user("sam", "dispatcher")]

    results = run_at_once(2, lambda i: services.call_assign_unit(call=calls[i], unit=unit, actor=dispatchers[i]))

    wins = [r for r in results if isinstance(r, Assignment)]
    refusals = [r for r in results if isinstance(r, RefusedChange)]
    assert len(wins) == 1, results
    assert len(refusals) == 1, results
    assert "2A33" in str(refusals[0])
    assert Assignment.objects.filter(unit=unit, cleared_at__isnull=True).count() == 1
    unit.refresh_from_db()
    assert unit.status == UnitStatus.DISPATCHED


def test_calls_taken_at_the_same_moment_get_distinct_consecutive_numbers(make_call):
    results = run_at_once(8, lambda i: make_call().number)

    assert all(isinstance(r, str) for r in results), results
    assert len(set(results)) == 8
    sequence = sorted(int(number.split("-")[1]) for number in results)
    assert sequence == list(range(1, 9))
    assert Call.objects.count() == 8


def test_closing_a_call_while_its_unit_changes_status_leaves_them_consistent(
    make_call, make_unit, dispatcher, disposition
):
    call = make_call()
    unit = make_unit("2A33")
    services.call_assign_unit(call=call, unit=unit, actor=dispatcher)

    def work(i):
        if i == 0:
            return services.call_close(call=call, disposition=disposition, actor=dispatcher)
        return services.unit_change_status(unit=unit, status=UnitStatus.ON_SCENE, actor=dispatcher)

    results = run_at_once(2, work)

    assert not any(isinstance(r, Exception) and not isinstance(r, RefusedChange) for r in results), results
    call.refresh_from_db()
    unit.refresh_from_db()
    assert call.status == "Closed"
    assert unit.status == UnitStatus.AVAILABLE
    assert not Assignment.objects.filter(unit=unit, cleared_at__isnull=True).exists()

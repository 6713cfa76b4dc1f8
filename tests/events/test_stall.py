"""Issue 4 on real servers: a console stops reading for 15 s while calls flow; nobody loses or waits.

Calls are created over the HTTP API of the server under test, so each
call.created event is made, logged and published in the server process, as
in the embedded default (no Redis needed). The consoles behave as
static/js/console-socket.js does (bench.stall.Console): they acknowledge,
resume on a gap and reconnect with ?after= on a close. Heartbeats come every
4 s as in production, so the stalled console is found after the product's
own silence limit (two heartbeats and a second), under Daphne too, where the
server's send never waits and the console's queue never fills.
"""

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async

from bench.stall import ALLOWED_GROWTH_MS, logged_after, run_stall, summarize
from tests.events.conftest import record, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

RATE = 20  # calls a second
BASELINE, STALL = 5, 15  # seconds
RAW_P99_GROWTH_MS = 250


def api_token(user) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
async def test_a_console_that_stops_reading_for_15_s_ends_with_every_event_once_and_delays_nobody(
    start_server, dispatcher, server
):
    url = start_server(server, BEACON_TEST_HEARTBEAT_SECONDS="4", LOG_LEVEL="ERROR")
    cookie = await sync_to_async(session_cookie)(dispatcher)
    token = await sync_to_async(api_token)(dispatcher)
    # The log's first row: sequences then run on from it. (After another
    # test's flush they would start past an empty log, which a console
    # resuming at 0 takes for a log trimmed by retention: a snapshot.)
    start = (await database_sync_to_async(record)()).seq

    run = await run_stall(url, cookie, token, healthy=20, rate=RATE, baseline=BASELINE, stall=STALL)
    logged = await database_sync_to_async(logged_after)(start)
    figures = summarize(run, logged)
    print(server, figures)  # shown with -s, and on failure

    assert not run.failures, run.failures[:3]
    assert len(logged) >= 0.7 * RATE * (BASELINE + STALL), "calls did not flow at the rate the test needs"
    # Every healthy console applied every event, in order, and was sent none twice.
    assert figures["healthy_complete"], figures["healthy_incomplete"]
    assert figures["healthy_closes"] == 0  # none was taken for a stalled one
    assert figures["healthy_duplicates"] == 0
    # The stalled console was found and closed (4008, or a reset when the
    # server gives up waiting for its answer to the close), came back with
    # ?after= and ended with every event exactly once, none sent twice.
    assert run.stalled.closes, "the stalled console was never closed"
    assert set(run.stalled.closes) <= {4008, None}
    assert figures["stalled_complete"]
    assert figures["stalled_duplicates"] == 0
    assert figures["stalled_snapshots"] == 1  # the log replayed the gap; no snapshot was needed
    # Nobody waited for it (issue 4: latency grows by at most 50 ms). A
    # console held up behind the stalled one would wait seconds, and would
    # show in the median and in the lag behind the first console to apply the
    # same event; both must stay within 50 ms. The p99 of a window is its few
    # slowest events: on this shared 2-core machine a commit or a scheduling
    # hiccup delays one event for everyone by up to ~150 ms now and then, in
    # either window, so the raw p99 gets a bound that still fails on seconds.
    assert figures["p50_during"] - figures["p50_before"] <= ALLOWED_GROWTH_MS, figures
    assert figures["lag_p99_during"] - figures["lag_p99_before"] <= ALLOWED_GROWTH_MS, figures
    assert figures["p99_during"] - figures["p99_before"] <= RAW_P99_GROWTH_MS, figures

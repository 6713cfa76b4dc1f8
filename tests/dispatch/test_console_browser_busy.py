"""A busy night on the dispatcher console: more calls and units than fit, in real Chromium."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from dispatch import services
from dispatch.models import Agency, Call, IncidentType, Unit, UnitStatus
from tests.support import screenshot

pytestmark = pytest.mark.browser

CALLS = 120
EXTRA_UNITS = 300


@pytest.fixture
def busy_agency(live_url):
    """The demo agency with 300 more units, each with a position, and 120 open calls."""
    call_command("demo", force=True, verbosity=0)
    agency = Agency.current()
    now = timezone.now()
    Unit.objects.bulk_create(
        Unit(
            agency=agency,
            call_sign=f"Z{index:03d}",
            status=UnitStatus.AVAILABLE,
            lat=agency.centre_lat + (index % 20 - 10) * 0.002,
            lon=agency.centre_lon + (index // 20 - 7) * 0.002,
            position_at=now,
        )
        for index in range(EXTRA_UNITS)
    )
    dispatcher = get_user_model().objects.get(username="dispatcher")
    types = list(IncidentType.objects.order_by("code")[:10])
    with transaction.atomic():
        for index in range(CALLS):
            services.call_create(
                actor=dispatcher,
                incident_type=types[index % len(types)],
                priority=index % 5 + 1,
                address=f"{100 + index} Busy Street",
                lat=agency.centre_lat + (index % 11 - 5) * 0.003,
                lon=agency.centre_lon + (index // 11 - 5) * 0.003,
            )
    return Unit.objects.count()


def queue_order() -> list[str]:
    """Open call numbers as the queue lists them: most urgent first, then oldest (to the millisecond) first."""
    calls = Call.objects.open()
    key = lambda call: (call.priority, int(call.created_at.timestamp() * 1000), -call.created_at.timestamp())  # noqa: E731
    return [call.number for call in sorted(calls, key=key)]


def test_the_console_holds_every_call_and_unit_but_builds_only_the_rows_in_sight(sign_in, busy_agency):
    console = sign_in("dispatcher", password="beacon-demo")
    queue = console.locator("#call-queue")
    expect(console.locator("#call-count")).to_have_text(str(CALLS))
    expect(queue).to_have_attribute("data-rows", str(CALLS))
    expect(console.locator(".call-item").first).to_be_visible()
    assert console.locator(".call-item").count() < 40
    available = console.locator(".unit-group[data-status=available] ul")
    expect(available).to_have_attribute("data-rows", str(busy_agency))
    assert console.locator(".unit-row").count() < 80
    expect(console.locator("#map")).to_have_attribute("data-unit-markers", str(busy_agency))
    labels = int(console.locator("#map").get_attribute("data-unit-labels"))
    assert 0 < labels < busy_agency  # the call signs that fit without covering each other

    # The unit board scrolls to its last unit, which is then drawn.
    console.locator("#unit-board").evaluate("board => board.scrollTo(0, board.scrollHeight)")
    expect(console.locator(".unit-row", has_text=f"Z{EXTRA_UNITS - 1:03d}")).to_be_visible()
    screenshot(console, "console-busy")


def test_arrow_keys_walk_the_whole_queue_past_the_rows_in_sight(sign_in, busy_agency):
    console = sign_in("dispatcher", password="beacon-demo")
    expect(console.locator("#call-queue")).to_have_attribute("data-rows", str(CALLS))
    numbers = queue_order()
    console.keyboard.press("ArrowDown")
    expect(console.locator(".call-item.selected .call-number")).to_have_text(numbers[0])
    for _ in range(59):
        console.keyboard.press("ArrowDown")
    selected = console.locator(".call-item.selected")
    expect(selected.locator(".call-number")).to_have_text(numbers[59])
    expect(selected).to_be_in_viewport()
    expect(console.locator("#call-detail")).to_contain_text(numbers[59])
    console.keyboard.press("ArrowUp")
    expect(console.locator(".call-item.selected .call-number")).to_have_text(numbers[58])

    # A row taken with the mouse is selected and keeps the focus, so Enter and Tab go on from it.
    row = console.locator(".call-item", has_text=numbers[60])
    row.click()
    expect(row).to_have_class("call-item selected")
    expect(row).to_be_focused()


def test_a_new_call_reaches_a_busy_queue_live(sign_in, busy_agency):
    console = sign_in("dispatcher", password="beacon-demo")
    expect(console.locator("#call-count")).to_have_text(str(CALLS))
    call = services.call_create(
        actor=get_user_model().objects.get(username="dispatcher"),
        incident_type=IncidentType.objects.get(code="SHOOT"),
        priority=1,
        address="1 Urgent Way",
    )
    expect(console.locator("#call-count")).to_have_text(str(CALLS + 1))
    expect(console.locator("#call-queue")).to_have_attribute("data-rows", str(CALLS + 1))
    # The newest of the priority 1 calls: last of them, below the rows in sight until the queue scrolls there.
    index = queue_order().index(call.number)
    console.locator("#call-queue").evaluate(
        "(queue, index) => queue.closest('.scroll').scrollTop = index * queue.querySelector('.call-item').offsetHeight",
        index,
    )
    expect(console.locator(".call-item", has_text=call.number)).to_be_in_viewport()

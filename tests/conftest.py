"""Fixtures every test file may use: users with roles, and the rule that CI skips nothing."""

import os

import pytest


def _backend_missing(item) -> str | None:
    """Why this pass cannot run the item's backend, if it is marked for one that is not configured."""
    if item.get_closest_marker("redis") and not os.environ.get("REDIS_URL"):
        return "REDIS_URL is not set"
    if item.get_closest_marker("postgres") and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return "DATABASE_URL is not PostgreSQL"
    return None


def pytest_collection_modifyitems(config, items):
    """Skip tests marked for a backend this pass does not configure; remember whether this is CI."""
    config._beacon_ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    for item in items:
        missing = _backend_missing(item)
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"{missing}: .ci/run runs the suite again with it set."))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI nothing may be skipped, except a backend test in the pass that does not configure its backend.

    .ci/run runs the suite on the embedded defaults and again with DATABASE_URL
    and REDIS_URL set; there, a Redis or PostgreSQL test that cannot run fails.
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped and getattr(item.config, "_beacon_ci", False) and not _backend_missing(item):
        report.outcome = "failed"
        report.longrepr = f"Skipped in CI, where nothing may be skipped: {report.longrepr}"


@pytest.fixture
def make_user(db, django_user_model):
    """Create a user holding the given roles; password 'pw-for-tests-1'."""
    from django.contrib.auth.models import Group

    from accounts.roles import ensure_roles

    ensure_roles()

    def make(username: str, *roles: str, **fields):
        user = django_user_model.objects.create_user(username=username, password="pw-for-tests-1", **fields)
        for role in roles:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture(scope="module")
def server_url(django_db_setup, django_db_blocker):
    """A real Daphne serving the product on the test database, for one test module.

    Per module, not per session: tests empty the database between them, and a
    server that outlived many of them would carry their memory (its hub's
    last sequence, live cameras) into the next module.
    """
    from tests.support import asgi_server

    with django_db_blocker.unblock(), asgi_server() as url:
        yield url


@pytest.fixture
def live_url(server_url, transactional_db):
    """The server's URL, with the test's writes committed so the server sees them."""
    return server_url


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def browser():
    """A real headless Chromium: Debian's where it is installed, else Playwright's own.

    Module-scoped: Playwright's sync API keeps an event loop marked running in
    this thread while it is open, which async tests in later modules cannot share.
    """
    from playwright.sync_api import sync_playwright

    executable = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    # Playwright's sync API keeps an event loop in this thread; the test's own
    # database calls are still plain synchronous ones.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def sign_in(browser, live_url):
    """Open a new browser context and sign in through the sign-in page; returns the page."""
    contexts = []

    def open_as(username: str, password: str = "pw-for-tests-1", viewport=(1440, 900)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        return page

    yield open_as
    for context in contexts:
        context.close()

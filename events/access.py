"""Whether open consoles may still hold their sockets: session, account and role, read again.

A console's socket outlives the request that opened it, so its access is read
again every CONSOLE_ACCESS_RECHECK_SECONDS (and on a message after that long).
A thousand consoles checked one by one cost a database connection and three
queries each, 33 times a second; here every due console of a process is
checked in one trip: its sessions, then their users with their groups.

The rules are those of django.contrib.auth.get_user: the session exists and
has not expired, it names this user and an installed backend, the user is
active, and the password is the one the session was opened with.
"""

import asyncio
import threading
import time
from collections.abc import Iterable
from importlib import import_module

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.roles import Role, has_role

CONSOLE_ROLES = (Role.DISPATCHER, Role.SUPERVISOR, Role.OFFICER)
# Consoles checked in one database trip at most.
BATCH = 500


def may_open_console(user) -> bool:
    """True for a signed-in, active user with a console role."""
    return has_role(user, *CONSOLE_ROLES)


def recheck_seconds() -> float:
    return float(getattr(settings, "CONSOLE_ACCESS_RECHECK_SECONDS", 30))


def still_allowed(pairs: Iterable[tuple[str | None, int]]) -> set[tuple[str, int]]:
    """The (session key, user id) pairs whose session still lets that user hold a console."""
    pairs = {(key, user_id) for key, user_id in pairs if key}
    if not pairs:
        return set()
    sessions = _sessions({key for key, _ in pairs})
    users = {
        user.pk: user
        for user in get_user_model().objects.filter(pk__in={user_id for _, user_id in pairs}).prefetch_related("groups")
    }
    allowed = set()
    for key, user_id in pairs:
        session, user = sessions.get(key), users.get(user_id)
        if session is None or user is None or not _session_is_users(session, user):
            continue
        names = {group.name for group in user.groups.all()}
        user._beacon_roles = {role for role in Role if role.value in names} | (
            {Role.ADMINISTRATOR} if user.is_superuser else set()
        )
        if may_open_console(user):
            allowed.add((key, user_id))
    return allowed


def _sessions(keys: set[str]) -> dict[str, dict]:
    """The live sessions among keys, decoded: in one query for database-backed sessions."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not issubclass(store, DatabaseSessionStore):
        found = {key: store(key).load() for key in keys}
        return {key: data for key, data in found.items() if data}
    model = store.get_model_class()
    rows = model.objects.filter(session_key__in=keys, expire_date__gt=timezone.now())
    return {key: store().decode(data) for key, data in rows.values_list("session_key", "session_data")}


def _session_is_users(session: dict, user) -> bool:
    if str(session.get(SESSION_KEY)) != str(user.pk) or not user.is_active:
        return False
    if session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return False
    kept = session.get(HASH_SESSION_KEY) or ""
    return any(
        constant_time_compare(kept, expected)
        for expected in (user.get_session_auth_hash(), *user.get_session_auth_fallback_hash())
    )


class AccessWatch:
    """Re-checks this event loop's consoles when due, in batches; closes those no longer allowed.

    A console is any object with `session_key`, `user_id`, `checked_at` and an
    async `refuse()`.
    """

    def __init__(self) -> None:
        self.consoles: set = set()
        self._task: asyncio.Task | None = None

    def add(self, console) -> None:
        self.consoles.add(console)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, console) -> None:
        self.consoles.discard(console)

    async def _run(self) -> None:
        while self.consoles:
            # Rounds several times per interval: a console is checked within a
            # sixth of the interval of falling due.
            await asyncio.sleep(max(0.5, min(5.0, recheck_seconds() / 6)))
            now = time.monotonic()
            due = [console for console in self.consoles if now - console.checked_at >= recheck_seconds()]
            for start in range(0, len(due), BATCH):
                await check(due[start : start + BATCH])


async def check(consoles: list) -> None:
    """Check these consoles now, in one trip, and refuse those no longer allowed."""
    for console in consoles:
        console.checked_at = time.monotonic()
    # Not thread-sensitive: the checks must not queue in the one thread that
    # serves every HTTP request (an alert's POST among them).
    allowed = await database_sync_to_async(still_allowed, thread_sensitive=False)(
        [(console.session_key, console.user_id) for console in consoles]
    )
    for console in consoles:
        if (console.session_key, console.user_id) not in allowed:
            await console.refuse()


_watches: dict[asyncio.AbstractEventLoop, AccessWatch] = {}
_watches_lock = threading.Lock()


def access_watch() -> AccessWatch:
    """The running event loop's watch."""
    loop = asyncio.get_running_loop()
    with _watches_lock:
        return _watches.setdefault(loop, AccessWatch())

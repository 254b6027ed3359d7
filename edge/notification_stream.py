"""Real-time notifications: one LISTEN connection per edge process, fanned out to SSE streams.

    writer (edge or actor)            this edge process                      browsers
    notify(...) in a transaction ──► LISTEN notification_created ──► hub ──► stream ──► stream
    COMMIT delivers the NOTIFY        (dedicated asyncpg connection)  loads the rows it needs

- The LISTEN connection is not taken from the ORM pool: a pooled connection stops listening
  when it is released (baseline pitfall 9). When it drops, the hub reconnects with backoff and
  then re-reads, for every open stream, the rows created after the last one it delivered, since
  NOTIFYs sent while disconnected are lost.
- The payload names the notification and its recipients (`{"notificationId", "userIds"}`); a
  payload without `userIds` (too many recipients for NOTIFY's 8000 bytes) means "every user".
  The hub loads rows only for users with an open stream here.
- Each stream has a bounded queue; a client too slow to drain it is disconnected (it reconnects
  with `Last-Event-ID` and gets what it missed). At most 5 streams per user in this process;
  opening a sixth closes the oldest.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from actors.contracts.notifications import CHANNEL
from edge.envelope import dumps
from edge.listen import listen
from edge.services import notifications
from models.base import utc_now
from models.notifications import NotificationRecipient

log = logging.getLogger("zerocancer.edge.notification_stream")

#: Seconds between `: ping` comments (keeps proxies and Sanic's response timeout from closing).
PING_SECONDS = 15.0
#: Streams one user may hold open in one edge process (notifications.md 3.4).
MAX_STREAMS_PER_USER = 5
#: Rows replayed after `Last-Event-ID` (or after a LISTEN reconnect), newest ones, oldest first.
REPLAY_LIMIT = 50
#: Rows buffered for one stream before its client is considered stuck and disconnected.
QUEUE_LIMIT = 500
#: Recipient ids remembered per stream to drop duplicates between replay and live rows.
REMEMBERED_IDS = 1000

Clock = Callable[[], float]
Send = Callable[[str], Awaitable[Any]]


class _Close:
    """Queue sentinel: the stream must end."""


_CLOSE = _Close()
_RESYNC = object()


def event_text(recipient: NotificationRecipient) -> str:
    """One `notification` event; its id is the recipient id (the client's `Last-Event-ID`)."""
    payload = dumps(notifications.recipient_json(recipient))
    return f"event: notification\nid: {recipient.id}\ndata: {payload}\n\n"


PING_TEXT = ": ping\n\n"
# An empty `data:` line: browsers dispatch no event that has no data field at all.
REAUTH_TEXT = "event: reauth\ndata:\n\n"


class Subscription:
    """One open stream of one user."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.queue: asyncio.Queue[NotificationRecipient | _Close] = asyncio.Queue()
        self.closed: str | None = None
        #: Stream-order position of the newest delivered row; rows after it are what a
        #: resynchronisation must deliver. Starts at the opening time.
        self.cursor: tuple[dt.datetime, str] = (utc_now(), "")
        self._sent: set[str] = set()
        self._order: deque[str] = deque()

    def offer(self, recipient: NotificationRecipient) -> None:
        if self.closed is not None:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            log.warning("notification stream too slow, closing it", extra={"user": self.user_id})
            self.close("overflow")
            return
        self.queue.put_nowait(recipient)

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            self.queue.put_nowait(_CLOSE)

    def mark_sent(self, recipient: NotificationRecipient) -> bool:
        """False when this row was already sent on this stream."""
        if recipient.id in self._sent:
            return False
        self._sent.add(recipient.id)
        self._order.append(recipient.id)
        if len(self._order) > REMEMBERED_IDS:
            self._sent.discard(self._order.popleft())
        self.cursor = max(self.cursor, notifications.stream_key(recipient))
        return True


class NotificationHub:
    """The process's LISTEN connection and the streams it feeds."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._streams: dict[str, list[Subscription]] = {}
        self._work: asyncio.Queue[Any] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._connection: asyncpg.Connection | None = None
        #: Whether a LISTEN connection was up before: a reconnect must re-read (resync).
        self._listened = False

    # -- lifecycle --

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="notification-listen"),
            asyncio.create_task(self._dispatch(), name="notification-dispatch"),
        ]

    async def stop(self) -> None:
        self._stopping.set()
        self._ready.clear()
        for streams in list(self._streams.values()):
            for subscription in streams:
                subscription.close("shutdown")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._connection is not None and not self._connection.is_closed():
            await self._connection.close(timeout=2)

    async def wait_ready(self, seconds: float) -> bool:
        """True once the LISTEN is active (False after `seconds` or when stopping)."""
        if self._stopping.is_set():
            return False
        try:
            await asyncio.wait_for(self._ready.wait(), seconds)
        except TimeoutError:
            return False
        return not self._stopping.is_set()

    # -- streams --

    def subscribe(self, user_id: str) -> Subscription:
        subscription = Subscription(user_id)
        streams = self._streams.setdefault(user_id, [])
        streams.append(subscription)
        while len(streams) > MAX_STREAMS_PER_USER:
            streams.pop(0).close("replaced")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscription.close("gone")
        streams = self._streams.get(subscription.user_id, [])
        if subscription in streams:
            streams.remove(subscription)
        if not streams:
            self._streams.pop(subscription.user_id, None)

    @property
    def listener_pid(self) -> int | None:
        """The server process id of the LISTEN connection while it is up (for operators)."""
        connection = self._connection
        if connection is None or connection.is_closed() or not self._ready.is_set():
            return None
        pid: int = connection.get_server_pid()
        return pid

    def stream_count(self, user_id: str | None = None) -> int:
        if user_id is not None:
            return len(self._streams.get(user_id, []))
        return sum(len(streams) for streams in self._streams.values())

    # -- LISTEN --

    def _on_notify(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            body = json.loads(payload)
            notification_id = str(body["notificationId"])
            user_ids = body.get("userIds")
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed %s payload", CHANNEL)
            return
        users = [str(user) for user in user_ids] if isinstance(user_ids, list) else None
        if not self._streams or (users is not None and self._streams.keys().isdisjoint(users)):
            return  # nobody here to tell
        self._work.put_nowait((notification_id, users))

    async def _listen(self) -> None:
        await listen(
            self._dsn,
            CHANNEL,
            self._on_notify,
            stopping=self._stopping,
            on_listening=self._on_listening,
            on_lost=self._ready.clear,
            log=log,
        )

    def _on_listening(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        if self._listened:
            # NOTIFYs sent while we were away are gone: re-read instead.
            self._work.put_nowait(_RESYNC)
        self._listened = True
        self._ready.set()

    # -- fan-out --

    async def _dispatch(self) -> None:
        while True:
            item = await self._work.get()
            try:
                if item is _RESYNC:
                    await self._resync()
                else:
                    await self._deliver(*item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notification fan-out failed")

    async def _deliver(self, notification_id: str, user_ids: list[str] | None) -> None:
        local = set(self._streams)
        targets = local if user_ids is None else local.intersection(user_ids)
        if not targets:
            return
        for recipient in await notifications.recipients_of(notification_id, targets):
            for subscription in list(self._streams.get(recipient.user_id, [])):
                subscription.offer(recipient)

    async def _resync(self) -> None:
        for streams in list(self._streams.values()):
            for subscription in list(streams):
                rows = await notifications.recipients_after(
                    subscription.user_id, subscription.cursor, limit=REPLAY_LIMIT
                )
                for recipient in rows:
                    subscription.offer(recipient)


async def pump(
    send: Send,
    subscription: Subscription,
    *,
    expires_at: float | None,
    ping_seconds: float = PING_SECONDS,
    clock: Clock = time.time,
) -> str:
    """Writes the subscription's rows to the client until it closes or the credential expires.

    Sends `: ping` after `ping_seconds` without output and `event: reauth` when `expires_at`
    (seconds since the epoch, the token's `exp`) is reached. Returns why the stream ended.
    """
    loop = asyncio.get_running_loop()
    next_ping = loop.time() + ping_seconds
    while True:
        if expires_at is not None and clock() >= expires_at:
            await send(REAUTH_TEXT)
            return "expired"
        wait = next_ping - loop.time()
        if expires_at is not None:
            wait = min(wait, expires_at - clock())
        try:
            item = await asyncio.wait_for(subscription.queue.get(), max(0.0, wait))
        except TimeoutError:
            if loop.time() >= next_ping:
                await send(PING_TEXT)
                next_ping = loop.time() + ping_seconds
            continue
        if isinstance(item, _Close):
            return subscription.closed or "closed"
        if subscription.mark_sent(item):
            await send(event_text(item))
            next_ping = loop.time() + ping_seconds

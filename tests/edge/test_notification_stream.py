"""GET /api/v1/notifications/stream: server-sent events fed by LISTEN (notifications.md 3.4).

Notifications are written from this test process through `notify()`; the edge processes learn
of them only through PostgreSQL's NOTIFY, as they would from a worker or another edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise.transactions import in_transaction

from actors.contracts.notifications import notify
from edge import notification_stream
from edge.notification_stream import NotificationHub, Subscription, pump
from models.base import utc_now
from models.db import asyncpg_dsn
from models.notifications import Notification, NotificationRecipient
from models.users import User
from tests.conftest import edge_process
from tests.edge.factories_centers import Event, make_notification, sse_events
from tests.factories import bearer, make_center, make_donor, make_patient, token_for

pytestmark = pytest.mark.usefixtures("db")

STREAM = "/api/v1/notifications/stream"
#: Longest a test waits for an event that should come.
DEADLINE = 15.0


async def send(user: User, title: str = "Matched", **fields: Any) -> Notification:
    async with in_transaction() as conn:
        notification = await notify(
            using_db=conn,
            type=fields.pop("type", "MATCHED"),
            title=title,
            message=fields.pop("message", "You have been matched for a free screening."),
            recipient_ids=[user.id],
            **fields,
        )
    assert notification is not None
    return notification


class Stream:
    """An open SSE response and its events."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.events: AsyncIterator[Event] = sse_events(response)

    async def next(self, kind: str = "notification") -> Event:
        """The next event of this kind (comments and other kinds are skipped)."""

        async def find() -> Event:
            async for event in self.events:
                if event.comment is None and event.event == kind:
                    return event
            raise AssertionError(f"the stream ended before a {kind} event")

        return await asyncio.wait_for(find(), DEADLINE)

    async def ended(self) -> list[Event]:
        """Every remaining event until the server closes the stream."""

        async def drain() -> list[Event]:
            return [event async for event in self.events]

        return await asyncio.wait_for(drain(), DEADLINE)


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[Stream]:
    async with client.stream("GET", STREAM, headers=headers, **options) as response:
        assert response.status_code == 200, await response.aread()
        yield Stream(response)


async def test_a_notification_written_elsewhere_reaches_the_connected_client(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()

    async with open_stream(client, bearer(patient)) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.headers["cache-control"] == "no-cache"
        notification = await send(patient, data={"waitlistId": "w-1"})
        event = await stream.next()

    body = event.json()
    assert event.id == body["id"]
    assert body["userId"] == patient.id
    assert body["notificationId"] == notification.id
    assert body["read"] is False
    assert body["notification"]["title"] == "Matched"
    assert body["notification"]["data"] == {"waitlistId": "w-1"}


async def test_a_client_gets_only_its_own_notifications(client: httpx.AsyncClient) -> None:
    patient, stranger = await make_patient(), await make_patient()

    async with open_stream(client, bearer(patient)) as stream:
        await send(stranger, title="Not yours")
        mine = await send(patient, title="Yours")
        event = await stream.next()

    assert event.json()["notificationId"] == mine.id


async def test_a_second_edge_process_delivers_it_too(
    client: httpx.AsyncClient, database_url: str
) -> None:
    donor = await make_donor()
    process = edge_process(database_url).start()
    try:
        await asyncio.to_thread(process.wait_http, f"{process.url}/api/v1/healthz", timeout=60)
        async with (
            httpx.AsyncClient(base_url=process.url, timeout=30.0) as other_client,
            open_stream(other_client, bearer(donor)) as other,
            open_stream(client, bearer(donor)) as first,
        ):
            notification = await send(donor, type="PATIENT_MATCHED")
            from_other = await other.next()
            from_first = await first.next()
    finally:
        await asyncio.to_thread(process.stop)

    assert from_other.json()["notificationId"] == notification.id
    assert from_first.json()["notificationId"] == notification.id


async def test_last_event_id_replays_newer_rows_oldest_first(client: httpx.AsyncClient) -> None:
    patient = await make_patient()
    [seen] = await make_notification([patient.id], title="seen")
    [one] = await make_notification([patient.id], title="one")
    [two] = await make_notification([patient.id], title="two")

    async with open_stream(client, {**bearer(patient), "Last-Event-ID": seen.id}) as stream:
        replayed = [await stream.next(), await stream.next()]
        live = await send(patient, title="live")
        after = await stream.next()

    assert [event.id for event in replayed] == [one.id, two.id]
    assert after.json()["notificationId"] == live.id


async def test_the_refresh_cookie_is_accepted_when_no_header_is_sent(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()
    cookie = {"Cookie": f"refreshToken={token_for(patient, typ='refresh', ttl=3600)}"}

    async with open_stream(client, cookie) as stream:
        notification = await send(patient)
        event = await stream.next()

    assert event.json()["notificationId"] == notification.id


@pytest.mark.parametrize("credential", ["none", "garbage", "expired", "access-cookie"])
async def test_missing_or_invalid_credentials_answer_401(
    client: httpx.AsyncClient, credential: str
) -> None:
    patient = await make_patient()
    headers = {
        "none": {},
        "garbage": {"Authorization": "Bearer garbage"},
        "expired": bearer(patient, ttl=-5),
        "access-cookie": {"Cookie": f"refreshToken={token_for(patient, typ='access')}"},
    }[credential]

    response = await client.get(STREAM, headers=headers)

    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"


async def test_the_stream_says_reauth_and_closes_when_the_token_expires(
    client: httpx.AsyncClient,
) -> None:
    patient = await make_patient()

    async with open_stream(client, bearer(patient, ttl=2)) as stream:
        rest = await stream.ended()

    assert [event.event for event in rest if event.comment is None] == ["reauth"]


async def test_a_sixth_stream_of_a_user_closes_the_oldest(client: httpx.AsyncClient) -> None:
    center = await make_center()
    headers = bearer(center)

    async with contextlib.AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(open_stream(client, headers)) for _ in range(6)]
        oldest_rest = await streams[0].ended()

    assert [event for event in oldest_rest if event.comment is None] == []


# -- the hub and the pump, in this process -----------------------------------------------------


async def test_pump_pings_when_idle_and_writes_rows(db: asyncpg.Connection) -> None:
    patient = await make_patient()
    [row] = await make_notification([patient.id])
    loaded = await type(row).get(id=row.id).select_related("notification")
    subscription = Subscription(patient.id)
    written: list[str] = []
    pinged = asyncio.Event()

    async def write(text: str) -> None:
        written.append(text)
        if text == notification_stream.PING_TEXT:
            pinged.set()
            subscription.offer(loaded)
            subscription.offer(loaded)
            subscription.close("done")

    reason = await asyncio.wait_for(
        pump(write, subscription, expires_at=None, ping_seconds=0.01), DEADLINE
    )

    assert reason == "done"
    assert written[0] == notification_stream.PING_TEXT
    assert written[1:] == [notification_stream.event_text(loaded)]


async def test_the_hub_rereads_what_it_missed_while_its_connection_was_down(
    db: asyncpg.Connection, database_url: str
) -> None:
    patient = await make_patient()
    hub = NotificationHub(asyncpg_dsn(database_url))
    await hub.start()
    try:
        assert await hub.wait_ready(DEADLINE)
        subscription = hub.subscribe(patient.id)
        first = await send(patient, title="before")
        got_first = await asyncio.wait_for(subscription.queue.get(), DEADLINE)
        assert isinstance(got_first, NotificationRecipient)
        assert subscription.mark_sent(got_first)

        # Given a row whose NOTIFY never reached the hub (as if sent while it was away),
        [missed] = await make_notification(
            [patient.id], title="missed", created_at=utc_now() + dt.timedelta(seconds=1)
        )
        # when the LISTEN connection dies,
        await db.execute("SELECT pg_terminate_backend($1)", hub.listener_pid)

        # then the reconnected hub re-reads and delivers it.
        got_missed = await asyncio.wait_for(subscription.queue.get(), DEADLINE)
    finally:
        await hub.stop()

    assert getattr(got_first, "notification_id", None) == first.id
    assert getattr(got_missed, "id", None) == missed.id


async def test_streams_over_the_limit_are_closed_and_unsubscribe_cleans_up() -> None:
    hub = NotificationHub("postgresql://unused")
    subscriptions = [hub.subscribe("u1") for _ in range(6)]

    assert subscriptions[0].closed == "replaced"
    assert hub.stream_count("u1") == 5
    for subscription in subscriptions:
        hub.unsubscribe(subscription)
    assert hub.stream_count() == 0

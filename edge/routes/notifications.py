"""Notification routes: /api/v1/notifications (list, mark read, admin create, SSE stream).

The list and mark-read take any valid access token (the guard without roles, as the
reference); the token's `id` is the user. Creating is for admins only (D-NOT-1).
"""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse

from edge import notification_stream
from edge.auth.cookies import refresh_cookie
from edge.auth.guards import authenticate, requires_role
from edge.auth.tokens import Claims, TokenError, decode_refresh
from edge.deps import principal_of, settings_of
from edge.envelope import ok
from edge.errors import NotAuthenticated, ServiceUnavailable
from edge.schemas.notifications import NotificationCreate, NotificationsQuery
from edge.services import notifications, sessions
from edge.validation import parse_body, parse_query
from models.db import asyncpg_dsn

bp = Blueprint("notifications", url_prefix="/notifications")

#: Longest a new stream waits for this process's LISTEN connection before answering 503.
STREAM_READY_SECONDS = 5.0


@bp.get("", name="list_notifications")
@requires_role()
async def list_notifications(request: Request) -> HTTPResponse:
    """The caller's notifications, newest first (`limit`, `before` for older ones)."""
    query = parse_query(request, NotificationsQuery)
    rows = await notifications.list_for_user(
        principal_of(request).id, limit=query.limit, before=query.before
    )
    return ok(rows)


@bp.post("/<recipient_id:str>/read", name="mark_notification_read")
@requires_role()
async def mark_notification_read(request: Request, recipient_id: str) -> HTTPResponse:
    """Mark one of the caller's notifications read (its recipient id); idempotent."""
    return ok(await notifications.mark_read(recipient_id, user_id=principal_of(request).id))


@bp.post("", name="create_notification")
@requires_role("admin")
async def create_notification(request: Request) -> HTTPResponse:
    """Send an in-app notification to users (admin only)."""
    body = parse_body(request, NotificationCreate)
    created = await notifications.create_for_users(
        type=body.type,
        title=body.title,
        message=body.message,
        user_ids=body.user_ids,
        data=body.data,
    )
    return ok(created)


async def stream_claims(request: Request) -> Claims:
    """The stream's credential: the access token when an `Authorization` header is sent, else
    the refresh cookie checked as `/auth/refresh` checks it (without rotating it); else 401."""
    if "authorization" in request.headers:
        claims = authenticate(request).claims
        assert claims is not None
        return claims
    token = refresh_cookie(request)
    if token is None:
        raise NotAuthenticated("no authorization included in request")
    try:
        claims = decode_refresh(settings_of(request), token)
    except TokenError:
        raise NotAuthenticated("token verification failure", err_code="invalid_token") from None
    # Revoked, issued before a credential change, or its subject gone/suspended.
    if not await sessions._usable(claims):
        raise NotAuthenticated("token verification failure", err_code="invalid_token")
    return claims


@bp.get("/stream", name="stream_notifications")
async def stream_notifications(request: Request) -> HTTPResponse | None:
    """Server-sent events: each new notification of the caller as it is created.

    `Last-Event-ID` (or `?lastEventId=`) replays up to 50 newer ones first; `: ping` every 15 s;
    `event: reauth` just before the stream ends because the credential expires.
    """
    claims = await stream_claims(request)
    hub: notification_stream.NotificationHub = request.app.ctx.notification_hub
    if not await hub.wait_ready(STREAM_READY_SECONDS):
        raise ServiceUnavailable("Notification stream unavailable", retry_after=5)
    last_event_id = request.headers.get("last-event-id") or request.args.get("lastEventId")
    subscription = hub.subscribe(claims.id)
    try:
        response = await request.respond(
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            content_type="text/event-stream; charset=utf-8",
        )
        await response.send(": connected\n\n")
        if last_event_id:
            cursor = await notifications.cursor_of(last_event_id, user_id=claims.id)
            if cursor is not None:
                subscription.cursor = cursor
                replay = await notifications.recipients_after(
                    claims.id, cursor, limit=notification_stream.REPLAY_LIMIT
                )
                for recipient in replay:
                    if subscription.mark_sent(recipient):
                        await response.send(notification_stream.event_text(recipient))
        await notification_stream.pump(response.send, subscription, expires_at=claims.exp)
        await response.eof()
    finally:
        hub.unsubscribe(subscription)
    return None


async def start_notification_hub(app: Sanic[Any, Any]) -> None:
    hub = notification_stream.NotificationHub(asyncpg_dsn(app.ctx.settings.database_url))
    app.ctx.notification_hub = hub
    await hub.start()


async def stop_notification_hub(app: Sanic[Any, Any]) -> None:
    hub: notification_stream.NotificationHub | None = getattr(app.ctx, "notification_hub", None)
    if hub is not None:
        await hub.stop()


def setup(app: Sanic[Any, Any]) -> None:
    """One LISTEN connection per edge process, opened once the server runs."""
    app.after_server_start(start_notification_hub)
    app.before_server_stop(stop_notification_hub)

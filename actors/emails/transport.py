"""Where rendered emails go: an SMTP server (aiosmtplib, connections reused) or .eml files.

One ``SmtpTransport`` per event loop (a worker process has one): up to ``SMTP_CONNECTIONS``
connections stay open between messages, since a reused connection sends about twice as fast as
one per message (BASELINE.md section 5, email).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from actors.settings import WorkerSettings

log = logging.getLogger(__name__)


class Transport(Protocol):
    async def deliver(self, message: EmailMessage) -> None: ...

    async def close(self) -> None: ...


class SmtpTransport:
    """Sends through ``SMTP_HOST``: implicit TLS when ``SMTP_SECURE``, else STARTTLS when the
    server offers it; AUTH only when ``SMTP_USER`` is set (spec/email.md section 1)."""

    def __init__(self, settings: WorkerSettings) -> None:
        assert settings.smtp_host, "SmtpTransport needs SMTP_HOST"
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.smtp_connections)
        self._idle: list[aiosmtplib.SMTP] = []

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_secure,
            start_tls=False if s.smtp_secure else None,
            timeout=s.smtp_timeout,
        )
        await client.connect()
        if s.smtp_user:
            await client.login(s.smtp_user, s.smtp_pass or "")
        return client

    async def deliver(self, message: EmailMessage) -> None:
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            fresh = client is None or not client.is_connected
            try:
                if client is None or not client.is_connected:
                    client = await self._connect()
                try:
                    await client.send_message(message)
                except aiosmtplib.SMTPServerDisconnected:
                    if fresh:
                        raise
                    # The server dropped the idle connection: one more try on a new one.
                    _discard(client)
                    client = await self._connect()
                    await client.send_message(message)
            except BaseException:
                if client is not None:
                    _discard(client)
                raise
            self._idle.append(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(Exception):
                await client.quit()


class FileTransport:
    """Writes each message as an .eml file (embedded defaults without SMTP_HOST)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def deliver(self, message: EmailMessage) -> None:
        name = re.sub(r"[^A-Za-z0-9.@_-]", "", str(message.get("Message-ID", ""))) or "message"
        path = self.directory / f"{name}.eml"
        await asyncio.to_thread(_write, path, bytes(message))
        log.info("email written to %s (no SMTP_HOST)", path)

    async def close(self) -> None:
        return None


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _discard(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        client.close()


#: Close tasks of replaced transports (kept referenced until done).
_closing: set[asyncio.Task[None]] = set()
_transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[WorkerSettings, Transport]]
_transports = weakref.WeakKeyDictionary()


def transport_for(settings: WorkerSettings) -> Transport:
    """The transport of the running loop for ``settings`` (made on first use)."""
    loop = asyncio.get_running_loop()
    found = _transports.get(loop)
    if found is not None and found[0] is settings:
        return found[1]
    if found is not None:
        closing = loop.create_task(found[1].close())
        _closing.add(closing)
        closing.add_done_callback(_closing.discard)
    made: Transport
    if settings.smtp_host:
        made = SmtpTransport(settings)
    else:
        made = FileTransport(settings.mail_outbox_dir)
    _transports[loop] = (settings, made)
    return made

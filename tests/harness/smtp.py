"""A real SMTP server (aiosmtpd) that keeps what it receives, for tests to read."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

#: Longest a held delivery waits for `release()` (a test that forgets to release never hangs).
HOLD_LIMIT = 120.0


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: bool = False
    #: Deliveries still to hold: each waits in DATA until `release()`, then is refused with a
    #: 451 and never stored (a sender killed meanwhile has delivered nothing).
    hold: int = 0
    #: Deliveries that reached DATA and were held.
    held: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _released: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return "451 4.3.0 Try again later"
        if self._take_hold():
            await asyncio.to_thread(self._released.wait, HOLD_LIMIT)
            return "451 4.3.0 Held delivery dropped"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return "250 OK"

    def _take_hold(self) -> bool:
        with self._changed:
            if self.hold <= 0:
                return False
            self.hold -= 1
            self.held += 1
            self._changed.notify_all()
            return True

    def hold_next(self, count: int = 1) -> None:
        """Holds the next `count` deliveries (see `hold`)."""
        with self._changed:
            self._released.clear()
            self.hold, self.held = count, 0

    def wait_held(self, count: int = 1, timeout: float = 30.0) -> None:
        """Waits until `count` deliveries are being held."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.held < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.held} deliveries held, expected {count}")
                self._changed.wait(remaining)

    def release(self) -> None:
        """Ends every held delivery (each is refused, none stored) and holds no more."""
        with self._changed:
            self.hold = 0
            self._released.set()

    def clear(self) -> None:
        self.release()
        with self._changed:
            self.messages.clear()
            self.refuse = False
            self.held = 0

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m.get("To", ""))]

    def wait_for(self, address: str, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.to(address)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no mail for {address}; have {len(self.messages)} others")
                self._changed.wait(remaining)
            return self.to(address)


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.mailbox = Mailbox()
        self.port = port
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

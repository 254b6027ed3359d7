"""Fixtures of the end-to-end tests: a `Stack` (scratch database, vhost, TCP proxy to RabbitMQ)
per test, and the session SMTP server (`smtp`) the workers deliver to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.stack import Stack
from tests.harness.smtp import Mailbox


@pytest.fixture
async def stack(smtp: Mailbox) -> AsyncIterator[Stack]:
    async with Stack.create("e2e") as created:
        yield created

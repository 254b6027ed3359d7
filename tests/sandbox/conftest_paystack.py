"""The `paystack` fixture: the Paystack sandbox the session edge talks to (sandbox/paystack.py).

The edge process reads `PAYSTACK_BASE_URL` from the environment tests/conftest.py sets
(`http://127.0.0.1:<fixed free port>`); the sandbox binds that port. Import the fixtures into a
test module (`from tests.sandbox.conftest_paystack import paystack, paystack_sandbox`), or list
this module in the root conftest's `pytest_plugins`.

The server is one per test process (a module-level singleton), whatever number of modules import
the fixtures: pytest keeps one session-scoped instance per defining module, and a second server
could not bind the same port. `paystack` resets its state for each test and points its webhooks
at the session edge.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest

from tests.sandbox.paystack import PaystackSandbox

#: Where the edge sends the charge and transfer webhooks (donations.md §4.2, D-DON-2).
WEBHOOK_PATH = "/api/v1/donor/paystack-webhook"

_sandbox: PaystackSandbox | None = None


def sandbox_server() -> PaystackSandbox:
    """The process's sandbox, started on the port of `PAYSTACK_BASE_URL` on first use."""
    global _sandbox  # one server per process: the edge was told its fixed port
    if _sandbox is None:
        base_url = os.environ.get("PAYSTACK_BASE_URL", "")
        port = urlsplit(base_url).port if base_url else None
        _sandbox = PaystackSandbox(secret=os.environ["PAYSTACK_SECRET_KEY"], port=port or 0)
        _sandbox.start()
        if port is None:
            os.environ["PAYSTACK_BASE_URL"] = _sandbox.url
    return _sandbox


@pytest.fixture(scope="session")
def paystack_sandbox() -> PaystackSandbox:
    """The running sandbox (session-wide, not reset)."""
    return sandbox_server()


@pytest.fixture
def paystack(paystack_sandbox: PaystackSandbox, edge_url: str) -> PaystackSandbox:
    """The sandbox with fresh state, delivering webhooks to the session edge."""
    paystack_sandbox.reset()
    paystack_sandbox.webhook_url = edge_url + WEBHOOK_PATH
    return paystack_sandbox


@pytest.fixture
def paystack_offline(paystack_sandbox: PaystackSandbox) -> PaystackSandbox:
    """The sandbox with fresh state and no edge (actor tests)."""
    paystack_sandbox.reset()
    paystack_sandbox.webhook_url = None
    return paystack_sandbox

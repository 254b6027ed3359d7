"""A local server that speaks Paystack's HTTP API (donations.md §2.5, payouts.md §2.6).

    sandbox = PaystackSandbox(secret="sk_test_x", port=8123).start()
    sandbox.webhook_url = edge_url + "/api/v1/donor/paystack-webhook"
    ...                                       # the edge initialises a payment against it
    await sandbox.complete(reference)         # success + a signed charge.success webhook
    sandbox.transactions[reference]["status"] # inspect state

It runs the stdlib `ThreadingHTTPServer` in a thread (aiohttp is not a dependency), checks the
bearer key on every API call, and keeps its state in plain dicts a test can read and change:

- `transactions` (by reference), `recipients` (by code), `transfers` (by reference);
- `calls`: every API request as `(method, path)`, so a test can count transfers;
- knobs: `transfer_outcome` (`pending` | `success` | `otp` | `reject`), `transfer_delay`
  (seconds slept *after* the transfer is recorded: the provider took it, the caller timed out),
  `unresolvable_accounts`, `verify_transfer_status` (overrides the stored transfer status),
  `fail_with_status` (`{path prefix: HTTP status}` to play provider outages).

Test controls over HTTP, for manual use: `POST /_sandbox/transactions/{reference}/complete`
`{"outcome", "times"?, "bad_signature"?}`, `POST /_sandbox/transfers/{reference}/event`
`{"event", "times"?}`, `GET /_sandbox/state`, and `GET /checkout/{access_code}` (completes with
`success` and redirects 302 to the stored callback URL).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

#: The fixed bank list of `GET /bank` (a subset of Paystack's fields, all present).
BANKS: list[dict[str, Any]] = [
    {
        "id": index + 1,
        "name": name,
        "slug": slug,
        "code": code,
        "longcode": code + "150000",
        "gateway": None,
        "pay_with_bank": False,
        "active": True,
        "country": "Nigeria",
        "currency": "NGN",
        "type": "nuban",
        "is_deleted": False,
        "createdAt": "2016-07-14T10:04:29.000Z",
        "updatedAt": "2020-02-18T08:06:44.000Z",
    }
    for index, (name, slug, code) in enumerate(
        [
            ("Access Bank", "access-bank", "044"),
            ("Guaranty Trust Bank", "guaranty-trust-bank", "058"),
            ("Zenith Bank", "zenith-bank", "057"),
        ]
    )
]

UNRESOLVABLE = "Could not resolve account name. Check parameters or try again."


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


class PaystackSandbox:
    """The sandbox server and its state (see the module docstring)."""

    def __init__(self, *, secret: str, port: int = 0, host: str = "127.0.0.1") -> None:
        self.secret = secret
        self.lock = threading.RLock()
        self.webhook_url: str | None = None
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.reset()

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PaystackSandbox:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="paystack-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        """Forget every transaction, recipient and transfer; knobs back to their defaults."""
        with self.lock:
            self.transactions: dict[str, dict[str, Any]] = {}
            self.recipients: dict[str, dict[str, Any]] = {}
            self.transfers: dict[str, dict[str, Any]] = {}
            self.calls: list[tuple[str, str]] = []
            self.transfer_outcome = "pending"
            self.transfer_delay = 0.0
            self.unresolvable_accounts: set[str] = set()
            self.verify_transfer_status: str | None = None
            self.fail_with_status: dict[str, int] = {}
            self.reject_initialize = False
            self._next_transfer_id = 1000

    # -- state helpers -------------------------------------------------------------------------

    def calls_to(self, method: str, path: str) -> list[tuple[str, str]]:
        """API calls to exactly `path`, or under it when `path` ends with `/`."""
        with self.lock:
            return [
                c
                for c in self.calls
                if c[0] == method
                and (c[1] == path or (path.endswith("/") and c[1].startswith(path)))
            ]

    def set_outcome(self, reference: str, outcome: str) -> dict[str, Any]:
        """Sets a transaction's status (`success`, `failed`, `abandoned`, `ongoing`)."""
        with self.lock:
            transaction = self.transactions[reference]
            transaction["status"] = outcome
            if outcome == "success":
                transaction["paid_at"] = transaction.get("paid_at") or now_iso()
            return dict(transaction)

    def charge_event(self, stored: str, **overrides: Any) -> dict[str, Any]:
        """The `charge.success` payload Paystack would send for a stored transaction (fields
        may be overridden, e.g. `reference=` or `currency=`)."""
        reference = stored
        with self.lock:
            transaction = self.transactions[reference]
            data = {
                "id": transaction["id"],
                "reference": reference,
                "amount": transaction["amount"],
                "currency": "NGN",
                "status": "success",
                "channel": "card",
                "paid_at": transaction.get("paid_at") or now_iso(),
                "metadata": transaction["metadata"],
                "customer": {"email": transaction["email"]},
            }
        data.update(overrides)
        return {"event": "charge.success", "data": data}

    def transfer_event(self, reference: str, event: str, **overrides: Any) -> dict[str, Any]:
        """A `transfer.success|failed|reversed` payload for a stored transfer."""
        with self.lock:
            transfer = self.transfers.get(reference, {})
            status = event.split(".", 1)[1]
            data: dict[str, Any] = {
                "reference": reference,
                "status": status,
                "transfer_code": transfer.get("transfer_code", "TRF_unknown"),
                "amount": transfer.get("amount", 0),
            }
            if event == "transfer.failed":
                data["failure_reason"] = "Insufficient balance"
            if reference in self.transfers:
                self.transfers[reference]["status"] = status
        data.update(overrides)
        return {"event": event, "data": data}

    # -- webhooks ------------------------------------------------------------------------------

    def signed(self, payload: dict[str, Any], *, bad_signature: bool = False) -> tuple[bytes, str]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        sig = signature(self.secret, body)
        if bad_signature:
            sig = signature(self.secret + "-wrong", body)
        return body, sig

    async def send(
        self,
        payload: dict[str, Any],
        *,
        times: int = 1,
        bad_signature: bool = False,
        url: str | None = None,
    ) -> list[httpx.Response]:
        """POSTs a signed event to the webhook URL `times` times; the answers, in order."""
        target = url or self.webhook_url
        assert target, "set sandbox.webhook_url first"
        body, sig = self.signed(payload, bad_signature=bad_signature)
        headers = {"content-type": "application/json", "x-paystack-signature": sig}
        answers = []
        async with httpx.AsyncClient(timeout=30.0) as http:
            for _ in range(times):
                answers.append(await http.post(target, content=body, headers=headers))
        return answers

    async def complete(
        self, reference: str, outcome: str = "success", *, times: int = 1, **overrides: Any
    ) -> list[httpx.Response]:
        """Sets the outcome and, for `success`, delivers `charge.success` (`times` times)."""
        self.set_outcome(reference, outcome)
        if outcome != "success":
            return []
        return await self.send(self.charge_event(reference, **overrides), times=times)

    def _send_sync(self, payload: dict[str, Any], *, times: int, bad_signature: bool) -> list[int]:
        if not self.webhook_url:
            return []
        body, sig = self.signed(payload, bad_signature=bad_signature)
        headers = {"content-type": "application/json", "x-paystack-signature": sig}
        with httpx.Client(timeout=30.0) as http:
            return [
                http.post(self.webhook_url, content=body, headers=headers).status_code
                for _ in range(times)
            ]

    # -- the API -------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], body: Any, authorization: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        """One request -> (HTTP status, JSON body or None, extra headers)."""
        if path.startswith("/_sandbox/"):
            return self._control(method, path, body)
        if method == "GET" and path.startswith("/checkout/"):
            return self._checkout(path.removeprefix("/checkout/"))
        if authorization != f"Bearer {self.secret}":
            return 401, {"status": False, "message": "Invalid key"}, {}
        with self.lock:
            self.calls.append((method, path))
            for prefix, status in self.fail_with_status.items():
                if path.startswith(prefix):
                    return status, {"status": False, "message": "Sandbox outage"}, {}
        route = (method, path)
        if route == ("POST", "/transaction/initialize"):
            return self._initialize(body)
        if method == "GET" and path.startswith("/transaction/verify/"):
            return self._verify(path.removeprefix("/transaction/verify/"))
        if route == ("GET", "/bank"):
            return 200, {"status": True, "message": "Banks retrieved", "data": BANKS}, {}
        if route == ("GET", "/bank/resolve"):
            return self._resolve(query)
        if route == ("POST", "/transferrecipient"):
            return self._recipient(body)
        if route == ("POST", "/transfer"):
            return self._transfer(body)
        if method == "GET" and path.startswith("/transfer/verify/"):
            return self._verify_transfer(path.removeprefix("/transfer/verify/"))
        if route == ("GET", "/balance"):
            data = [{"currency": "NGN", "balance": 100_000_000}]
            return 200, {"status": True, "message": "Balances retrieved", "data": data}, {}
        return 404, {"status": False, "message": "Not found"}, {}

    def _initialize(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if self.reject_initialize:
            return 400, {"status": False, "message": "Invalid Email Address Passed"}, {}
        if not isinstance(body, dict):
            return 400, {"status": False, "message": "Invalid body"}, {}
        reference = str(body.get("reference") or "")
        amount = body.get("amount")
        if not reference or not isinstance(amount, int) or amount <= 0:
            return 400, {"status": False, "message": "Invalid amount or reference"}, {}
        with self.lock:
            if reference in self.transactions:
                return 400, {"status": False, "message": "Duplicate Transaction Reference"}, {}
            access_code = secrets.token_hex(8)
            self.transactions[reference] = {
                "id": len(self.transactions) + 1,
                "reference": reference,
                "amount": amount,
                "email": body.get("email"),
                "callback_url": body.get("callback_url"),
                "metadata": body.get("metadata"),
                "access_code": access_code,
                "status": "abandoned",
                "paid_at": None,
                "created_at": now_iso(),
            }
        data = {
            "authorization_url": f"{self.url}/checkout/{access_code}",
            "access_code": access_code,
            "reference": reference,
        }
        return 200, {"status": True, "message": "Authorization URL created", "data": data}, {}

    def _verify(self, reference: str) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            transaction = self.transactions.get(reference)
            if transaction is None:
                return 400, {"status": False, "message": "Transaction reference not found"}, {}
            data = {
                "id": transaction["id"],
                "reference": reference,
                "amount": transaction["amount"],
                "status": transaction["status"],
                "paid_at": transaction["paid_at"],
                "channel": "card",
                "currency": "NGN",
                "transaction_date": transaction["created_at"],
                "metadata": transaction["metadata"],
                "customer": {"email": transaction["email"]},
            }
        return 200, {"status": True, "message": "Verification successful", "data": data}, {}

    def _resolve(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        number = query.get("account_number", "")
        if not re.fullmatch(r"\d{10}", number) or number in self.unresolvable_accounts:
            return 422, {"status": False, "message": UNRESOLVABLE}, {}
        data = {"account_number": number, "account_name": "SANDBOX ACCOUNT", "bank_id": 9}
        return 200, {"status": True, "message": "Account number resolved", "data": data}, {}

    def _recipient(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict) or not body.get("account_number"):
            return 400, {"status": False, "message": "Invalid recipient"}, {}
        code = "RCP_" + secrets.token_hex(6)
        with self.lock:
            self.recipients[code] = {**body, "recipient_code": code}
        data = {"recipient_code": code, "active": True, "details": body}
        return 201, {"status": True, "message": "Transfer recipient created", "data": data}, {}

    def _transfer(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        if not isinstance(body, dict):
            return 400, {"status": False, "message": "Invalid body"}, {}
        reference = str(body.get("reference") or "")
        with self.lock:
            if self.transfer_outcome == "reject":
                return 400, {"status": False, "message": "Insufficient balance"}, {}
            if body.get("recipient") not in self.recipients:
                return 400, {"status": False, "message": "Recipient not found"}, {}
            if reference in self.transfers:
                return 400, {"status": False, "message": "Duplicate Transfer Reference"}, {}
            self._next_transfer_id += 1
            transfer = {
                "id": self._next_transfer_id,
                "transfer_code": f"TRF_{secrets.token_hex(6)}",
                "reference": reference,
                "amount": body.get("amount"),
                "recipient": body.get("recipient"),
                "reason": body.get("reason"),
                "currency": "NGN",
                "status": self.transfer_outcome,
            }
            self.transfers[reference] = transfer
            delay = self.transfer_delay
        if delay:
            time.sleep(delay)  # the provider has the transfer; the caller will have timed out
        return 200, {"status": True, "message": "Transfer queued", "data": dict(transfer)}, {}

    def _verify_transfer(self, reference: str) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            transfer = self.transfers.get(reference)
            if transfer is None:
                return 400, {"status": False, "message": "Transfer not found"}, {}
            data = dict(transfer)
            if self.verify_transfer_status is not None:
                data["status"] = self.verify_transfer_status
        return 200, {"status": True, "message": "Transfer retrieved", "data": data}, {}

    def _checkout(self, access_code: str) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            found = [t for t in self.transactions.values() if t["access_code"] == access_code]
        if not found:
            return 404, {"status": False, "message": "Unknown checkout"}, {}
        transaction = found[0]
        self.set_outcome(transaction["reference"], "success")
        self._send_sync(self.charge_event(transaction["reference"]), times=1, bad_signature=False)
        return 302, None, {"Location": str(transaction["callback_url"] or "/")}

    def _control(self, method: str, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        options = body if isinstance(body, dict) else {}
        times = int(options.get("times", 1))
        bad = bool(options.get("bad_signature", False))
        parts = path.strip("/").split("/")
        if method == "GET" and parts == ["_sandbox", "state"]:
            with self.lock:
                state = {
                    "transactions": self.transactions,
                    "recipients": self.recipients,
                    "transfers": self.transfers,
                }
                return 200, json.loads(json.dumps(state)), {}
        if method == "POST" and len(parts) == 4 and parts[1] == "transactions":
            reference = parts[2]
            if reference not in self.transactions:
                return 404, {"status": False, "message": "Unknown reference"}, {}
            outcome = str(options.get("outcome", "success"))
            self.set_outcome(reference, outcome)
            delivered: list[int] = []
            if outcome == "success":
                event = self.charge_event(reference)
                delivered = self._send_sync(event, times=times, bad_signature=bad)
            return 200, {"status": True, "data": {"webhookStatuses": delivered}}, {}
        if method == "POST" and len(parts) == 4 and parts[1] == "transfers":
            event = self.transfer_event(parts[2], str(options.get("event", "transfer.success")))
            delivered = self._send_sync(event, times=times, bad_signature=bad)
            return 200, {"status": True, "data": {"webhookStatuses": delivered}}, {}
        return 404, {"status": False, "message": "Unknown sandbox control"}, {}


def _handler_for(sandbox: PaystackSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as separate writes; without this, delayed ACKs add ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            status, payload, headers = sandbox.handle(
                method, parts.path, query, body, self.headers.get("authorization")
            )
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


def references(sandbox: PaystackSandbox, prefix: str = "") -> Iterable[str]:
    with sandbox.lock:
        return [ref for ref in sandbox.transactions if ref.startswith(prefix)]

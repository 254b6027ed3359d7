"""send_email: render one template for one recipient and deliver it (spec/email.md).

Delivery classes (section 2): transactional emails are retried on transient SMTP failures
(connection errors, 4xx) with backoff from 30 s doubling to 1 h, until 24 h after the first
attempt; notification emails get 3 attempts, then are given up with a warning. A 5xx answer is
permanent (no retry). The job goes ``dead`` when retries are exhausted.

Idempotency: a redelivered job that already succeeded is skipped by JobTracking, so a message is
sent again only if the worker dies between SMTP acceptance and the job row's update.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import mimetypes
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any

import aiosmtplib

from actors import rate_limits
from actors.contracts.messages import SendEmail
from actors.emails import render as renderer
from actors.emails.transport import transport_for
from actors.errors import EmailRejectedError, InvalidMessageError, PermanentError
from actors.middleware.jobs import current_job
from actors.policy import ActorPolicy, RateLimit, register
from actors.settings import WorkerSettings, current

log = logging.getLogger(__name__)

#: Attempts a notification email gets before it is given up (spec/email.md section 2).
NOTIFICATION_ATTEMPTS = 3
#: Receipts are never sent to this placeholder (spec/api/receipts.md section 5).
UNKNOWN_RECIPIENT = "unknown@email.com"

EMAIL_POLICY = ActorPolicy(
    max_retries=60,
    min_backoff_ms=30_000,
    max_backoff_ms=3_600_000,
    retry_for_ms=24 * 3_600_000,
    time_limit_ms=120_000,
    # Protects the SMTP relay's own sending limits across all workers.
    rate_limit=RateLimit("window", limit=50, window_s=1, retry_delay_ms=1_000),
    notes="transactional: until 24 h after the first attempt; notification emails: 3 attempts",
)


class EmailGivenUpError(PermanentError):
    """A best-effort (notification) email failed on each of its attempts."""


@register(SendEmail, EMAIL_POLICY)
async def send_email(template: str, to: str, context: dict[str, Any]) -> dict[str, Any]:
    settings = current()
    address = _single_address(to)
    rendered = renderer.render(template, context, frontend_url=settings.frontend_url)
    job = current_job()
    job_id = job.job_id if job is not None else None
    retries = int(job.options.get("retries", 0)) if job is not None else 0

    if template == "payment_receipt" and address.lower() == UNKNOWN_RECIPIENT:
        log.info("receipt email skipped: no real recipient (job %s)", job_id)
        return {"sent": False, "skipped": "unknown_recipient", "email_type": rendered.email_type}
    cap = renderer.kind(template).hourly_cap
    if cap is not None and retries == 0:
        digest = hashlib.sha256(address.lower().encode()).hexdigest()[:24]
        if not await rate_limits.take(f"email-cap:{template}:{digest}", limit=cap, per_s=3600):
            log.warning(
                "email %s to address %s skipped: more than %d per hour (job %s)",
                rendered.email_type,
                digest,
                cap,
                job_id,
            )
            return {"sent": False, "skipped": "hourly_cap", "email_type": rendered.email_type}

    message = build_message(rendered, address, settings=settings, job_id=job_id)
    await _attach(message, template, context, settings.storage_dir)
    try:
        await transport_for(settings).deliver(message)
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = [r.code for r in error.recipients]
        if codes and all(code >= 500 for code in codes):
            raise EmailRejectedError(f"recipient refused ({codes[0]})") from None
        _give_up_if_best_effort(rendered, retries, error)
        raise
    except aiosmtplib.SMTPResponseException as error:
        if error.code >= 500:
            raise EmailRejectedError(f"SMTP server answered {error.code}") from None
        _give_up_if_best_effort(rendered, retries, error)
        raise
    except (aiosmtplib.SMTPException, OSError) as error:
        _give_up_if_best_effort(rendered, retries, error)
        raise

    if template == "payment_receipt" and context.get("receipt_id"):
        await _mark_receipt_sent(str(context["receipt_id"]), address)
    return {
        "sent": True,
        "email_type": rendered.email_type,
        "message_id": message["Message-ID"],
    }


def build_message(
    rendered: renderer.RenderedEmail,
    to: str,
    *,
    settings: WorkerSettings,
    job_id: str | None,
) -> EmailMessage:
    """The MIME message: text and HTML alternatives, our headers, one recipient."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = formatdate(usegmt=True)
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "zerocancer.local"
    identifier = job_id or f"{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S%f}"
    message["Message-ID"] = f"<{identifier}@{domain}>"
    message["X-ZeroCancer-Email-Type"] = rendered.email_type
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def _single_address(to: str) -> str:
    """One bare address: never several recipients in one To (D-EM-3), never header injection."""
    address = to.strip()
    _name, parsed = parseaddr(address)
    if (
        not parsed
        or parsed != address
        or parsed.count("@") != 1
        or any(c in address for c in ",; \r\n\t<>")
    ):
        raise InvalidMessageError("SendEmail.to must be exactly one email address")
    return address


async def _attach(
    message: EmailMessage, template: str, context: dict[str, Any], root: Path
) -> None:
    """Attaches the receipt PDF (``pdf_path``, a key under STORAGE_DIR) to receipt emails."""
    if template != "payment_receipt" or not context.get("pdf_path"):
        return
    base = root.resolve()
    path = (base / str(context["pdf_path"])).resolve()
    if not path.is_relative_to(base):
        raise InvalidMessageError("pdf_path must stay inside STORAGE_DIR")
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        # The PDF actor may still be writing it: retry (transient) rather than send without it.
        raise FileNotFoundError(f"receipt file {context['pdf_path']} is not there yet") from None
    filename = f"receipt-{context['receipt_number']}.pdf"
    maintype, _, subtype = (mimetypes.guess_type(filename)[0] or "application/pdf").partition("/")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)


def _give_up_if_best_effort(
    rendered: renderer.RenderedEmail, retries: int, error: BaseException
) -> None:
    if rendered.delivery == "notification" and retries + 1 >= NOTIFICATION_ATTEMPTS:
        log.warning(
            "notification email %s given up after %d attempts: %s",
            rendered.email_type,
            retries + 1,
            type(error).__name__,
        )
        raise EmailGivenUpError(f"gave up after {retries + 1} attempts") from None


async def _mark_receipt_sent(receipt_id: str, address: str) -> None:
    from models.base import utc_now
    from models.transactions import Receipt

    now = utc_now()
    await Receipt.filter(id=receipt_id).update(
        email_sent_at=now, email_recipient=address, updated_at=now
    )

"""Email: every template renders; send_email delivers over SMTP, retries, and gives up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest
from tortoise.transactions import in_transaction

from actors.contracts import SendEmail, enqueue
from actors.emails import render
from actors.emails.actor import send_email
from actors.errors import InvalidMessageError, UnknownTemplateError
from actors.settings import WorkerSettings, use
from tests.actors.runtime import Runtime, running_runtime, wait_for_job
from tests.harness.smtp import Mailbox

FRONTEND = "http://frontend.test"

#: A context for every template, and what its rendering must contain.
SAMPLES: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "patient_verification": (
        {"token": "a1"},
        "Verify your email",
        [f"{FRONTEND}/verify-email?token=a1", "to verify your email."],
    ),
    "donor_verification": (
        {"token": "a2"},
        "Verify your email",
        [f"{FRONTEND}/verify-email?token=a2"],
    ),
    "resend_verification": (
        {"token": "a3"},
        "Verify your email",
        [f"{FRONTEND}/verify-email?token=a3"],
    ),
    "password_reset": (
        {"token": "b1"},
        "Reset your password",
        [f"{FRONTEND}/reset-password?token=b1", "This link expires in 30 minutes."],
    ),
    "staff_invite": (
        {"token": "c1", "center_name": "Lagos Screening Centre"},
        "You're invited to join a center on Zerocancer",
        [
            f"{FRONTEND}/staff/create-new-password?token=c1",
            "You have been invited to join the center Lagos Screening Centre.",
            "Click here to set your password and join.",
        ],
    ),
    "staff_password_reset": (
        {"token": "d1"},
        "Reset your Zerocancer Center Staff password",
        [f"{FRONTEND}/staff/reset-password?token=d1", "This link expires in 1 hour."],
    ),
    "admin_password_reset": (
        {"token": "e1"},
        "Reset your Zerocancer Admin password",
        [f"{FRONTEND}/admin/reset-password?token=e1", "This link expires in 1 hour."],
    ),
    "check_in_confirmed": (
        {"center_name": "Ikeja Clinic"},
        "ZeroCancer - Check-in Confirmed",
        [
            "Your appointment at Ikeja Clinic has been confirmed. "
            "Please proceed with your screening."
        ],
    ),
    "matched": (
        {"screening_type_name": "Pap smear"},
        "ZeroCancer - You have been matched to a donation campaign!",
        [
            "You have been matched for a free screening: Pap smear. "
            "Please check your appointments for details.",
            "View Your Appointments",
            f"{FRONTEND}/patient/appointments",
        ],
    ),
    "allocation_expired": (
        {"screening_type_name": "Mammogram"},
        "ZeroCancer - Your screening allocation has expired",
        ["Your allocation for Mammogram has expired due to inactivity."],
    ),
    "payment_receipt": (
        {
            "receipt_number": "RCP-20250729-000042",
            "recipient_name": "Ada Obi",
            "receipt_type": "DONATION",
            "amount": 5000,
            "date": "2025-07-29T10:00:00Z",
            "tax_deductible": True,
        },
        "Receipt - RCP-20250729-000042",
        [
            "Dear Ada Obi,",
            "Thank you for your donation. Please find your receipt attached.",
            "₦5,000.00",
            "29 July 2025",
            "This is a tax-deductible donation.",
            "Zero Cancer Initiative",
        ],
    ),
    "center_status_changed": (
        {"status": "SUSPENDED"},
        "ZeroCancer - Center Status Updated",
        ["Your screening center has been suspended. Please contact support for more information."],
    ),
    "notification": (
        {"type": "RESULT_READY", "title": "Results ready", "message": "Your results are in."},
        "ZeroCancer - Results ready",
        ["Your results are in.", "View Your Results", f"{FRONTEND}/patient/results"],
    ),
}


def test_every_template_on_disk_is_in_the_catalogue_and_has_a_sample() -> None:
    assert render.available_templates() == sorted(render.CATALOGUE) == sorted(SAMPLES)


@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_each_template_renders_subject_text_and_html(template: str) -> None:
    context, subject, expected = SAMPLES[template]

    email = render.render(template, context, frontend_url=FRONTEND + "/")

    assert email.subject == subject
    assert email.email_type == render.CATALOGUE[template].email_type
    for text in expected:
        assert text in email.text
        assert text.replace("'", "&#x27;") in email.html
    assert "<" not in email.text
    assert email.html.startswith("<!DOCTYPE html>")
    assert "This is an automated notification from ZeroCancer." in email.html


def test_values_are_html_escaped_and_links_url_quoted() -> None:
    email = render.render(
        "staff_invite",
        {"token": "a&b c", "center_name": '<script>alert("x")</script>'},
        frontend_url=FRONTEND,
    )

    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in email.html
    assert f'href="{FRONTEND}/staff/create-new-password?token=a%26b%20c"' in email.html
    assert '<script>alert("x")</script>' in email.text


def test_notification_types_choose_the_button_panel_and_catalogue_id() -> None:
    matched = render.render(
        "notification", {"type": "MATCHED", "title": "T", "message": "M"}, frontend_url=FRONTEND
    )
    info = render.render(
        "notification", {"type": "INFO", "title": "T", "message": "M"}, frontend_url=FRONTEND
    )

    assert matched.email_type == "E-9"
    assert "#10b981" in matched.html
    assert "View Your Appointments" in matched.html
    assert info.email_type == "notification"
    assert "#3b82f6" in info.html
    assert "<a href" not in info.html


def test_an_unknown_template_or_a_missing_value_is_a_permanent_error() -> None:
    with pytest.raises(UnknownTemplateError):
        render.render("no_such_email", {}, frontend_url=FRONTEND)
    with pytest.raises(InvalidMessageError, match="token"):
        render.render("password_reset", {}, frontend_url=FRONTEND)


# --- delivery ------------------------------------------------------------------------------


@pytest.fixture
def settings(runtime_settings: WorkerSettings, smtp: Mailbox) -> Iterator[WorkerSettings]:
    use(runtime_settings)
    yield runtime_settings
    use(WorkerSettings())


@pytest.fixture(scope="module")
async def runtime(runtime_settings: WorkerSettings, smtp: Mailbox) -> AsyncIterator[Runtime]:
    async with running_runtime(runtime_settings) as started:
        yield started


async def submit(message: SendEmail, **options: Any) -> str:
    """Enqueues ``message``; ``options`` become Dramatiq message options (e.g. fast retries)."""
    async with in_transaction() as connection:
        job = await enqueue(message, using_db=connection)
        if options:
            await connection.execute_query(
                "UPDATE outbox SET message = jsonb_set(message, '{options}', $1::jsonb)"
                " WHERE job_id = $2",
                [json.dumps(options), str(job.id)],
            )
    return str(job.id)


async def test_send_email_delivers_one_message_per_recipient_with_our_headers(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str, mailbox: Mailbox
) -> None:
    job_id = await submit(
        SendEmail(template="password_reset", to="ada@example.com", context={"token": "t0k"})
    )

    job = await wait_for_job(runtime_database_url, job_id, ["succeeded"])
    [message] = await asyncio.to_thread(mailbox.wait_for, "ada@example.com")

    assert job["result"]["sent"] is True
    assert message["Subject"] == "Reset your password"
    assert message["To"] == "ada@example.com"
    assert message["From"] == "ZeroCancer <no-reply@zerocancer.test>"
    assert message["X-ZeroCancer-Email-Type"] == "E-4"
    assert message["Message-ID"] == f"<{job_id}@zerocancer.test>"
    assert isinstance(message, EmailMessage)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert f"{FRONTEND}/reset-password?token=t0k" in text.get_content()
    assert f'href="{FRONTEND}/reset-password?token=t0k"' in html.get_content()


async def test_smtp_refusing_mail_is_retried_then_the_job_is_dead(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str, mailbox: Mailbox
) -> None:
    mailbox.refuse = True  # 451: a transient failure
    job_id = await submit(
        SendEmail(template="admin_password_reset", to="root@example.com", context={"token": "z"}),
        max_retries=2,
        min_backoff=10,
        max_backoff=30,
    )

    job = await wait_for_job(runtime_database_url, job_id, ["dead"])

    assert job["attempts"] == 3
    assert job["error"]["type"] == "SMTPDataError"
    assert mailbox.to("root@example.com") == []


async def test_a_notification_email_is_given_up_after_three_attempts(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str, mailbox: Mailbox
) -> None:
    mailbox.refuse = True
    job_id = await submit(
        SendEmail(template="matched", to="pat@example.com", context={"screening_type_name": "X"}),
        min_backoff=10,
        max_backoff=30,
    )

    job = await wait_for_job(runtime_database_url, job_id, ["dead"])

    assert job["attempts"] == 3
    assert job["error"]["type"] == "EmailGivenUpError"


async def test_an_unknown_template_is_dead_without_retry(
    runtime: Runtime, runtime_db: asyncpg.Connection, runtime_database_url: str
) -> None:
    job_id = await submit(SendEmail(template="nope", to="x@example.com"))

    job = await wait_for_job(runtime_database_url, job_id, ["dead"])

    assert job["attempts"] == 1
    assert job["error"]["type"] == "UnknownTemplateError"


async def test_more_than_five_reset_emails_an_hour_to_one_address_are_skipped(
    settings: WorkerSettings, mailbox: Mailbox
) -> None:
    results = [
        await send_email("password_reset", "many@example.com", {"token": str(n)}) for n in range(6)
    ]

    assert [r["sent"] for r in results] == [True] * 5 + [False]
    assert results[-1]["skipped"] == "hourly_cap"
    assert len(await asyncio.to_thread(mailbox.wait_for, "many@example.com", 5)) == 5


async def test_several_addresses_in_to_are_refused(settings: WorkerSettings) -> None:
    with pytest.raises(InvalidMessageError):
        await send_email("password_reset", "a@example.com, b@example.com", {"token": "t"})


async def test_without_smtp_host_mail_is_written_as_eml_files(
    runtime_settings: WorkerSettings,
) -> None:
    from dataclasses import replace

    use(replace(runtime_settings, smtp_host=None))
    try:
        result = await send_email("patient_verification", "eve@example.com", {"token": "q"})
    finally:
        use(WorkerSettings())

    assert result["sent"] is True
    [path] = runtime_settings.mail_outbox_dir.glob("*.eml")
    assert b"verify-email?token=q" in path.read_bytes()


async def test_a_receipt_email_carries_its_pdf(settings: WorkerSettings, mailbox: Mailbox) -> None:
    pdf = settings.storage_dir / "receipts" / "receipt-RCP-1.pdf"
    pdf.parent.mkdir(parents=True, exist_ok=True)
    pdf.write_bytes(b"%PDF-1.4 test")
    context = dict(SAMPLES["payment_receipt"][0], receipt_number="RCP-1")
    context["pdf_path"] = "receipts/receipt-RCP-1.pdf"

    await send_email("payment_receipt", "donor@example.com", context)

    [message] = await asyncio.to_thread(mailbox.wait_for, "donor@example.com")
    assert isinstance(message, EmailMessage)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "receipt-RCP-1.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.4 test"

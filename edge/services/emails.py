"""Account e-mails (auth.md 2.7, email.md E-1..E-7), enqueued in the caller's transaction.

The edge writes a `SendEmail` job through the outbox in the same transaction as the token it
mails, so the e-mail goes out only if the token was committed and the response never waits
for SMTP (D-AUTH-16). The actor builds links from FRONTEND_URL; the context carries values
only (the token, a center name), never URLs.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from actors.contracts.messages import SendEmail
from actors.contracts.outbox import Requester, enqueue

# Template names of `actors/emails/templates` (spec/email.md catalogue ids in comments).
#: E-1: new patient (or patient profile), "Verify your email", link /verify-email?token=
PATIENT_VERIFICATION = "patient_verification"
#: E-2: new donor (or donor profile), same e-mail as E-1
DONOR_VERIFICATION = "donor_verification"
#: E-3: POST /auth/resend-verification, same e-mail as E-1
RESEND_VERIFICATION = "resend_verification"
#: E-4: "Reset your password", link /reset-password?token= (30 minutes)
PASSWORD_RESET = "password_reset"  # noqa: S105 - a template name
#: E-5: "You're invited to join a center on Zerocancer", link /staff/create-new-password?token=
STAFF_INVITE = "staff_invite"
#: E-6: "Reset your Zerocancer Center Staff password", link /staff/reset-password?token=
STAFF_PASSWORD_RESET = "staff_password_reset"  # noqa: S105 - a template name
#: E-7: "Reset your Zerocancer Admin password", link /admin/reset-password?token=
ADMIN_PASSWORD_RESET = "admin_password_reset"  # noqa: S105 - a template name


async def send_email(
    template: str,
    to: str,
    context: dict[str, Any],
    *,
    using_db: BaseDBAsyncClient,
    requested_by: Requester | None = None,
) -> None:
    """Enqueues one e-mail to one address inside `using_db`'s transaction."""
    message = SendEmail(template=template, to=to, context=context)
    await enqueue(message, using_db=using_db, requested_by=requested_by)

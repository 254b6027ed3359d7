"""The security world: two of each actor and the resources the matrix reads and changes.

Resources belong to the "A" side (`patient`, `donor`, `center` and its staff); the "B" side
(`other_patient`, `other_donor`, `other_center`, `other_center_staff`) owns accounts of its own
and serves to ask for A's resources. Resources that an allowed caller changes (cancel, delete,
claim...) exist once per changing role, so a change made by one role never decides what another
role's request answers; the other side always targets a resource nobody changes.

    world = await build_world(storage, sandbox)
    world.headers("other_center_staff")     # Authorization for that role (or x-api-key)
    world.ids["appt_view"]                  # a resource id by name
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from models.analytics import AnalyticsSnapshot
from models.appointments import Appointment
from models.base import utc_now
from models.enums import (
    AppointmentStatus,
    PayoutStatus,
    PayoutType,
    ServiceCenterStatus,
    TransactionStatus,
    TransactionType,
)
from models.files import StoredFile
from models.jobs import Job, JobStatus
from models.payouts import Payout
from models.results import ScreeningResult, ScreeningResultFile
from models.store import StoreProduct
from models.transactions import Receipt, Transaction
from models.users import Admins
from tests.conftest import TEST_ENV
from tests.edge.factories_appointments import (
    PDF_BYTES,
    make_appointment,
    make_campaign,
    make_entry,
    make_execution,
    make_match,
    make_result,
    make_transaction,
    today_noon_lagos,
)
from tests.edge.factories_centers import make_invite, make_notification
from tests.factories import (
    bearer,
    make_admin,
    make_center,
    make_donor,
    make_patient,
    make_screening_type,
    make_staff,
    owner_staff,
)
from tests.sandbox.paystack import PaystackSandbox, now_iso

#: Every caller the matrix tries, in the order its cases run.
ROLES: tuple[str, ...] = (
    "anonymous",
    "cron_key",
    "patient",
    "other_patient",
    "donor",
    "other_donor",
    "center",
    "center_staff",
    "other_center",
    "other_center_staff",
    "admin",
)
#: The token profile (lower-cased, the guard's role name) of each role with a token.
KIND: dict[str, str] = {
    "patient": "patient",
    "other_patient": "patient",
    "donor": "donor",
    "other_donor": "donor",
    "center": "center",
    "other_center": "center",
    "center_staff": "center_staff",
    "other_center_staff": "center_staff",
    "admin": "admin",
}
#: Roles that act for center A (the owner of the centre resources).
CENTER_A = ("center", "center_staff")
#: Roles of another centre than the resources' one.
CENTER_B = ("other_center", "other_center_staff")
#: Access tokens of the world live this long (the suite must never see one expire).
TOKEN_TTL = 3600

BANK_ACCOUNT = "0123456789"
BANK_NAME = "Zenith Bank"


def future_iso(days: int = 3) -> str:
    moment = utc_now() + dt.timedelta(days=days)
    return moment.isoformat(timespec="milliseconds") + "Z"


@dataclass
class World:
    """Ids by name, each role's credentials and account e-mail, and the storage root."""

    storage: Path
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, Any] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        if role == "cron_key":
            return {"x-api-key": TEST_ENV["CRON_API_KEY"]}
        return dict(self.tokens[role])

    @property
    def secret(self) -> str:
        """The key the edge verifies tokens with."""
        return TEST_ENV["JWT_TOKEN_SECRET"]

    def bearer(self, role: str, **options: Any) -> dict[str, str]:
        """A token of the role's account with other claims (`typ=`, `ttl=`, `profile=`)."""
        return bearer(self.accounts[role], **options)


# ---------------------------------------------------------------------------------------------
# Stored bytes (under the security edge's STORAGE_DIR, not the session one)


async def stored_result_file(
    world: World,
    appointment: Appointment,
    *,
    content: bytes = PDF_BYTES,
    file_name: str = "report.pdf",
    content_type: str = "application/pdf",
    deleted: bool = False,
) -> ScreeningResultFile:
    """A result file whose bytes this system stores (`cloudinaryId` = `local:{id}`)."""
    result = await ScreeningResult.get_or_none(appointment_id=appointment.id)
    result = result or await make_result(appointment)
    file_id = str(uuid.uuid4())
    extension = file_name.rsplit(".", 1)[-1].lower()
    key = f"results/{appointment.id}/{file_id}.{extension}"
    path = world.storage / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    await StoredFile.create(
        id=uuid.UUID(file_id),
        storage_key=key,
        content_type=content_type,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        original_name=file_name,
    )
    return await ScreeningResultFile.create(
        id=file_id,
        result_id=result.id,
        file_name=file_name,
        file_path=file_name,
        file_type=content_type,
        file_size=len(content),
        cloudinary_url=f"/api/v1/appointment/files/{file_id}/content",
        cloudinary_id=f"local:{file_id}",
        uploaded_at=utc_now(),
        is_deleted=deleted,
        deleted_at=utc_now() if deleted else None,
    )


async def receipt_for(world: World, transaction: Transaction, number: str) -> Receipt:
    key = f"receipts/{number}.pdf"
    path = world.storage / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PDF_BYTES)
    return await Receipt.create(
        transaction_id=transaction.id,
        receipt_number=number,
        receipt_data={"type": str(transaction.type), "amount": transaction.amount},
        pdf_path=key,
    )


def sandbox_payment(
    sandbox: PaystackSandbox, reference: str, email: str, metadata: dict[str, Any]
) -> None:
    """A payment the sandbox knows, left `abandoned` (verifying it changes nothing here)."""
    with sandbox.lock:
        sandbox.transactions[reference] = {
            "id": len(sandbox.transactions) + 1,
            "reference": reference,
            "amount": 50_000,
            "email": email,
            "callback_url": None,
            "metadata": metadata,
            "access_code": uuid.uuid4().hex[:16],
            "status": "abandoned",
            "paid_at": None,
            "created_at": now_iso(),
        }


# ---------------------------------------------------------------------------------------------
# The world


async def build_world(storage: Path, sandbox: PaystackSandbox) -> World:
    world = World(storage=storage)
    ids = world.ids

    # -- accounts ----------------------------------------------------------------------------
    screening = await make_screening_type(name="Security Pap smear")
    waitlist_type = await make_screening_type(name="Security Mammogram")
    leave_type = await make_screening_type(name="Security PSA")
    join_type = await make_screening_type(name="Security Colonoscopy")
    center_a = await make_center(
        center_name="Alpha Diagnostics",
        services=[screening, waitlist_type, join_type],
        bank_account=BANK_ACCOUNT,
        bank_name=BANK_NAME,
    )
    center_b = await make_center(
        center_name="Beta Diagnostics",
        services=[screening],
        bank_account="9876543210",
        bank_name="Access Bank",
    )
    inactive = await make_center(
        center_name="Gamma Diagnostics", status=ServiceCenterStatus.INACTIVE
    )
    patient = await make_patient(full_name="Amaka Alpha")
    other_patient = await make_patient(full_name="Bola Beta")
    donor = await make_donor(full_name="Dayo Alpha")
    other_donor = await make_donor(full_name="Deji Beta")
    staff_a = await make_staff(center_a)
    staff_b = await make_staff(center_b)
    staff_target = await make_staff(center_a)
    admin: Admins = await make_admin()
    world.accounts = {
        "patient": patient,
        "other_patient": other_patient,
        "donor": donor,
        "other_donor": other_donor,
        "center": await owner_staff(center_a),
        "center_staff": staff_a,
        "other_center": await owner_staff(center_b),
        "other_center_staff": staff_b,
        "admin": admin,
    }
    for role, account in world.accounts.items():
        world.tokens[role] = bearer(account, ttl=TOKEN_TTL)
        world.emails[role] = account.email
    ids.update(
        center_a=center_a.id,
        center_b=center_b.id,
        center_inactive=inactive.id,
        screening_type=screening.id,
        type_name=quote(screening.name),
        category=screening.screening_type_category_id,
        waitlist_type=waitlist_type.id,
        join_type=join_type.id,
        patient=patient.id,
        other_patient=other_patient.id,
        staff_target=staff_target.id,
    )

    # -- appointments and results of patient A at center A --------------------------------------
    tomorrow = today_noon_lagos() + dt.timedelta(days=1)

    async def appointment(
        status: AppointmentStatus = AppointmentStatus.SCHEDULED, **fields: Any
    ) -> Appointment:
        return await make_appointment(patient, center_a, screening, status=status, **fields)

    tx_appt = await make_transaction(amount=15000.0)
    view = await appointment(transaction=tx_appt)
    ids["appt_view"] = view.id
    ids["tx_appt"] = tx_appt.id
    ids["file_view"] = (await stored_result_file(world, view)).id
    ids["file_deleted_stable"] = (await stored_result_file(world, view, deleted=True)).id
    ids["result_view"] = (await ScreeningResult.get(appointment_id=view.id)).id
    await receipt_for(world, tx_appt, "RCP-20260101-900001")

    for role in CENTER_A:
        ids[f"appt_cancel_{role}"] = (await appointment(when=tomorrow)).id
        ids[f"appt_resched_{role}"] = (await appointment(when=tomorrow)).id
        ids[f"appt_upload_{role}"] = (await appointment(when=tomorrow)).id
        completing = await appointment(AppointmentStatus.IN_PROGRESS)
        await stored_result_file(world, completing)
        ids[f"appt_complete_{role}"] = completing.id
    ids["appt_stable"] = (await appointment(when=tomorrow)).id
    in_progress = await appointment(AppointmentStatus.IN_PROGRESS)
    await stored_result_file(world, in_progress)
    ids["appt_in_progress_stable"] = in_progress.id
    files = await appointment(AppointmentStatus.IN_PROGRESS)
    for role in CENTER_A:
        ids[f"file_delete_{role}"] = (await stored_result_file(world, files)).id
        ids[f"file_restore_{role}"] = (await stored_result_file(world, files, deleted=True)).id
    for name in ("center", "center_staff", "stable"):
        verify = await appointment(code=f"SEC{name.upper()[:6]}{uuid.uuid4().hex[:6].upper()}")
        world.codes[name] = verify.check_in_code or ""
        ids[f"appt_verify_{name}"] = verify.id

    # -- money: campaigns, matches, waitlists, donation receipt --------------------------------
    campaign = await make_campaign(donor=donor, total=100_000.0, title="Alpha campaign")
    ids["campaign_a"] = campaign.id
    await campaign.screening_types.add(screening)
    ids["campaign_delete"] = (await make_campaign(donor=donor, title="Alpha to delete")).id
    ids["campaign_admin"] = (await make_campaign(donor=donor, title="Alpha for admin")).id
    ids["campaign_b"] = (await make_campaign(donor=other_donor, title="Beta campaign")).id
    _, eligible = await make_match(patient, screening, campaign)
    _, selectable = await make_match(patient, screening, campaign)
    _, expirable = await make_match(other_patient, screening, campaign)
    ids.update(alloc_eligible=eligible.id, alloc_select=selectable.id, alloc_expire=expirable.id)
    ids["entry_view"] = (await make_entry(patient, waitlist_type)).id
    ids["entry_leave"] = (await make_entry(patient, leave_type)).id
    tx_donation = await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.COMPLETED,
        amount=100_000.0,
        payment_reference=f"campaign-create-sec-{uuid.uuid4().hex[:12]}",
        payment_channel="PAYSTACK",
        related_donation_id=campaign.id,
    )
    ids["tx_donation"] = tx_donation.id
    await receipt_for(world, tx_donation, "RCP-20260101-900002")

    # Payments the provider knows, for verify-payment's owner-only context (D-DON-7).
    ids["ref_campaign"] = f"campaign-fund-sec-{uuid.uuid4().hex[:12]}"
    await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.PENDING,
        amount=500.0,
        payment_reference=ids["ref_campaign"],
        payment_channel="PAYSTACK",
        related_donation_id=campaign.id,
    )
    sandbox_payment(
        sandbox,
        ids["ref_campaign"],
        donor.email,
        {"payment_type": "campaign_funding", "campaign_id": campaign.id, "funding_amount": 500},
    )
    ids["ref_booking"] = f"book-appointment-sec-{uuid.uuid4().hex[:12]}"
    tx_booking = await make_transaction(
        status=TransactionStatus.PENDING, reference=ids["ref_booking"]
    )
    booked = await appointment(AppointmentStatus.PENDING, transaction=tx_booking)
    sandbox_payment(
        sandbox,
        ids["ref_booking"],
        patient.email,
        {"payment_type": "appointment_booking", "appointmentId": booked.id},
    )

    # -- notifications, invites ----------------------------------------------------------------
    ids["notification_a"] = (await make_notification([patient.id]))[0].id
    ids["invite_revoke"] = (await make_invite(center_a)).token
    ids["invite_stable"] = (await make_invite(center_a)).token

    # -- payouts, matching, store, analytics ----------------------------------------------------
    now = utc_now()

    async def payout(status: PayoutStatus) -> Payout:
        return await Payout.create(
            batch_reference=f"BATCH-SEC-{uuid.uuid4().hex[:8]}",
            payout_number=f"PAY-SEC-{uuid.uuid4().hex[:8]}",
            center_id=center_a.id,
            amount=15000.0,
            net_amount=14990.0,
            status=status,
            type=PayoutType.MANUAL,
            period_start=now - dt.timedelta(days=30),
            period_end=now,
            reason="Security matrix payout",
        )

    ids["payout_pending"] = (await payout(PayoutStatus.PENDING)).id
    ids["payout_failed"] = (await payout(PayoutStatus.FAILED)).id
    ids["execution"] = (await make_execution()).id
    for name, status, kind, requester in (
        ("job_patient", JobStatus.SUCCEEDED, "patient", patient.id),
        ("job_center", JobStatus.SUCCEEDED, "staff", center_a.id),
        ("job_dead", JobStatus.DEAD, "admin", admin.id),
    ):
        job = await Job.create(
            actor_name="send_email",
            queue_name="emails",
            args={"template": "notification", "to": "secret-args@example.com"},
            status=status,
            requested_by_kind=kind,
            requested_by_id=requester,
            error={"type": "SMTPError", "message": "boom"} if status == JobStatus.DEAD else None,
        )
        ids[name] = str(job.id)
    ids["product"] = str((await StoreProduct.create(name="Security kit", price=10.0, stock=3)).id)
    for kind, scope, data in (
        ("dashboard", "", {}),
        ("geographic", "", {}),
        ("centers", "", []),
        ("campaigns", "", []),
        ("time", "period=monthly", {}),
    ):
        await AnalyticsSnapshot.create(kind=kind, scope=scope, data=data, duration_ms=1)
    report_id = uuid.uuid4()
    report_key = f"reports/analytics/{report_id}.csv"
    (storage / "reports" / "analytics").mkdir(parents=True, exist_ok=True)
    (storage / report_key).write_bytes(b"metric,value\nusers,2\n")
    await StoredFile.create(
        id=report_id,
        storage_key=report_key,
        content_type="text/csv",
        size_bytes=21,
        sha256=hashlib.sha256(b"metric,value\nusers,2\n").hexdigest(),
        original_name="dashboard.csv",
    )
    ids["report_file"] = str(report_id)
    return world

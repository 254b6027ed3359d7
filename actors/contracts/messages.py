"""Messages: one frozen dataclass per actor, naming its actor and queue (the edge's view of actors).

The edge sends work by writing one of these through ``actors.contracts.enqueue``; it never
imports the actor code or Dramatiq. ``tests/actors/test_contracts.py`` checks that every class
here matches a registered actor with the same name, queue and parameter names.

Field values must be JSON-serialisable: they travel as Dramatiq's ``kwargs``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class Message:
    """Base of every message. Subclasses set ``actor_name`` and ``queue_name``."""

    actor_name: ClassVar[str]
    queue_name: ClassVar[str]

    def to_kwargs(self) -> dict[str, Any]:
        """The actor's keyword arguments (Dramatiq ``kwargs``), field by field."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


# --- email -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendEmail(Message):
    """Render email ``template`` (see ``actors/emails/templates``) with ``context`` and send it to
    one address (``to``). Links are built from FRONTEND_URL by the actor, so the context carries
    only values (token, names, ...), never URLs."""

    actor_name: ClassVar[str] = "send_email"
    queue_name: ClassVar[str] = "email"

    template: str
    to: str
    context: dict[str, Any] = field(default_factory=dict)


# --- scheduled maintenance --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurgeExpiredTokens(Message):
    """Delete expired one-time tokens (verification, password resets) and refresh-token
    revocations past their expiry."""

    actor_name: ClassVar[str] = "purge_expired_tokens"
    queue_name: ClassVar[str] = "scheduled"


def all_messages() -> list[type[Message]]:
    """Every concrete message class defined in this module, in definition order."""
    module = sys.modules[__name__]
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Message)
        and value is not Message
        and "actor_name" in vars(value)
    ]


def message_class(actor_name: str) -> type[Message] | None:
    """The message class for ``actor_name``, or None when no capability declared one yet."""
    for cls in all_messages():
        if cls.actor_name == actor_name:
            return cls
    return None


# --- matching --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunMatching(Message):
    """One waitlist matching run (matching.md §3.2): abandoned runs failed, expiry, matching.

    ``overrides`` are the trigger request's ``batchConfig`` keys (camelCase), laid over the stored
    overrides, the environment and the defaults; triggers with equal overrides coalesce while
    queued. ``trigger_source`` is ``schedule``, ``cron``, ``admin`` or ``event``; ``admin_id`` the
    admin who asked (recorded in ``batchConfig.trigger``)."""

    actor_name: ClassVar[str] = "run_matching"
    queue_name: ClassVar[str] = "matching"

    trigger_source: str = "schedule"
    admin_id: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


# --- images ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessResultImage(Message):
    """Derivatives of an uploaded result image: a metadata-free web version and a thumbnail
    beside the original (which stays byte-for-byte, appointments.md §3.2). ``storage_key`` is the
    original's key under STORAGE_DIR; decompression bombs fail the job permanently."""

    actor_name: ClassVar[str] = "process_result_image"
    queue_name: ClassVar[str] = "images"

    file_id: str
    storage_key: str
    content_type: str


# --- analytics -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshAnalyticsSnapshot(Message):
    """Recompute analytics snapshots (spec/analytics.md) and upsert them into
    ``analytics_snapshots``. ``kind`` None refreshes every report (the time report for each
    period's default window); ``scope`` narrows a ``time`` refresh to one window, written by
    ``actors.analytics.windows.time_scope`` (``period=monthly&from=...&to=...``)."""

    actor_name: ClassVar[str] = "refresh_analytics_snapshot"
    queue_name: ClassVar[str] = "analytics"

    kind: str | None = None
    scope: str = ""


@dataclass(frozen=True, slots=True)
class RenderAnalyticsReport(Message):
    """Render the admin dashboard as a download (``file_format`` ``csv`` or ``pdf``) from fresh
    analytics; the job's result names the stored file (``fileId``, ``downloadUrl``)."""

    actor_name: ClassVar[str] = "render_analytics_report"
    queue_name: ClassVar[str] = "analytics"

    file_format: str = "csv"


# --- bulk data -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportCenters(Message):
    """Import service centres from a CSV stored under STORAGE_DIR at ``storage_key``; valid rows
    are upserted by e-mail, invalid ones reported per row in the job's result."""

    actor_name: ClassVar[str] = "import_centers"
    queue_name: ClassVar[str] = "bulk"

    storage_key: str
    original_name: str = ""


@dataclass(frozen=True, slots=True)
class ImportScreeningTypes(Message):
    """Import screening types from a CSV stored under STORAGE_DIR at ``storage_key``; valid rows
    are upserted by name, invalid ones reported per row in the job's result."""

    actor_name: ClassVar[str] = "import_screening_types"
    queue_name: ClassVar[str] = "bulk"

    storage_key: str
    original_name: str = ""


@dataclass(frozen=True, slots=True)
class ExportAppointments(Message):
    """Export appointments (optionally created in ``[date_from, date_to]``, ISO dates or
    instants, and of one ``status``) as CSV under STORAGE_DIR; the result names the file."""

    actor_name: ClassVar[str] = "export_appointments"
    queue_name: ClassVar[str] = "bulk"

    date_from: str | None = None
    date_to: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ExportTransactions(Message):
    """Export transactions (optionally created in ``[date_from, date_to]`` and of one
    ``status``) as CSV under STORAGE_DIR; the result names the file."""

    actor_name: ClassVar[str] = "export_transactions"
    queue_name: ClassVar[str] = "bulk"

    date_from: str | None = None
    date_to: str | None = None
    status: str | None = None


# --- documents -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderReceipt(Message):
    """Issue the receipt of a COMPLETED donation or appointment payment (receipts.md §3.4): create
    it if absent (number + data; never a second one), render and store its PDF (re-render when
    missing or ``regenerate``), then email it to ``email_to`` when set: once per address unless
    ``resend``. ``donor_email`` is the address an anonymous donor gave (``actual_email``); the
    result names the receipt and the email job (``emailJobId``)."""

    actor_name: ClassVar[str] = "render_receipt"
    queue_name: ClassVar[str] = "pdf"

    transaction_id: str
    email_to: str | None = None
    donor_email: str | None = None
    regenerate: bool = False
    resend: bool = False


# --- payouts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessPayout(Message):
    """Process one payout (payouts.md §3.4): recipient, atomic claim PENDING -> PROCESSING, then
    one transfer. With ``retry`` (§3.5) the FAILED payout's previous transfer is verified with the
    provider first, and a new transfer starts only if that one did not go through. The result is
    ``{"ok", "error"?, "payout"?, "transfer"?}``."""

    actor_name: ClassVar[str] = "process_payout"
    queue_name: ClassVar[str] = "payouts"

    payout_id: str
    retry: bool = False


@dataclass(frozen=True, slots=True)
class ReconcilePayout(Message):
    """Ask the provider for the outcome of a PROCESSING payout's transfer whose answer was lost
    (timeout), until it is known (payouts.md §2.2)."""

    actor_name: ClassVar[str] = "reconcile_payout"
    queue_name: ClassVar[str] = "payouts"

    payout_id: str


@dataclass(frozen=True, slots=True)
class RunMonthlyPayouts(Message):
    """The monthly payout batch (payouts.md §3.9): one payout per ACTIVE centre owed at least
    ₦100, each processed at once; one run at a time. ``trigger`` is ``schedule`` or ``cron``."""

    actor_name: ClassVar[str] = "run_monthly_payouts"
    queue_name: ClassVar[str] = "payouts"

    trigger: str = "schedule"


# --- scheduled jobs, optional (scheduled-jobs.md 4.5, 4.6; actors in actors.scheduled_optional)


@dataclass(frozen=True, slots=True)
class SendAppointmentReminders(Message):
    """One hourly reminder sweep (APPOINTMENT_REMINDERS_ENABLED): SCHEDULED appointments 23-24 h
    after ``slot`` (ISO UTC, the schedule slot) get a notification and an e-mail, once each."""

    actor_name: ClassVar[str] = "send_appointment_reminders"
    queue_name: ClassVar[str] = "scheduled"

    slot: str = ""


@dataclass(frozen=True, slots=True)
class PurgeResultFiles(Message):
    """Delete the stored bytes of local result files soft-deleted more than ``older_than_days``
    ago (RESULT_FILE_PURGE_DAYS); the file rows stay as history."""

    actor_name: ClassVar[str] = "purge_result_files"
    queue_name: ClassVar[str] = "bulk"

    older_than_days: int = 90

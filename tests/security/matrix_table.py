"""The authorization matrix: one row per served operation (and per resource variant), the
request each role sends, and the status the contract promises to each role.

How a row's expectation for a role is worked out (`Row.expected`):

- `guard=PUBLIC`: every caller gets `ok` (tokens are irrelevant);
- `guard=ANY_TOKEN` (the guard without roles): `anonymous` and `cron_key` get 401, every token
  holder gets `ok`;
- `guard=frozenset(roles)` (`requires_role(...)`): `anonymous` and `cron_key` 401; a token whose
  profile is not listed 403 (auth.md 2.4); a listed one `ok`;
- `guard=CRON` (`x-api-key` = CRON_API_KEY): `cron_key` gets `ok`, everybody else 401 — a
  bearer token never opens a cron route;
- `guard=SIGNED` (provider webhooks): nobody here has a valid signature.

`expect` overrides single roles: that is where ownership lives (another patient's appointment is
404, another centre's upload is 403, ...). Resources belong to the A side (world.py); `ids` name
the world resource of each path parameter, `own_ids` the one an allowed A-side role changes so
that its change never decides another row's answer. `holes` marks a role whose answer differs
from the contract: the case is a strict xfail naming the defect, so the suite stays green while
the hole stays visible; fixing the code turns it into an XPASS that fails until the mark goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.security.world import BANK_ACCOUNT, CENTER_A, CENTER_B, KIND, ROLES, World, future_iso

PUBLIC = "public"
ANY_TOKEN = "any-token"
CRON = "cron"
SIGNED = "signed"

Status = int | tuple[int, ...]
Guard = str | frozenset[str]
Body = Callable[[World, str], Any]
Check = Callable[[World, str, httpx.Response], None]

ANONYMOUS = ("anonymous", "cron_key")
#: A job-backed endpoint past its guard: 202 with the job's address, or 503 with Retry-After at
#: once while no worker of its queue is alive (edge/jobs.py; no worker runs in this suite).
JOB = (202, 503)
PATIENTS = ("patient", "other_patient")
DONORS = ("donor", "other_donor")


def roles(*names: str) -> frozenset[str]:
    unknown = set(names) - set(KIND.values())
    assert not unknown, unknown
    return frozenset(names)


CENTER_ROLES = roles("center", "center_staff")
PAYOUT_ROLES = roles("admin", "center", "center_staff")
ADMIN = roles("admin")


def each(names: Iterable[str], status: Status) -> dict[str, Status]:
    return dict.fromkeys(names, status)


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    guard: Guard
    ok: Status = 200
    expect: Mapping[str, Status] = field(default_factory=dict)
    ids: Mapping[str, str] = field(default_factory=dict)
    own_ids: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    body: Body | None = None
    content: bytes | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    variant: str = ""
    check: Check | None = None
    holes: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    json_response: bool = True

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def name(self) -> str:
        return f"{self.key} [{self.variant}]" if self.variant else self.key

    def expected(self, role: str) -> tuple[int, ...]:
        status = self.expect[role] if role in self.expect else self._default(role)
        return status if isinstance(status, tuple) else (status,)

    def _default(self, role: str) -> Status:
        if self.guard == PUBLIC:
            return self.ok
        if self.guard == CRON:
            return self.ok if role == "cron_key" else 401
        if self.guard == SIGNED:
            raise AssertionError(f"{self.name}: signed routes list every role in expect")
        if role in ANONYMOUS:
            return 401
        if self.guard == ANY_TOKEN:
            return self.ok
        assert isinstance(self.guard, frozenset)
        return self.ok if KIND[role] in self.guard else 403

    def url(self, world: World, role: str) -> str:
        path = self.path
        names = {**self.ids, **self.own_ids.get(role, {})}
        for param, resource in names.items():
            path = path.replace("{" + param + "}", world.ids[resource])
        assert "{" not in path, f"{self.name}: unfilled parameter in {path}"
        return path


# ---------------------------------------------------------------------------------------------
# Leak checks: what a caller who may call a route must still not see


def _center_a(body: dict[str, Any], world: World) -> dict[str, Any]:
    data = body["data"]
    items = data["centers"] if isinstance(data, dict) and "centers" in data else [data]
    found = [item for item in items if item["id"] == world.ids["center_a"]]
    assert found, "center A missing from the answer"
    return found[0]


def center_private_fields(world: World, role: str, response: httpx.Response) -> None:
    """Bank details and staff only for center A's own accounts and admins (D-CEN-2)."""
    center = _center_a(response.json(), world)
    if role in (*CENTER_A, "admin"):
        assert center["bankAccount"] == BANK_ACCOUNT
        assert center["staff"], "the owner sees the staff list"
    else:
        assert center["bankAccount"] is None, f"{role} sees center A's bank account"
        assert center["bankName"] is None
        assert center["staff"] == [], f"{role} sees center A's staff"


def no_password_hashes(world: World, role: str, response: httpx.Response) -> None:
    """D-ADM-1: no answer ever carries a password hash."""
    text = response.text
    assert "passwordHash" not in text
    assert "password_hash" not in text
    assert "$2b$" not in text


def only_own_center_appointments(world: World, role: str, response: httpx.Response) -> None:
    """A centre's list never shows another centre's appointments, nor check-in codes."""
    appointments = response.json()["data"]["appointments"]
    listed = {item["id"] for item in appointments}
    if role in CENTER_B:
        assert world.ids["appt_view"] not in listed, f"{role} lists center A's appointment"
    else:
        assert world.ids["appt_view"] in listed
    assert all(item.get("checkInCode") is None for item in appointments), "codes leak (D-APT-12)"


def foreign_check_in_refused(world: World, role: str, response: httpx.Response) -> None:
    """Another centre learns nothing from a code (D-APT-6)."""
    data = response.json()["data"]
    if role in CENTER_B:
        assert data["valid"] is False
        assert "appointmentId" not in data, "a foreign centre learns the appointment id"
        assert data["message"] == "Check-in code does not belong to your center"
    else:
        assert data["valid"] is True, data


def verify_payment_context(world: World, role: str, response: httpx.Response) -> None:
    """The campaign behind a payment only for its donor and admins (D-DON-7)."""
    context = response.json()["data"]["context"]
    if role in ("donor", "admin"):
        assert context["campaign"] is not None
        assert context["campaign"]["id"] == world.ids["campaign_a"]
    else:
        assert context["campaign"] is None, f"{role} sees the campaign behind a payment"


def verify_booking_context(world: World, role: str, response: httpx.Response) -> None:
    """The appointment behind a payment only for its patient and admins (D-DON-7)."""
    context = response.json()["data"]["context"]
    if role in ("patient", "admin"):
        assert context["appointment"] is not None
        assert context["appointment"]["patientId"] == world.ids["patient"]
    else:
        assert context["appointment"] is None, f"{role} sees the appointment behind a payment"


def result_visibility(world: World, role: str, response: httpx.Response) -> None:
    """Patients never see soft-deleted files and get `active` links; others get `all`."""
    files = response.json()["data"]["files"]
    ids = {item["id"] for item in files}
    assert world.ids["file_view"] in ids
    if KIND[role] == "patient":
        assert world.ids["file_deleted_stable"] not in ids, "a patient sees a deleted file"
        assert all("scope=active" in item["cloudinaryUrl"] for item in files)
    else:
        assert world.ids["file_deleted_stable"] in ids
        assert all("scope=all" in item["cloudinaryUrl"] for item in files)


def demand_counts_only(world: World, role: str, response: httpx.Response) -> None:
    assert "patientId" not in response.text
    assert world.ids["patient"] not in response.text


def no_foreign_invites(world: World, role: str, response: httpx.Response) -> None:
    tokens = {item["token"] for item in response.json()["data"]["invites"]}
    if role == "other_center":
        assert world.ids["invite_stable"] not in tokens, "center B sees center A's invites"
    else:
        assert world.ids["invite_stable"] in tokens


def own_notifications_only(world: World, role: str, response: httpx.Response) -> None:
    listed = {item["id"] for item in response.json()["data"]}
    if role == "patient":
        assert world.ids["notification_a"] in listed
    else:
        assert world.ids["notification_a"] not in listed, f"{role} sees patient A's notification"


def own_campaigns_only(world: World, role: str, response: httpx.Response) -> None:
    listed = {item["id"] for item in response.json()["data"]["campaigns"]}
    mine, theirs = ("campaign_a", "campaign_b") if role == "donor" else ("campaign_b", "campaign_a")
    assert world.ids[mine] in listed
    assert world.ids[theirs] not in listed, f"{role} lists another donor's campaign"


def own_appointments_only(world: World, role: str, response: httpx.Response) -> None:
    listed = {item["id"] for item in response.json()["data"]["appointments"]}
    if role == "patient":
        assert world.ids["appt_view"] in listed
    else:
        assert world.ids["appt_view"] not in listed, f"{role} lists patient A's appointment"


def job_args_hidden(world: World, role: str, response: httpx.Response) -> None:
    """Job arguments can hold one-time tokens: never shown."""
    assert "secret-args@example.com" not in response.text
    assert '"args"' not in response.text


def pdf_bytes(world: World, role: str, response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.content.startswith(b"%PDF-")


def safe_download(world: World, role: str, response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.content.startswith(b"%PDF-")


# ---------------------------------------------------------------------------------------------
# Bodies


def _json(value: Any) -> Body:
    return lambda world, role: value


def email_of(world: World, role: str) -> dict[str, Any]:
    return {"emailRecipient": world.emails.get(role, "nobody@example.com")}


def unsigned_webhook_payload() -> bytes:
    return json.dumps({"event": "charge.success", "data": {"reference": "x"}}).encode()


# ---------------------------------------------------------------------------------------------
# The rows

FOREIGN_PATIENT = {"other_patient": 404}
FOREIGN_DONOR = {"other_donor": 404}
FOREIGN_CENTER_404 = each(CENTER_B, 404)
FOREIGN_CENTER_403 = each(CENTER_B, 403)
ROWS: tuple[Row, ...] = (
    # -- operator and docs (public) ------------------------------------------------------------
    Row("GET", "/api/v1/healthz", PUBLIC),
    Row("GET", "/api/v1/readyz", PUBLIC),
    Row("GET", "/metrics", PUBLIC, json_response=False),
    Row("GET", "/docs", PUBLIC, json_response=False),
    Row("GET", "/docs/redoc", PUBLIC, json_response=False),
    Row("GET", "/docs/openapi.json", PUBLIC),
    # -- auth (auth.md 3) --------------------------------------------------------------------
    Row("POST", "/api/v1/auth/login", PUBLIC, ok=400, body=_json({})),
    Row("GET", "/api/v1/auth/me", ANY_TOKEN),
    # Refresh reads only the cookie: a bearer access token is never a refresh credential.
    Row("POST", "/api/v1/auth/refresh", PUBLIC, ok=403),
    Row("POST", "/api/v1/auth/logout", PUBLIC),
    Row(
        "POST",
        "/api/v1/auth/forgot-password",
        PUBLIC,
        body=_json({"email": "nobody-security@example.com"}),
    ),
    Row(
        "POST",
        "/api/v1/auth/reset-password",
        PUBLIC,
        ok=400,
        body=_json({"token": "0" * 64, "password": "new-password-1"}),
    ),
    Row("POST", "/api/v1/auth/verify-email", PUBLIC, ok=400, body=_json({"token": "0" * 64})),
    Row(
        "POST",
        "/api/v1/auth/resend-verification",
        PUBLIC,
        body=_json({"email": "nobody-security@example.com", "profileType": "PATIENT"}),
    ),
    # -- registration (public; 20 profile probes a minute per address: 429 when spent) -------
    Row(
        "POST",
        "/api/v1/register/check-profiles",
        PUBLIC,
        ok=(200, 429),
        body=_json({"email": "nobody-security@example.com"}),
    ),
    Row("POST", "/api/v1/register/patient", PUBLIC, ok=400, body=_json({})),
    Row("POST", "/api/v1/register/donor", PUBLIC, ok=400, body=_json({})),
    Row("POST", "/api/v1/register/center", PUBLIC, ok=400, body=_json({})),
    # -- admin accounts (admin.md 2) -----------------------------------------------------------
    Row("POST", "/api/v1/admin/login", PUBLIC, ok=400, body=_json({})),
    Row(
        "POST",
        "/api/v1/admin/forgot-password",
        PUBLIC,
        body=_json({"email": "nobody-security@example.com"}),
    ),
    Row(
        "POST",
        "/api/v1/admin/reset-password",
        PUBLIC,
        ok=400,
        body=_json({"token": "0" * 24, "password": "new-password-1"}),
    ),
    Row(
        "POST",
        "/api/v1/admin/create",
        ADMIN,
        body=_json(
            {
                "fullName": "Second Admin",
                "email": "second-admin-security@example.com",
                "password": "long-enough-1",
            }
        ),
    ),
    # -- admin oversight (admin.md 3-11: router-wide admin check) -----------------------------
    Row("GET", "/api/v1/admin/centers", ADMIN, check=no_password_hashes),
    Row(
        "PATCH",
        "/api/v1/admin/centers/{center_id}/status",
        ADMIN,
        ids={"center_id": "center_inactive"},
        body=_json({"status": "ACTIVE"}),
    ),
    Row("GET", "/api/v1/admin/users", ADMIN, check=no_password_hashes),
    Row("GET", "/api/v1/admin/campaigns", ADMIN),
    Row(
        "PATCH",
        "/api/v1/admin/campaigns/{campaign_id}/status",
        ADMIN,
        ids={"campaign_id": "campaign_admin"},
        body=_json({"status": "COMPLETED"}),
    ),
    Row("GET", "/api/v1/admin/appointments", ADMIN),
    Row("GET", "/api/v1/admin/transactions", ADMIN),
    Row("GET", "/api/v1/admin/store/products", ADMIN),
    Row(
        "POST",
        "/api/v1/admin/store/products",
        ADMIN,
        body=_json({"name": "Kit", "price": 5.0, "stock": 1}),
    ),
    Row(
        "PATCH",
        "/api/v1/admin/store/products/{product_id}",
        ADMIN,
        ids={"product_id": "product"},
        body=_json({"stock": 9}),
    ),
    Row("GET", "/api/v1/admin/matching/executions", ADMIN),
    Row(
        "GET",
        "/api/v1/admin/matching/executions/{execution_id}",
        ADMIN,
        ids={"execution_id": "execution"},
    ),
    Row(
        "GET",
        "/api/v1/admin/matching/executions/{execution_id}/logs",
        ADMIN,
        ids={"execution_id": "execution"},
    ),
    Row("POST", "/api/v1/admin/matching/trigger", ADMIN, ok=JOB, body=_json({})),
    Row("GET", "/api/v1/admin/allocations", ADMIN),
    Row("GET", "/api/v1/admin/allocations/expired", ADMIN),
    Row(
        "POST",
        "/api/v1/admin/allocations/{allocation_id}/expire",
        ADMIN,
        ids={"allocation_id": "alloc_expire"},
    ),
    Row(
        "GET",
        "/api/v1/admin/allocations/patient/{patient_id}",
        ADMIN,
        ids={"patient_id": "patient"},
    ),
    Row("GET", "/api/v1/admin/config/matching", ADMIN),
    Row("PUT", "/api/v1/admin/config/matching", ADMIN, body=_json({})),
    # -- admin waitlist analytics and system health (analytics.md 7, 8) -----------------------
    Row("GET", "/api/v1/admin/waitlist", ADMIN),
    Row("GET", "/api/v1/admin/waitlist", ADMIN, query={"groupBy": "state"}, variant="aggregation"),
    Row("GET", "/api/v1/admin/system/health", ADMIN),
    # -- analytics (analytics.md 1: admin only, D-AN-1) ----------------------------------------
    Row("GET", "/api/v1/analytics/dashboard", ADMIN),
    Row("GET", "/api/v1/analytics/reports/time", ADMIN),
    Row("GET", "/api/v1/analytics/geographic", ADMIN),
    Row("GET", "/api/v1/analytics/centers", ADMIN),
    Row("GET", "/api/v1/analytics/campaigns", ADMIN),
    Row("POST", "/api/v1/analytics/reports/dashboard", ADMIN, ok=202, body=_json({})),
    Row(
        "GET",
        "/api/v1/analytics/reports/files/{file_id}",
        ADMIN,
        ids={"file_id": "report_file"},
        json_response=False,
    ),
    # -- results shared by every role (appointments.md 4.1, 4.20; D-APT-1) --------------------
    Row(
        "GET",
        "/api/v1/appointment/{appointment_id}/results",
        roles("patient", "center", "center_staff", "admin"),
        ids={"appointment_id": "appt_view"},
        expect={**FOREIGN_PATIENT, **FOREIGN_CENTER_404},
        check=result_visibility,
    ),
    Row(
        "GET",
        "/api/v1/appointment/files/{file_id}/content",
        ANY_TOKEN,
        ids={"file_id": "file_view"},
        expect={**FOREIGN_PATIENT, **FOREIGN_CENTER_404, **each(DONORS, 404)},
        check=safe_download,
        json_response=False,
    ),
    # -- centre appointments (appointments.md 4.2-4.10; D-APT-2) -------------------------------
    Row(
        "GET",
        "/api/v1/appointment/center",
        CENTER_ROLES,
        check=only_own_center_appointments,
    ),
    Row(
        "GET",
        "/api/v1/appointment/center/{appointment_id}",
        CENTER_ROLES,
        ids={"appointment_id": "appt_view"},
        expect=FOREIGN_CENTER_404,
    ),
    Row(
        "POST",
        "/api/v1/appointment/center/{appointment_id}/cancel",
        CENTER_ROLES,
        ids={"appointment_id": "appt_stable"},
        own_ids={role: {"appointment_id": f"appt_cancel_{role}"} for role in CENTER_A},
        expect=FOREIGN_CENTER_404,
        body=_json({"reason": "security matrix"}),
    ),
    Row(
        "POST",
        "/api/v1/appointment/center/{appointment_id}/reschedule",
        CENTER_ROLES,
        ids={"appointment_id": "appt_stable"},
        own_ids={role: {"appointment_id": f"appt_resched_{role}"} for role in CENTER_A},
        expect=FOREIGN_CENTER_404,
        body=lambda world, role: {"newDateTime": future_iso(5)},
    ),
    Row(
        "POST",
        "/api/v1/appointment/center/{appointment_id}/upload-results",
        CENTER_ROLES,
        ids={"appointment_id": "appt_stable"},
        own_ids={role: {"appointment_id": f"appt_upload_{role}"} for role in CENTER_A},
        expect=FOREIGN_CENTER_403,
        body=_json(
            {
                "files": [
                    {
                        "fileName": "scan.pdf",
                        "originalName": "scan.pdf",
                        "filePath": "scan.pdf",
                        "fileType": "application/pdf",
                        "fileSize": 10,
                        "url": "https://res.cloudinary.com/demo/raw/upload/scan.pdf",
                        "cloudinaryId": "screening-results/scan.pdf",
                    }
                ]
            }
        ),
    ),
    Row(
        "POST",
        "/api/v1/appointment/center/{appointment_id}/complete",
        CENTER_ROLES,
        ids={"appointment_id": "appt_in_progress_stable"},
        own_ids={role: {"appointment_id": f"appt_complete_{role}"} for role in CENTER_A},
        expect=FOREIGN_CENTER_404,
        body=lambda world, role: {
            "appointmentId": world.ids[
                f"appt_complete_{role}" if role in CENTER_A else "appt_in_progress_stable"
            ]
        },
    ),
    Row(
        "POST",
        "/api/v1/appointment/center/verify",
        CENTER_ROLES,
        body=lambda world, role: {
            "checkInCode": world.codes[role if role in CENTER_A else "stable"]
        },
        check=foreign_check_in_refused,
    ),
    Row(
        "DELETE",
        "/api/v1/appointment/center/files/{file_id}",
        CENTER_ROLES,
        ids={"file_id": "file_view"},
        own_ids={role: {"file_id": f"file_delete_{role}"} for role in CENTER_A},
        expect=FOREIGN_CENTER_404,
        body=_json({"reason": "security matrix", "notifyPatient": False}),
    ),
    Row(
        "POST",
        "/api/v1/appointment/center/files/{file_id}/restore",
        CENTER_ROLES,
        ids={"file_id": "file_deleted_stable"},
        own_ids={role: {"file_id": f"file_restore_{role}"} for role in CENTER_A},
        expect=FOREIGN_CENTER_404,
    ),
    # -- patient appointments (appointments.md 4.11-4.19) --------------------------------------
    Row(
        "POST",
        "/api/v1/appointment/patient/book",
        roles("patient"),
        body=lambda world, role: {
            "screeningTypeId": world.ids["screening_type"],
            "centerId": world.ids["center_a"],
            "appointmentDateTime": future_iso(4),
        },
    ),
    Row(
        "GET",
        "/api/v1/appointment/patient/matches/eligible-centers/{allocation_id}",
        roles("patient"),
        ids={"allocation_id": "alloc_eligible"},
        expect={"other_patient": 400},
    ),
    Row(
        "POST",
        "/api/v1/appointment/patient/matches/select-center",
        roles("patient"),
        expect={"other_patient": 400},
        body=lambda world, role: {
            "allocationId": world.ids["alloc_select" if role == "patient" else "alloc_eligible"],
            "centerId": world.ids["center_a"],
            "appointmentDateTime": future_iso(6),
        },
    ),
    Row("GET", "/api/v1/appointment/patient", roles("patient"), check=own_appointments_only),
    Row(
        "GET",
        "/api/v1/appointment/patient/{appointment_id}",
        roles("patient"),
        ids={"appointment_id": "appt_view"},
        expect=FOREIGN_PATIENT,
    ),
    Row(
        "GET",
        "/api/v1/appointment/patient/{appointment_id}/checkin-code",
        roles("patient"),
        ids={"appointment_id": "appt_view"},
        expect=FOREIGN_PATIENT,
    ),
    Row(
        "GET",
        "/api/v1/appointment/patient/results/{result_id}",
        roles("patient"),
        ids={"result_id": "result_view"},
        expect=FOREIGN_PATIENT,
    ),
    Row(
        "GET",
        "/api/v1/appointment/patient/receipts/{transaction_id}",
        roles("patient"),
        ids={"transaction_id": "tx_appt"},
        expect=FOREIGN_PATIENT,
    ),
    Row("GET", "/api/v1/patient/receipts", roles("patient")),
    Row(
        "GET",
        "/api/v1/patient/receipts/{transaction_id}",
        roles("patient"),
        ids={"transaction_id": "tx_appt"},
        expect=FOREIGN_PATIENT,
    ),
    # -- centres and staff (centers.md 3) ------------------------------------------------------
    Row("GET", "/api/v1/center", PUBLIC, check=center_private_fields),
    Row(
        "GET",
        "/api/v1/center/{center_id}",
        PUBLIC,
        ids={"center_id": "center_a"},
        check=center_private_fields,
    ),
    Row("GET", "/api/v1/center/staff/invite", roles("center"), check=no_foreign_invites),
    Row(
        "POST",
        "/api/v1/center/staff/invite",
        roles("center"),
        # D-CEN-1: the body's centre must be the caller's own.
        expect={"other_center": 403},
        body=lambda world, role: {
            "centerId": world.ids["center_a"],
            "emails": [f"invitee-{role}@example.com"],
        },
    ),
    Row(
        "GET",
        "/api/v1/center/staff/invite/validate/{token}",
        PUBLIC,
        ids={"token": "invite_stable"},
    ),
    Row(
        "DELETE",
        "/api/v1/center/staff/invite/{token}",
        roles("center"),
        ids={"token": "invite_stable"},
        own_ids={"center": {"token": "invite_revoke"}},
        expect={"other_center": 404},
    ),
    Row(
        "PATCH",
        "/api/v1/center/staff/{staff_id}/status",
        roles("center"),
        ids={"staff_id": "staff_target"},
        expect={"other_center": 404},
        body=_json({"status": "SUSPENDED"}),
    ),
    Row(
        "POST",
        "/api/v1/center/staff/create-new-password",
        PUBLIC,
        ok=400,
        body=_json({"token": "0" * 64, "password": "new-password-1"}),
    ),
    Row(
        "POST",
        "/api/v1/center/staff/forgot-password",
        PUBLIC,
        body=lambda world, role: {
            "centerId": world.ids["center_a"],
            "email": "nobody-security@example.com",
        },
    ),
    Row(
        "POST",
        "/api/v1/center/staff/reset-password",
        PUBLIC,
        ok=400,
        body=_json({"token": "0" * 64, "password": "new-password-1"}),
    ),
    Row("POST", "/api/v1/center/staff/login", PUBLIC, ok=400, body=_json({})),
    # -- screening types (centers.md 4: public) -----------------------------------------------
    Row("GET", "/api/v1/screening-types", PUBLIC),
    Row("GET", "/api/v1/screening-types/all", PUBLIC),
    Row("GET", "/api/v1/screening-types/categories", PUBLIC),
    Row(
        "GET",
        "/api/v1/screening-types/category/{category_id}",
        PUBLIC,
        ids={"category_id": "category"},
    ),
    Row("GET", "/api/v1/screening-types/by-name/{name}", PUBLIC, ids={"name": "type_name"}),
    Row(
        "GET",
        "/api/v1/screening-types/{type_id}",
        PUBLIC,
        ids={"type_id": "screening_type"},
    ),
    # -- notifications (notifications.md 3; D-NOT-1, D-NOT-2) ---------------------------------
    Row("GET", "/api/v1/notifications", ANY_TOKEN, check=own_notifications_only),
    Row(
        "POST",
        "/api/v1/notifications/{recipient_id}/read",
        ANY_TOKEN,
        ids={"recipient_id": "notification_a"},
        expect={role: 404 for role in KIND if role != "patient"},
    ),
    Row(
        "POST",
        "/api/v1/notifications",
        ADMIN,
        body=lambda world, role: {
            "type": "SECURITY",
            "title": "Matrix",
            "message": "Only admins may send this.",
            "userIds": [world.ids["patient"]],
        },
    ),
    Row("GET", "/api/v1/notifications/stream", ANY_TOKEN, stream=True, json_response=False),
    # -- waitlist (waitlist.md 2) -------------------------------------------------------------
    Row("GET", "/api/v1/waitlist", PUBLIC, check=demand_counts_only),
    Row("GET", "/api/v1/waitlist/matching-status", PUBLIC),
    Row("GET", "/api/v1/waitlist/matching-stats", ADMIN),
    Row("POST", "/api/v1/waitlist/manual-trigger", ADMIN, ok=JOB),
    Row("POST", "/api/v1/waitlist/trigger-matching", CRON, ok=JOB),
    Row("GET", "/api/v1/waitlist/patient", roles("patient")),
    Row(
        "GET",
        "/api/v1/waitlist/patient/{waitlist_id}",
        roles("patient"),
        ids={"waitlist_id": "entry_view"},
        expect=FOREIGN_PATIENT,
    ),
    Row(
        "GET",
        "/api/v1/waitlist/patient/status/{screening_type_id}",
        roles("patient"),
        ids={"screening_type_id": "waitlist_type"},
    ),
    Row(
        "POST",
        "/api/v1/waitlist/patient/join",
        roles("patient"),
        body=lambda world, role: {"screeningTypeId": world.ids["join_type"]},
    ),
    Row(
        "POST",
        "/api/v1/waitlist/patient/leave",
        roles("patient"),
        expect=FOREIGN_PATIENT,
        body=lambda world, role: {
            "waitlistId": world.ids["entry_leave" if role == "patient" else "entry_view"]
        },
    ),
    # -- donors and campaigns (donations.md 4) -------------------------------------------------
    Row(
        "POST",
        "/api/v1/donor/donations/anonymous",
        PUBLIC,
        body=_json({"amount": 1000, "wantsReceipt": False}),
    ),
    Row(
        "POST",
        "/api/v1/donor/campaigns",
        roles("donor"),
        body=lambda world, role: {
            "title": f"Campaign of {role}",
            "description": "Screening for women in Lagos state",
            "fundingAmount": 5000,
            "screeningTypeIds": [world.ids["screening_type"]],
        },
    ),
    Row("GET", "/api/v1/donor/campaigns", roles("donor"), check=own_campaigns_only),
    Row(
        "GET",
        "/api/v1/donor/campaigns/{campaign_id}",
        roles("donor"),
        ids={"campaign_id": "campaign_a"},
        expect=FOREIGN_DONOR,
    ),
    Row(
        "PATCH",
        "/api/v1/donor/campaigns/{campaign_id}",
        roles("donor"),
        ids={"campaign_id": "campaign_a"},
        expect=FOREIGN_DONOR,
        body=lambda world, role: {"campaignId": world.ids["campaign_a"], "title": f"By {role}"},
    ),
    Row(
        "DELETE",
        "/api/v1/donor/campaigns/{campaign_id}",
        roles("donor"),
        ids={"campaign_id": "campaign_a"},
        own_ids={"donor": {"campaign_id": "campaign_delete"}},
        expect=FOREIGN_DONOR,
        body=lambda world, role: {
            "campaignId": world.ids["campaign_delete" if role == "donor" else "campaign_a"],
            "action": "recycle_to_general",
        },
    ),
    Row(
        "POST",
        "/api/v1/donor/campaigns/{campaign_id}/fund",
        roles("donor"),
        ids={"campaign_id": "campaign_a"},
        expect=FOREIGN_DONOR,
        body=lambda world, role: {"campaignId": world.ids["campaign_a"], "amount": 500},
    ),
    Row("GET", "/api/v1/donor/receipts", roles("donor")),
    Row("GET", "/api/v1/donor/impact", roles("donor")),
    Row(
        "GET",
        "/api/v1/donor/verify-payment/{reference}",
        PUBLIC,
        ids={"reference": "ref_campaign"},
        variant="campaign payment",
        check=verify_payment_context,
    ),
    Row(
        "GET",
        "/api/v1/donor/verify-payment/{reference}",
        PUBLIC,
        ids={"reference": "ref_booking"},
        variant="booking payment",
        check=verify_booking_context,
    ),
    # Provider webhooks: without a valid signature nobody gets in (tokens do not help).
    Row(
        "POST",
        "/api/v1/donor/paystack-webhook",
        SIGNED,
        expect=each(ROLES, 401),
        content=unsigned_webhook_payload(),
    ),
    Row(
        "POST",
        "/api/v1/payouts/webhook/paystack",
        SIGNED,
        expect=each(ROLES, 403),
        content=unsigned_webhook_payload(),
        json_response=False,
    ),
    # -- payouts (payouts.md 3; centre scoping D-PAY-4) ----------------------------------------
    Row("GET", "/api/v1/payouts/center-balances", ADMIN),
    Row(
        "GET",
        "/api/v1/payouts/center/{center_id}/balance",
        PAYOUT_ROLES,
        ids={"center_id": "center_a"},
        expect=FOREIGN_CENTER_403,
    ),
    Row(
        "GET",
        "/api/v1/payouts/center/{center_id}",
        PAYOUT_ROLES,
        ids={"center_id": "center_a"},
        expect=FOREIGN_CENTER_403,
    ),
    Row(
        "GET",
        "/api/v1/payouts/center/{center_id}/transactions",
        PAYOUT_ROLES,
        ids={"center_id": "center_a"},
        expect=FOREIGN_CENTER_403,
    ),
    Row("GET", "/api/v1/payouts", ADMIN),
    Row("POST", "/api/v1/payouts/manual", ADMIN, ok=400, body=_json({})),
    Row(
        "POST",
        "/api/v1/payouts/{payout_id}/process",
        ADMIN,
        ok=JOB,
        ids={"payout_id": "payout_pending"},
    ),
    Row(
        "POST",
        "/api/v1/payouts/{payout_id}/retry",
        ADMIN,
        ok=JOB,
        ids={"payout_id": "payout_failed"},
    ),
    Row("POST", "/api/v1/payouts/monthly-batch", CRON, ok=JOB),
    Row("GET", "/api/v1/payouts/banks", PAYOUT_ROLES),
    Row(
        "POST",
        "/api/v1/payouts/verify-account",
        PAYOUT_ROLES,
        body=_json({"accountNumber": "0123456789", "bankCode": "057"}),
    ),
    # -- jobs: own jobs only, admins every job; 404 hides the others' ---------------------
    Row(
        "GET",
        "/api/v1/jobs/{job_id}",
        ANY_TOKEN,
        ids={"job_id": "job_patient"},
        variant="patient's job",
        expect={role: 404 for role in KIND if role not in ("patient", "admin")},
        check=job_args_hidden,
    ),
    Row(
        "GET",
        "/api/v1/jobs/{job_id}",
        ANY_TOKEN,
        ids={"job_id": "job_center"},
        variant="center's job",
        expect={role: 404 for role in KIND if role not in (*CENTER_A, "admin")},
        check=job_args_hidden,
    ),
    Row(
        "POST",
        "/api/v1/jobs/email-check",
        ADMIN,
        ok=JOB,
        body=_json({"to": "ops-security@example.com"}),
    ),
    Row("GET", "/api/v1/admin/jobs", ADMIN, check=job_args_hidden),
    Row(
        "POST",
        "/api/v1/admin/jobs/{job_id}/requeue",
        ADMIN,
        ok=202,
        ids={"job_id": "job_dead"},
    ),
    # -- receipts (receipts.md 2: readers of the transaction, else 404) -----------------------
    Row("GET", "/api/v1/receipts", ADMIN),
    Row(
        "GET",
        "/api/v1/receipts/{transaction_id}",
        ANY_TOKEN,
        ids={"transaction_id": "tx_appt"},
        variant="appointment payment",
        expect={**FOREIGN_PATIENT, **FOREIGN_CENTER_404, **each(DONORS, 404)},
    ),
    Row(
        "GET",
        "/api/v1/receipts/{transaction_id}",
        ANY_TOKEN,
        ids={"transaction_id": "tx_donation"},
        variant="donation",
        expect={
            **each(PATIENTS, 404),
            **FOREIGN_DONOR,
            **each((*CENTER_A, *CENTER_B), 404),
        },
    ),
    Row(
        "POST",
        "/api/v1/receipts/{transaction_id}",
        ANY_TOKEN,
        ids={"transaction_id": "tx_appt"},
        expect={**FOREIGN_PATIENT, **FOREIGN_CENTER_404, **each(DONORS, 404)},
        body=lambda world, role: {"transactionId": world.ids["tx_appt"]},
    ),
    Row(
        "POST",
        "/api/v1/receipts/{transaction_id}/resend",
        ANY_TOKEN,
        ok=JOB,
        ids={"transaction_id": "tx_appt"},
        expect={**FOREIGN_PATIENT, **FOREIGN_CENTER_404, **each(DONORS, 404)},
        body=email_of,
    ),
    # Owners resend only to their own address (no spam/PII relay, D-RCP-2); admins anywhere.
    Row(
        "POST",
        "/api/v1/receipts/{transaction_id}/resend",
        ANY_TOKEN,
        ok=403,
        ids={"transaction_id": "tx_appt"},
        variant="to another address",
        expect={
            **FOREIGN_PATIENT,
            **FOREIGN_CENTER_404,
            **each(DONORS, 404),
            "admin": JOB,
        },
        body=_json({"emailRecipient": "victim-security@example.com"}),
    ),
    Row(
        "GET",
        "/api/v1/receipts/{transaction_id}/pdf",
        ANY_TOKEN,
        ids={"transaction_id": "tx_appt"},
        expect={**FOREIGN_PATIENT, **FOREIGN_CENTER_404, **each(DONORS, 404)},
        check=pdf_bytes,
        json_response=False,
    ),
    Row(
        "GET",
        "/api/receipts/{transaction_id}/pdf",
        ANY_TOKEN,
        ids={"transaction_id": "tx_appt"},
        expect={**FOREIGN_PATIENT, **FOREIGN_CENTER_404, **each(DONORS, 404)},
        check=pdf_bytes,
        json_response=False,
    ),
)

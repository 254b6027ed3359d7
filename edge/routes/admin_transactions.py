"""Admin transactions: /api/v1/admin/transactions (admin.md §7)."""

from __future__ import annotations

from typing import Any

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.envelope import ok
from edge.schemas.admin import TransactionsQuery
from edge.schemas.dates import parse_bound
from edge.services.listing import offset, page_body
from edge.services.rows import row
from edge.validation import parse_query
from models.appointments import Appointment
from models.transactions import Transaction

bp = Blueprint("admin_transactions", url_prefix="/admin")


@bp.get("/transactions", name="list_admin_transactions")
@requires_role("admin")
async def list_admin_transactions(request: Request) -> HTTPResponse:
    """Every transaction, newest first, with its campaign or appointment."""
    query = parse_query(request, TransactionsQuery)
    start = parse_bound(query.date_from, "dateFrom")
    end = parse_bound(query.date_to, "dateTo", end=True)
    found = Transaction.all()
    if query.type:
        found = found.filter(type=query.type)
    if query.status:
        found = found.filter(status=query.status)
    if start is not None:
        found = found.filter(created_at__gte=start)
    if end is not None:
        found = found.filter(created_at__lte=end)
    total = await found.count()
    transactions = (
        await found.order_by("-created_at", "-id")
        .offset(offset(query.page, query.page_size))
        .limit(query.page_size)
        .select_related("related_donation__donor")
    )
    appointments: dict[str, dict[str, Any]] = {}
    for appointment in (
        await Appointment.filter(transaction_id__in=[t.id for t in transactions])
        .order_by("created_at", "id")
        .select_related("patient")
    ):
        appointments.setdefault(
            str(appointment.transaction_id),
            {
                "id": appointment.id,
                "patient": {
                    "id": appointment.patient.id,
                    "fullName": appointment.patient.full_name,
                },
            },
        )
    shown = []
    for transaction in transactions:
        campaign = transaction.related_donation
        shown.append(
            {
                **row(transaction),
                "donation": (
                    {
                        "id": campaign.id,
                        "purpose": campaign.purpose,
                        "donor": {"id": campaign.donor.id, "fullName": campaign.donor.full_name},
                    }
                    if campaign
                    else None
                ),
                "appointments": (
                    [appointments[transaction.id]] if transaction.id in appointments else []
                ),
            }
        )
    return ok(page_body("transactions", shown, page=query.page, size=query.page_size, total=total))

"""Patient receipt routes: /api/v1/patient/receipts (appointments.md §5).

The reference mounts no `/patient` router; the web client's two receipt builders are served
here (the list, and an alias of `/appointment/patient/receipts/{id}`). Its other `/patient/*`
builders stay unserved (404).
"""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.deps import principal_of
from edge.envelope import ok
from edge.schemas.appointment import ReceiptsQuery
from edge.services import patient_receipts
from edge.validation import parse_query

bp = Blueprint("patient", url_prefix="/patient")


@bp.get("/receipts", name="list_patient_receipts")
@requires_role("patient")
async def list_patient_receipts(request: Request) -> HTTPResponse:
    """Payments for the caller's appointments, newest first."""
    query = parse_query(request, ReceiptsQuery)
    return ok(
        await patient_receipts.list_receipts(
            patient_id=principal_of(request).id, page=query.page, size=query.size
        )
    )


@bp.get("/receipts/<transaction_id:str>", name="get_patient_receipt")
@requires_role("patient")
async def get_patient_receipt(request: Request, transaction_id: str) -> HTTPResponse:
    """One payment of the caller's (same answer as /appointment/patient/receipts/{id})."""
    return ok(
        await patient_receipts.get_receipt(
            patient_id=principal_of(request).id, transaction_id=transaction_id
        )
    )

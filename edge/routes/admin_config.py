"""Admin matching configuration: /api/v1/admin/config/matching (read, store overrides;
admin.md §11.5-§11.6, decision 3)."""

from __future__ import annotations

from sanic import Blueprint, Request
from sanic.response import HTTPResponse

from edge.auth.guards import requires_role
from edge.deps import principal_of
from edge.envelope import ok
from edge.schemas.admin import MatchingConfigBody
from edge.services import admin_ops
from edge.validation import parse_body

bp = Blueprint("admin_config", url_prefix="/admin")


@bp.get("/config/matching", name="get_matching_config")
@requires_role("admin")
async def get_matching_config(request: Request) -> HTTPResponse:
    """The configuration the next matching run uses (stored override > environment > default)."""
    return ok(await admin_ops.effective_config())


@bp.put("/config/matching", name="update_matching_config")
@requires_role("admin")
async def update_matching_config(request: Request) -> HTTPResponse:
    """Store overrides for later matching runs (only the keys given change)."""
    body = parse_body(request, MatchingConfigBody)
    changes = body.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)
    updated = await admin_ops.store_overrides(changes, admin_id=principal_of(request).id)
    return ok(
        {
            "message": "Configuration updated successfully",
            "updatedFields": updated,
            "note": "Stored; applies to subsequent matching runs",
        }
    )

"""Matching runs: executions, their logs and per-type results; the stored config overrides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models.base import ProductionModel, utc_now, utc_now_aware
from models.enums import LogLevel, MatchingExecutionStatus
from models.fields import PgEnumField, TextColumn, Timestamp3Field, TimestamptzField

if TYPE_CHECKING:
    from models.screening_types import ScreeningType
    from models.waitlists import DonationAllocation


class MatchingExecution(ProductionModel):
    """``matching_executions``: one matching run with its summary counters (money in naira)."""

    execution_reference = TextColumn(source_field="executionReference", unique=True)
    started_at = Timestamp3Field(source_field="startedAt", default=utc_now)
    completed_at = Timestamp3Field(source_field="completedAt", null=True)
    status = PgEnumField(MatchingExecutionStatus, default=MatchingExecutionStatus.RUNNING)
    screening_types_processed = fields.IntField(source_field="screeningTypesProcessed", default=0)
    patients_evaluated = fields.IntField(source_field="patientsEvaluated", default=0)
    successful_matches = fields.IntField(source_field="successfulMatches", default=0)
    skipped_due_to_limits = fields.IntField(source_field="skippedDueToLimits", default=0)
    skipped_due_to_no_funding = fields.IntField(source_field="skippedDueToNoFunding", default=0)
    skipped_due_to_existing_match = fields.IntField(
        source_field="skippedDueToExistingMatch", default=0
    )
    total_funds_allocated = fields.FloatField(source_field="totalFundsAllocated", default=0.0)
    general_pool_funds_used = fields.FloatField(source_field="generalPoolFundsUsed", default=0.0)
    campaigns_used_count = fields.IntField(source_field="campaignsUsedCount", default=0)
    processing_time_ms = fields.IntField(source_field="processingTimeMs", null=True)
    db_queries_count = fields.IntField(source_field="dbQueriesCount", default=0)
    notifications_sent = fields.IntField(source_field="notificationsSent", default=0)
    errors = fields.JSONField[list[Any] | None](null=True)
    warnings = fields.JSONField[list[Any] | None](null=True)
    batch_config = fields.JSONField[dict[str, Any] | None](source_field="batchConfig", null=True)

    execution_logs: fields.ReverseRelation[MatchingExecutionLog]
    screening_type_results: fields.ReverseRelation[MatchingScreeningTypeResult]
    allocations: fields.ReverseRelation[DonationAllocation]

    class Meta:
        table = "matching_executions"


class MatchingExecutionLog(ProductionModel):
    """``matching_execution_logs``; the entity id columns are plain text (no foreign keys)."""

    execution: fields.ForeignKeyRelation[MatchingExecution] = fields.ForeignKeyField(
        "models.MatchingExecution",
        related_name="execution_logs",
        source_field="executionId",
        on_delete=fields.CASCADE,
    )
    execution_id: str
    timestamp = Timestamp3Field(default=utc_now)
    level = PgEnumField(LogLevel)
    message = TextColumn()
    context = fields.JSONField[dict[str, Any] | None](null=True)
    patient_id = TextColumn(source_field="patientId", null=True)
    campaign_id = TextColumn(source_field="campaignId", null=True)
    waitlist_id = TextColumn(source_field="waitlistId", null=True)
    screening_type_id = TextColumn(source_field="screeningTypeId", null=True)
    allocation_id = TextColumn(source_field="allocationId", null=True)

    class Meta:
        table = "matching_execution_logs"


class MatchingScreeningTypeResult(ProductionModel):
    """``matching_screening_type_results``: one screening type's outcome within a run.

    ``campaigns_used`` is a JSON array of campaign ids (the reference wrote the number 0 first).
    """

    execution: fields.ForeignKeyRelation[MatchingExecution] = fields.ForeignKeyField(
        "models.MatchingExecution",
        related_name="screening_type_results",
        source_field="executionId",
        on_delete=fields.CASCADE,
    )
    execution_id: str
    screening_type: fields.ForeignKeyRelation[ScreeningType] = fields.ForeignKeyField(
        "models.ScreeningType",
        related_name="matching_results",
        source_field="screeningTypeId",
        on_delete=fields.RESTRICT,
    )
    screening_type_id: str
    screening_type_name = TextColumn(source_field="screeningTypeName")
    patients_found = fields.IntField(source_field="patientsFound")
    patients_processed = fields.IntField(source_field="patientsProcessed")
    matches_created = fields.IntField(source_field="matchesCreated")
    skipped_due_to_limits = fields.IntField(source_field="skippedDueToLimits")
    skipped_due_to_no_funding = fields.IntField(source_field="skippedDueToNoFunding")
    skipped_due_to_existing = fields.IntField(source_field="skippedDueToExisting")
    funds_allocated = fields.FloatField(source_field="fundsAllocated", default=0.0)
    campaigns_used = fields.JSONField[Any](source_field="campaignsUsed", default=list)
    general_pool_used = fields.BooleanField(source_field="generalPoolUsed", default=False)
    general_pool_amount = fields.FloatField(source_field="generalPoolAmount", default=0.0)
    targeting_matches = fields.IntField(source_field="targetingMatches", default=0)
    targeting_mismatches = fields.IntField(source_field="targetingMismatches", default=0)
    processing_started = Timestamp3Field(source_field="processingStarted", default=utc_now)
    processing_completed = Timestamp3Field(source_field="processingCompleted", null=True)
    processing_time_ms = fields.IntField(source_field="processingTimeMs", null=True)

    class Meta:
        table = "matching_screening_type_results"
        unique_together = (("execution", "screening_type"),)


class MatchingConfigOverride(Model):
    """``matching_config_overrides``: the one row (``id = 1``) of stored matching overrides.

    ``overrides`` holds only the keys an admin set (``PUT /admin/config/matching``); a run
    resolves each key as trigger body > stored override > environment > default.
    """

    id = fields.SmallIntField(primary_key=True, default=1, generated=False)
    overrides = fields.JSONField[dict[str, Any]](default=dict)
    updated_at = TimestamptzField(default=utc_now_aware, auto_now=True)
    updated_by = TextColumn(null=True)

    class Meta:
        table = "matching_config_overrides"

"""/api/v1/admin matching executions and logs, the manual trigger, allocations and the stored
matching configuration (admin.md §10, §11)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from models.base import utc_now
from models.enums import (
    AllocationStatus,
    CampaignStatus,
    LogLevel,
    TransactionStatus,
    TransactionType,
)
from models.jobs import Job
from models.matching import (
    MatchingConfigOverride,
    MatchingExecutionLog,
    MatchingScreeningTypeResult,
)
from models.transactions import Transaction
from models.waitlists import Waitlist
from tests.edge.factories_appointments import (
    assert_error,
    assert_issue,
    balance,
    make_campaign,
    make_execution,
    make_match,
    notifications_of,
    pool,
)
from tests.edge.money_support import assert_money_conserved, next_queued, worker_alive
from tests.factories import bearer, make_admin, make_patient, make_screening_type

pytestmark = pytest.mark.usefixtures("db")

BASE = "/api/v1/admin"


async def test_executions_their_results_and_logs_are_listed(client: httpx.AsyncClient) -> None:
    admin = await make_admin()
    old = await make_execution(started_at=utc_now() - dt.timedelta(days=3))
    new = await make_execution()
    screening = await make_screening_type(name="Colonoscopy")
    await MatchingScreeningTypeResult.create(
        execution_id=new.id,
        screening_type_id=screening.id,
        screening_type_name="Colonoscopy",
        patients_found=3,
        patients_processed=3,
        matches_created=2,
        skipped_due_to_limits=0,
        skipped_due_to_no_funding=1,
        skipped_due_to_existing=0,
        funds_allocated=20000,
    )
    for level, message in ((LogLevel.INFO, "started"), (LogLevel.ERROR, "boom")):
        await MatchingExecutionLog.create(execution_id=new.id, level=level, message=message)

    listed = await client.get(f"{BASE}/matching/executions", headers=bearer(admin))
    recent = await client.get(
        f"{BASE}/matching/executions",
        params={"dateFrom": (utc_now() - dt.timedelta(days=1)).isoformat() + "Z"},
        headers=bearer(admin),
    )
    detail = await client.get(f"{BASE}/matching/executions/{new.id}", headers=bearer(admin))
    missing = await client.get(f"{BASE}/matching/executions/nope", headers=bearer(admin))
    logs = await client.get(f"{BASE}/matching/executions/{new.id}/logs", headers=bearer(admin))
    errors = await client.get(
        f"{BASE}/matching/executions/{new.id}/logs",
        params={"level": "ERROR"},
        headers=bearer(admin),
    )
    bad_level = await client.get(
        f"{BASE}/matching/executions/{new.id}/logs",
        params={"level": "DEBUG"},
        headers=bearer(admin),
    )

    executions = listed.json()["data"]["executions"]
    assert [e["id"] for e in executions] == [new.id, old.id]
    assert executions[0]["screeningTypeResults"][0]["matchesCreated"] == 2
    assert "executionReference" in executions[0]
    assert [e["id"] for e in recent.json()["data"]["executions"]] == [new.id]
    assert detail.json()["data"]["screeningTypeResults"][0]["skippedDueToNoFunding"] == 1
    assert_error(missing, 404, "Execution not found")
    page = logs.json()["data"]
    assert [entry["message"] for entry in page["logs"]] == ["started", "boom"]
    assert page["pageSize"] == 50
    assert [entry["message"] for entry in errors.json()["data"]["logs"]] == ["boom"]
    assert_issue(bad_level, "level")


async def test_the_trigger_runs_matching_with_this_runs_overrides(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    await worker_alive(client)

    invalid = await client.post(
        f"{BASE}/matching/trigger", json={"maxTotalPatients": 0}, headers=bearer(admin)
    )
    task = asyncio.ensure_future(
        client.post(
            f"{BASE}/matching/trigger",
            json={"patientsPerScreeningType": 5, "enableGeographicTargeting": False},
            headers=bearer(admin),
        )
    )
    job = await next_queued("run_matching")
    await _finish(job)
    response = await task

    assert_issue(invalid, "maxTotalPatients")
    assert job.args["overrides"] == {
        "patientsPerScreeningType": 5,
        "enableGeographicTargeting": False,
    }
    assert job.args["trigger_source"] == "admin"
    assert job.args["admin_id"] == admin.id
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {
        "message": "Matching algorithm triggered successfully",
        "jobId": str(job.id),
    }


async def _finish(job: Job) -> None:
    """Completes a matching job without running matching (its own tests cover the run)."""
    from tortoise import connections

    await connections.get("default").execute_query(
        "WITH done AS (UPDATE jobs SET status = 'succeeded', result = '{}'::jsonb, "
        "finished_at = now() WHERE id = $1::uuid RETURNING id) "
        "SELECT pg_notify('job_done', id::text) FROM done",
        [str(job.id)],
    )


async def test_allocations_are_listed_filtered_and_grouped(client: httpx.AsyncClient) -> None:
    admin = await make_admin()
    screening = await make_screening_type(name="Pap smear")
    campaign = await make_campaign(total=50000)
    patient = await make_patient()
    execution = await make_execution(started_at=dt.datetime(2025, 7, 1, 12))
    _, matched = await make_match(patient, screening, campaign, execution=execution)
    _, expired = await make_match(
        await make_patient(), screening, campaign, status=AllocationStatus.EXPIRED
    )

    everything = await client.get(f"{BASE}/allocations", headers=bearer(admin))
    only_matched = await client.get(
        f"{BASE}/allocations", params={"status": "MATCHED"}, headers=bearer(admin)
    )
    july = await client.get(
        f"{BASE}/allocations",
        params={"dateFrom": "2025-07-01", "dateTo": "2025-07-01"},
        headers=bearer(admin),
    )
    expired_list = await client.get(f"{BASE}/allocations/expired", headers=bearer(admin))
    mine = await client.get(f"{BASE}/allocations/patient/{patient.id}", headers=bearer(admin))
    bad = await client.get(
        f"{BASE}/allocations", params={"patientId": "not-a-uuid"}, headers=bearer(admin)
    )

    assert everything.json()["data"]["total"] == 2
    shown = only_matched.json()["data"]["allocations"]
    assert [a["id"] for a in shown] == [matched.id]
    assert shown[0]["waitlist"]["screening"] == {"name": "Pap smear"}
    assert shown[0]["patient"]["patientProfile"]["state"] == "Lagos"
    assert shown[0]["campaign"]["donor"]["id"] == campaign.donor_id
    assert [a["id"] for a in july.json()["data"]["allocations"]] == [matched.id]
    assert [a["id"] for a in expired_list.json()["data"]] == [expired.id]
    assert mine.json()["data"][0]["waitlist"]["status"] == "MATCHED"
    assert_issue(bad, "patientId")


async def test_expiring_a_matched_allocation_returns_its_money_once(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    screening = await make_screening_type()
    campaign = await make_campaign(total=20000)
    await Transaction.create(
        type=TransactionType.DONATION,
        status=TransactionStatus.COMPLETED,
        amount=20000,
        related_donation_id=campaign.id,
        payment_reference="campaign-create-expiry",
    )
    patient = await make_patient()
    entry, allocation = await make_match(patient, screening, campaign)
    url = f"{BASE}/allocations/{allocation.id}/expire"

    answers = await asyncio.gather(
        *(client.post(url, json={}, headers=bearer(admin)) for _ in range(3))
    )
    missing = await client.post(f"{BASE}/allocations/nope/expire", headers=bearer(admin))

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 400, 400]
    done = next(a for a in answers if a.status_code == 200).json()["data"]
    assert done == {
        "message": "Allocation expired successfully",
        "allocationId": allocation.id,
        "fundsReturned": 10000,
    }
    refused = next(a for a in answers if a.status_code == 400)
    assert_error(refused, 400, "Only MATCHED allocations can be expired")
    assert await balance(campaign.id) == (20000, 20000)
    stored = await Waitlist.get(id=entry.id)
    assert stored.status == AllocationStatus.EXPIRED
    assert stored.expired_at is not None
    assert [n.type for n in await notifications_of(patient.id)] == ["ALLOCATION_EXPIRED"]
    assert_error(missing, 404, "Allocation not found")
    await assert_money_conserved()


async def test_an_allocation_of_a_deleted_campaign_returns_its_money_to_the_pool(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    campaign = await make_campaign(total=10000)
    _, allocation = await make_match(await make_patient(), await make_screening_type(), campaign)
    campaign.status = CampaignStatus.DELETED
    await campaign.save()

    response = await client.post(
        f"{BASE}/allocations/{allocation.id}/expire", headers=bearer(admin)
    )

    assert response.status_code == 200
    assert await balance(campaign.id) == (0, 10000)
    assert ((await pool()).available_amount, (await pool()).total_amount) == (10000, 10000)


async def test_the_matching_configuration_stores_overrides_over_the_environment(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()

    before = await client.get(f"{BASE}/config/matching", headers=bearer(admin))
    stored = await client.put(
        f"{BASE}/config/matching",
        json={"allocationExpiryDays": 14, "enableParallelProcessing": True},
        headers=bearer(admin),
    )
    after = await client.get(f"{BASE}/config/matching", headers=bearer(admin))
    invalid = await client.put(
        f"{BASE}/config/matching", json={"maxConcurrentScreeningTypes": 11}, headers=bearer(admin)
    )

    assert before.json()["data"] == {
        "patientsPerScreeningType": 50,
        "maxTotalPatients": 500,
        "enableParallelProcessing": False,
        "maxConcurrentScreeningTypes": 5,
        "enableDemographicTargeting": True,
        "enableGeographicTargeting": True,
        "allocationExpiryDays": 30,
    }
    body: dict[str, Any] = stored.json()["data"]
    assert body["message"] == "Configuration updated successfully"
    assert sorted(body["updatedFields"]) == ["allocationExpiryDays", "enableParallelProcessing"]
    assert body["note"] == "Stored; applies to subsequent matching runs"
    assert after.json()["data"]["allocationExpiryDays"] == 14
    assert after.json()["data"]["enableParallelProcessing"] is True
    row = await MatchingConfigOverride.get(id=1)
    assert row.overrides == {"allocationExpiryDays": 14, "enableParallelProcessing": True}
    assert row.updated_by == admin.id
    assert_issue(invalid, "maxConcurrentScreeningTypes")

"""/api/v1/jobs/{id} (the caller's own jobs), /api/v1/admin/jobs (failed and dead jobs, requeue),
the e-mail pipeline check without workers, and the job runtime in /readyz."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from actors.contracts import Requester, SendEmail, enqueue
from models.job_requeues import JobRequeue
from models.jobs import Job, JobStatus
from tests.factories import bearer, make_admin, make_center, make_donor, make_patient, make_staff

pytestmark = pytest.mark.usefixtures("db")

ADMIN_JOBS = "/api/v1/admin/jobs"


async def make_job(
    requested_by: Requester | None = None,
    *,
    status: JobStatus = JobStatus.QUEUED,
    to: str = "ada@example.com",
    attempts: int = 0,
    error: dict[str, str] | None = None,
) -> Job:
    async with in_transaction() as conn:
        job = await enqueue(
            SendEmail(template="password_reset", to=to, context={"token": "secret-token"}),
            using_db=conn,
            requested_by=requested_by,
        )
    if status != JobStatus.QUEUED or attempts:
        await Job.filter(id=job.id).update(status=status, attempts=attempts, error=error)
    return await Job.get(id=job.id)


# -- GET /api/v1/jobs/{id} -----------------------------------------------------------------


async def test_the_owner_reads_their_job_without_its_arguments(client: httpx.AsyncClient) -> None:
    patient = await make_patient()
    job = await make_job(Requester("patient", patient.id))

    response = await client.get(f"/api/v1/jobs/{job.id}", headers=bearer(patient))

    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["id"] == str(job.id)
    assert (data["actor"], data["queue"], data["status"]) == ("send_email", "email", "queued")
    assert (data["attempts"], data["result"], data["error"]) == (0, None, None)
    assert data["statusUrl"] == f"/api/v1/jobs/{job.id}"
    assert "args" not in data
    assert "requestedBy" not in data
    assert "secret-token" not in response.text


async def test_another_caller_gets_404_exactly_as_for_a_missing_job(
    client: httpx.AsyncClient,
) -> None:
    patient, other = await make_patient(), await make_patient()
    donor = await make_donor()
    job = await make_job(Requester("patient", patient.id))

    foreign = await client.get(f"/api/v1/jobs/{job.id}", headers=bearer(other))
    other_role = await client.get(f"/api/v1/jobs/{job.id}", headers=bearer(donor))
    missing = await client.get(
        "/api/v1/jobs/00000000-0000-4000-8000-000000000000", headers=bearer(other)
    )
    not_a_uuid = await client.get("/api/v1/jobs/not-a-job", headers=bearer(other))

    for response in (foreign, other_role, missing, not_a_uuid):
        assert response.status_code == 404
        assert response.json() == {"ok": False, "error": "Job not found"}


async def test_an_admin_reads_any_job_with_who_asked_for_it(client: httpx.AsyncClient) -> None:
    patient = await make_patient()
    admin = await make_admin()
    job = await make_job(
        Requester("patient", patient.id),
        status=JobStatus.DEAD,
        attempts=3,
        error={"type": "EmailRejectedError", "message": "SMTP server answered 550"},
    )

    response = await client.get(f"/api/v1/jobs/{job.id}", headers=bearer(admin))

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["requestedBy"] == {"kind": "patient", "id": patient.id}
    assert (data["status"], data["attempts"]) == ("dead", 3)
    assert data["error"] == {"type": "EmailRejectedError", "message": "SMTP server answered 550"}


async def test_center_roles_read_the_jobs_of_their_own_center_only(
    client: httpx.AsyncClient,
) -> None:
    center, other_center = await make_center(), await make_center()
    staff = await make_staff(center)
    job = await make_job(Requester("staff", center.id))

    by_owner = await client.get(f"/api/v1/jobs/{job.id}", headers=bearer(center))
    by_staff = await client.get(f"/api/v1/jobs/{job.id}", headers=bearer(staff))
    by_other = await client.get(f"/api/v1/jobs/{job.id}", headers=bearer(other_center))

    assert (by_owner.status_code, by_staff.status_code, by_other.status_code) == (200, 200, 404)


async def test_reading_a_job_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    job = await make_job(Requester("system"))

    missing = await client.get(f"/api/v1/jobs/{job.id}")
    invalid = await client.get(f"/api/v1/jobs/{job.id}", headers={"Authorization": "Bearer x"})

    assert (missing.status_code, invalid.status_code) == (401, 401)
    assert missing.json()["err_code"] == "invalid_request"
    assert invalid.json()["err_code"] == "invalid_token"


# -- /api/v1/admin/jobs --------------------------------------------------------------------


async def test_admins_list_failed_and_dead_jobs_with_filters_and_pages(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    failed = await make_job(status=JobStatus.FAILED, attempts=1)
    dead = await make_job(status=JobStatus.DEAD, attempts=4)
    await make_job(status=JobStatus.SUCCEEDED, attempts=1)
    await make_job()
    headers = bearer(admin)

    everything = await client.get(ADMIN_JOBS, headers=headers)
    only_dead = await client.get(ADMIN_JOBS, params={"status": "dead"}, headers=headers)
    other_actor = await client.get(ADMIN_JOBS, params={"actor": "render_receipt"}, headers=headers)
    second_page = await client.get(ADMIN_JOBS, params={"limit": 1, "page": 2}, headers=headers)
    bad_status = await client.get(ADMIN_JOBS, params={"status": "running"}, headers=headers)

    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert {item["id"] for item in body["data"]} == {str(failed.id), str(dead.id)}
    assert (body["page"], body["limit"], body["total"], body["totalPages"]) == (1, 20, 2, 1)
    assert all("args" not in item for item in body["data"])
    assert [item["id"] for item in only_dead.json()["data"]] == [str(dead.id)]
    assert other_actor.json()["total"] == 0
    assert len(second_page.json()["data"]) == 1
    assert second_page.json()["totalPages"] == 2
    assert bad_status.status_code == 400


async def test_only_admins_list_or_requeue_jobs(client: httpx.AsyncClient) -> None:
    patient = await make_patient()
    job = await make_job(Requester("patient", patient.id), status=JobStatus.DEAD)

    listing = await client.get(ADMIN_JOBS, headers=bearer(patient))
    requeue = await client.post(f"{ADMIN_JOBS}/{job.id}/requeue", headers=bearer(patient))
    anonymous = await client.get(ADMIN_JOBS)

    assert (listing.status_code, requeue.status_code, anonymous.status_code) == (403, 403, 401)
    assert (await Job.get(id=job.id)).status == JobStatus.DEAD


async def test_requeue_sends_a_new_attempt_through_the_outbox_and_records_who_did_it(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    error = {"type": "EmailRejectedError", "message": "SMTP server answered 550"}
    job = await make_job(Requester("system"), status=JobStatus.DEAD, attempts=4, error=error)

    response = await client.post(f"{ADMIN_JOBS}/{job.id}/requeue", headers=bearer(admin))

    assert response.status_code == 202, response.text
    assert response.json()["message"] == "Job requeued"
    assert response.json()["data"]["status"] == "queued"
    assert response.headers["location"] == f"/api/v1/jobs/{job.id}"
    stored = await Job.get(id=job.id)
    assert (stored.status, stored.attempts, stored.finished_at) == (JobStatus.QUEUED, 4, None)
    outbox = await connections.get("default").execute_query_dict(
        "SELECT message::text AS message FROM outbox WHERE job_id = $1::uuid ORDER BY id",
        [str(job.id)],
    )
    assert len(outbox) == 2  # the original message and the requeued attempt
    message = json.loads(outbox[-1]["message"])
    assert (message["message_id"], message["actor_name"]) == (str(job.id), "send_email")
    assert message["queue_name"] == "email"
    assert message["kwargs"] == stored.args
    # Fresh options (the whole retry budget again), numbered so the worker skips any message of
    # the attempts this one replaces
    assert message["options"] == {"zc_requeue": 1}
    [audit] = await JobRequeue.filter(job_id=job.id)
    assert (audit.requeued_by_kind, audit.requeued_by_id) == ("admin", admin.id)
    assert (audit.previous_status, audit.previous_attempts) == ("dead", 4)
    assert audit.previous_error == error


async def test_each_requeue_numbers_its_message_after_the_ones_before(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    job = await make_job(Requester("system"), status=JobStatus.DEAD, attempts=2)

    first = await client.post(f"{ADMIN_JOBS}/{job.id}/requeue", headers=bearer(admin))
    await Job.filter(id=job.id).update(status=JobStatus.FAILED)
    second = await client.post(f"{ADMIN_JOBS}/{job.id}/requeue", headers=bearer(admin))

    assert (first.status_code, second.status_code) == (202, 202)
    outbox = await connections.get("default").execute_query_dict(
        "SELECT message::text AS message FROM outbox WHERE job_id = $1::uuid ORDER BY id",
        [str(job.id)],
    )
    # The worker skips messages numbered below the job's requeue count
    # (actors.middleware.jobs.REQUEUE_OPTION): the first requeue's retries once the second is made.
    options = [json.loads(row["message"])["options"] for row in outbox[-2:]]
    assert options == [{"zc_requeue": 1}, {"zc_requeue": 2}]
    assert await JobRequeue.filter(job_id=job.id).count() == 2


async def test_only_failed_or_dead_jobs_can_be_requeued(client: httpx.AsyncClient) -> None:
    admin = await make_admin()
    done = await make_job(status=JobStatus.SUCCEEDED, attempts=1)
    failed = await make_job(status=JobStatus.FAILED, attempts=1)

    refused = await client.post(f"{ADMIN_JOBS}/{done.id}/requeue", headers=bearer(admin))
    accepted = await client.post(f"{ADMIN_JOBS}/{failed.id}/requeue", headers=bearer(admin))
    missing = await client.post(
        f"{ADMIN_JOBS}/00000000-0000-4000-8000-000000000000/requeue", headers=bearer(admin)
    )

    assert refused.status_code == 409
    assert refused.json() == {
        "ok": False,
        "error": "Only failed or dead jobs can be requeued",
        "err_code": "job_not_requeueable",
    }
    assert accepted.status_code == 202
    assert missing.status_code == 404
    assert await JobRequeue.filter(job_id=done.id).count() == 0


# -- the e-mail pipeline check and readiness, without workers -----------------------------


async def test_without_a_worker_the_email_check_answers_503_at_once_and_enqueues_nothing(
    client: httpx.AsyncClient,
) -> None:
    admin = await make_admin()
    await client.get("/api/v1/readyz")  # re-reads worker_heartbeats (emptied by `db`)

    response = await client.post(
        "/api/v1/jobs/email-check", json={"to": "ops@example.com"}, headers=bearer(admin)
    )

    assert response.status_code == 503
    assert response.json() == {"ok": False, "error": "E-mail workers unavailable"}
    assert int(response.headers["retry-after"]) >= 1
    assert await Job.all().count() == 0


async def test_the_email_check_validates_its_address(client: httpx.AsyncClient) -> None:
    admin = await make_admin()

    response = await client.post(
        "/api/v1/jobs/email-check", json={"to": "not an address"}, headers=bearer(admin)
    )

    assert response.status_code == 400
    assert response.json()["error"]["issues"][0]["path"] == ["to"]


async def test_readiness_reports_the_relay_the_backlog_and_the_workers(
    client: httpx.AsyncClient,
) -> None:
    await connections.get("default").execute_query(
        "INSERT INTO worker_heartbeats (id, worker_name, pid, queues, beat_at) "
        "VALUES ('w:1', 'w', 1, ARRAY['email'], now() - interval '10 minutes')"
    )

    jobs: dict[str, Any] = (await client.get("/api/v1/readyz")).json()["data"]["jobs"]

    assert jobs["broker"]["relay"] == "in-process"
    assert jobs["broker"]["backlog"] >= 0
    assert jobs["workers"]["status"] == "unavailable"
    assert jobs["workers"]["fresh"] == 0
    assert jobs["workers"]["lastHeartbeatAgeSeconds"] >= 600
    assert jobs["listener"] in ("ok", "reconnecting")

-- 0010_job_requeues: the audit trail of operator requeues (POST /api/v1/admin/jobs/{id}/requeue).
--
-- A requeue keeps the job row (same id, attempts kept) and sends a new attempt through the
-- outbox; this row says who did it, when, and what the job looked like before.
CREATE TABLE job_requeues (
    id BIGSERIAL NOT NULL,
    job_id UUID NOT NULL,
    requeued_by_kind TEXT NOT NULL,
    requeued_by_id TEXT,
    previous_status TEXT NOT NULL,
    previous_attempts INTEGER NOT NULL,
    previous_error JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT job_requeues_pkey PRIMARY KEY (id),
    CONSTRAINT job_requeues_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX job_requeues_job_id_idx ON job_requeues (job_id, created_at);

-- 0002_system_tables: tables this system adds beside the production schema (snake_case names).
-- schema_version itself is created by models.migrate before any file runs.

-- Jobs: one row per actor message (id = Dramatiq message id).
CREATE TABLE jobs (
    id UUID NOT NULL,
    actor_name TEXT NOT NULL,
    queue_name TEXT NOT NULL,
    args JSONB NOT NULL DEFAULT '{}'::jsonb,
    status TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    progress JSONB,
    result JSONB,
    error JSONB,
    requested_by_kind TEXT,
    requested_by_id TEXT,
    idempotency_key TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    heartbeat_at TIMESTAMPTZ,

    CONSTRAINT jobs_pkey PRIMARY KEY (id),
    CONSTRAINT jobs_idempotency_key_key UNIQUE (idempotency_key),
    CONSTRAINT jobs_status_check
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'dead')),
    CONSTRAINT jobs_attempts_check CHECK (attempts >= 0),
    CONSTRAINT jobs_requested_by_kind_check CHECK (requested_by_kind IN
        ('patient', 'donor', 'center', 'staff', 'admin', 'api_key', 'scheduler', 'system'))
);
-- Operators list failed/dead jobs; housekeeping deletes old finished ones.
CREATE INDEX jobs_status_created_at_idx ON jobs (status, created_at);

-- Outbox: messages the relay publishes after the writing transaction commits.
CREATE TABLE outbox (
    id BIGSERIAL NOT NULL,
    job_id UUID NOT NULL,
    queue_name TEXT NOT NULL,
    message JSONB NOT NULL,
    available_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT outbox_pkey PRIMARY KEY (id),
    CONSTRAINT outbox_job_id_fkey FOREIGN KEY (job_id) REFERENCES jobs (id)
        ON DELETE CASCADE ON UPDATE CASCADE
);
-- What the relay claims (FOR UPDATE SKIP LOCKED), oldest first.
CREATE INDEX outbox_pending_idx ON outbox (available_at, id) WHERE sent_at IS NULL;
CREATE INDEX outbox_job_id_idx ON outbox (job_id);

-- Every write wakes the relay (LISTEN outbox). Statement level: one NOTIFY per INSERT, and
-- PostgreSQL folds identical notifications of one transaction into one.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Stored files: bytes under STORAGE_DIR (spec/api/appointments.md 3.2).
CREATE TABLE stored_files (
    id UUID NOT NULL,
    storage_key TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    original_name TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT stored_files_pkey PRIMARY KEY (id),
    CONSTRAINT stored_files_storage_key_key UNIQUE (storage_key),
    CONSTRAINT stored_files_size_bytes_check CHECK (size_bytes >= 0)
);

-- Analytics snapshots: the latest value of each metric/report per scope ('' = platform-wide).
CREATE TABLE analytics_snapshots (
    id BIGSERIAL NOT NULL,
    kind TEXT NOT NULL,
    scope TEXT NOT NULL DEFAULT '',
    data JSONB NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms INTEGER NOT NULL,

    CONSTRAINT analytics_snapshots_pkey PRIMARY KEY (id),
    CONSTRAINT analytics_snapshots_kind_scope_key UNIQUE (kind, scope)
);

-- Refresh tokens revoked by logout (spec/api/auth.md 2.1); purged once expired.
CREATE TABLE token_revocations (
    jti TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT token_revocations_pkey PRIMARY KEY (jti)
);
CREATE INDEX token_revocations_expires_at_idx ON token_revocations (expires_at);

-- Credential changes (password reset, staff suspension) that end earlier refresh tokens.
CREATE TABLE auth_credential_changes (
    id BIGSERIAL NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT auth_credential_changes_pkey PRIMARY KEY (id),
    CONSTRAINT auth_credential_changes_subject_key UNIQUE (subject_type, subject_id),
    CONSTRAINT auth_credential_changes_subject_type_check
        CHECK (subject_type IN ('user', 'center', 'staff', 'admin'))
);

-- The one row of stored matching configuration overrides (spec/api/admin.md 11.6).
CREATE TABLE matching_config_overrides (
    id SMALLINT NOT NULL DEFAULT 1,
    overrides JSONB NOT NULL DEFAULT '{}'::jsonb,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT,

    CONSTRAINT matching_config_overrides_pkey PRIMARY KEY (id),
    CONSTRAINT matching_config_overrides_single_row CHECK (id = 1)
);

-- Gap-free receipt numbers per Lagos day (spec/api/receipts.md 3.2).
CREATE TABLE receipt_number_counters (
    day DATE NOT NULL,
    last_value INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT receipt_number_counters_pkey PRIMARY KEY (day)
);

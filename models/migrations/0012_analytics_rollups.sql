-- 0012_analytics_rollups: small rollup tables of the analytics base tables, kept exact by
-- triggers that record which keys changed (actors/analytics/rollups.py; measured in
-- docs/benchmarks.md, "Analytics").
--
-- The triggers never compute anything: each write statement appends the keys it touched
-- (a centre and day, a campaign, a day, a state, a transaction id) to analytics.dirty_keys.
-- A refresh takes those keys, recomputes exactly those rollup rows from the base tables and
-- builds every report from the rollups. Updates and deletes of history are therefore counted
-- like inserts. Statement-level triggers with transition tables: one trigger call per write
-- statement, whatever its row count. The rollup tables start empty and
-- analytics.rollup_state has no row: the first refresh rebuilds everything.
--
-- They live in their own schema, "analytics": derived data that the refresh alone reads and
-- writes, not part of the domain model that the models and the schema fingerprint describe
-- (those cover the current schema only). A rebuild recreates all of it from the base tables,
-- so the tables are UNLOGGED (no WAL: cheaper trigger inserts and rebuilds). A crash empties
-- unlogged tables, analytics.rollup_state included, and the next refresh then rebuilds.

CREATE SCHEMA analytics;

CREATE UNLOGGED TABLE analytics.dirty_keys (
    source TEXT NOT NULL,
    key TEXT,
    day TIMESTAMP(3)
);

-- One row once the rollups have been built; a TRUNCATE of a base table deletes it, so that
-- the next refresh rebuilds instead of trusting rollups of rows that vanished unrecorded.
CREATE UNLOGGED TABLE analytics.rollup_state (
    id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    built_at TIMESTAMPTZ NOT NULL
);

-- Appointments per centre and creation day, with their screening results and completed
-- transactions (sums exact: numeric). A few changed appointments recompute a few small days.
CREATE UNLOGGED TABLE analytics.appointment_center_days (
    center_id TEXT NOT NULL,
    day TIMESTAMP(3) NOT NULL,
    total BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    progressed BIGINT NOT NULL,
    pending BIGINT NOT NULL,
    with_result BIGINT NOT NULL,
    result_seconds NUMERIC NOT NULL,
    linked_revenue NUMERIC NOT NULL,
    linked_count BIGINT NOT NULL,
    PRIMARY KEY (center_id, day)
);

-- The same per centre and month, summed from the days: what the reports read.
CREATE UNLOGGED TABLE analytics.appointment_months (
    center_id TEXT NOT NULL,
    month TIMESTAMP(3) NOT NULL,
    total BIGINT NOT NULL,
    completed BIGINT NOT NULL,
    progressed BIGINT NOT NULL,
    pending BIGINT NOT NULL,
    with_result BIGINT NOT NULL,
    result_seconds NUMERIC NOT NULL,
    linked_revenue NUMERIC NOT NULL,
    linked_count BIGINT NOT NULL,
    PRIMARY KEY (center_id, month)
);

CREATE UNLOGGED TABLE analytics.appointment_days (
    day TIMESTAMP(3) PRIMARY KEY,
    n BIGINT NOT NULL
);

-- Completed transactions per creation day.
CREATE UNLOGGED TABLE analytics.transaction_days (
    day TIMESTAMP(3) PRIMARY KEY,
    revenue NUMERIC NOT NULL,
    revenue_n BIGINT NOT NULL,
    donations NUMERIC NOT NULL
);

-- Completed DONATION transactions per campaign and creation month, and per campaign (the sums
-- of its months: what the reports read).
CREATE UNLOGGED TABLE analytics.campaign_donation_months (
    campaign_id TEXT NOT NULL,
    month TIMESTAMP(3) NOT NULL,
    amount NUMERIC NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, month)
);

CREATE UNLOGGED TABLE analytics.campaign_donations (
    campaign_id TEXT PRIMARY KEY,
    amount NUMERIC NOT NULL,
    n BIGINT NOT NULL
);

-- Allocations per campaign, and those whose appointment is COMPLETED.
CREATE UNLOGGED TABLE analytics.campaign_allocations (
    campaign_id TEXT PRIMARY KEY,
    matched BIGINT NOT NULL,
    completed BIGINT NOT NULL
);

CREATE UNLOGGED TABLE analytics.user_days (
    day TIMESTAMP(3) PRIMARY KEY,
    n BIGINT NOT NULL
);

-- Patient profiles per (non-empty) state.
CREATE UNLOGGED TABLE analytics.states (
    state TEXT PRIMARY KEY,
    patients BIGINT NOT NULL
);

-- Waitlist entries per state of their patient's profile ('' when it has none or no state)
-- and day joined.
CREATE UNLOGGED TABLE analytics.waitlist_days (
    state TEXT NOT NULL,
    day TIMESTAMP(3) NOT NULL,
    entries BIGINT NOT NULL,
    pending BIGINT NOT NULL,
    matched BIGINT NOT NULL,
    claimed BIGINT NOT NULL,
    wait_seconds NUMERIC NOT NULL,
    PRIMARY KEY (state, day)
);

-- Transactions linked to more than one appointment (normally none).
CREATE UNLOGGED TABLE analytics.shared_transactions (
    transaction_id TEXT PRIMARY KEY
);

-- Indexes the recomputation of a few keys needs (a centre's appointments of a day, a day's
-- transactions and users, a campaign's donations of a month and its allocations, the
-- allocations of an appointment whose status changed, a day's waitlist entries, a state's
-- profiles). They also serve the foreign keys' ON DELETE actions.
CREATE INDEX appointment_center_created_at_idx ON "Appointment" ("centerId", "createdAt");
CREATE INDEX transaction_created_at_idx ON "Transaction" ("createdAt");
CREATE INDEX transaction_related_donation_idx
    ON "Transaction" ("relatedDonationId", "createdAt");
CREATE INDEX user_created_at_idx ON "User" ("createdAt");
CREATE INDEX donation_allocation_campaign_idx ON "DonationAllocation" ("campaignId");
CREATE INDEX donation_allocation_appointment_idx ON "DonationAllocation" ("appointmentId");
CREATE INDEX waitlist_joined_at_idx ON "Waitlist" ("joinedAt");
CREATE INDEX patient_profile_state_idx ON "PatientProfile" (state);

-- The dashboard's active patients (distinct patients with an appointment in the last 30 days,
-- not a sum of rollups) as an index-only scan; replaces the 0008 index on "createdAt" alone.
CREATE INDEX appointment_created_at_patient_idx
    ON "Appointment" ("createdAt") INCLUDE ("patientId");
DROP INDEX appointment_created_at_idx;

-- -- triggers ------------------------------------------------------------------------------------

CREATE FUNCTION analytics.rollups_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM analytics.rollup_state;
    RETURN NULL;
END $$;

-- Sources: 'appointment' (centre, creation day) for the per-centre days and months,
-- 'appointment_day' (creation day) for the per-day counts, which only inserts, deletes and
-- changes of "createdAt" move, and 'link' (transaction id) for shared transactions.
CREATE FUNCTION analytics.appointment_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'appointment', "centerId", date_trunc('day', "createdAt") FROM new_rows
        UNION ALL
        SELECT DISTINCT 'appointment_day', NULL, date_trunc('day', "createdAt") FROM new_rows
        UNION ALL
        SELECT 'link', "transactionId", NULL FROM new_rows WHERE "transactionId" IS NOT NULL;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'appointment', "centerId", date_trunc('day', "createdAt") FROM old_rows
        UNION ALL
        SELECT DISTINCT 'appointment_day', NULL, date_trunc('day', "createdAt") FROM old_rows
        UNION ALL
        SELECT 'link', "transactionId", NULL FROM old_rows WHERE "transactionId" IS NOT NULL;
    ELSE
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT k.source, k.key, k.day
        FROM old_rows o
        FULL JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES
            ('appointment', o."centerId", date_trunc('day', o."createdAt")),
            ('appointment', n."centerId", date_trunc('day', n."createdAt")),
            ('appointment_day', NULL, date_trunc('day', o."createdAt")),
            ('appointment_day', NULL, date_trunc('day', n."createdAt")),
            ('link', o."transactionId", NULL),
            ('link', n."transactionId", NULL)
        ) AS k(source, key, day)
        WHERE COALESCE(k.key, k.day::text) IS NOT NULL
          AND (o.id IS NULL OR n.id IS NULL
               OR (o."centerId", o."createdAt", o.status, o."transactionId",
                   o."appointmentDateTime")
                  IS DISTINCT FROM (n."centerId", n."createdAt", n.status, n."transactionId",
                                    n."appointmentDateTime"))
          AND CASE k.source
                  WHEN 'appointment' THEN true
                  WHEN 'appointment_day' THEN o."createdAt" IS DISTINCT FROM n."createdAt"
                  ELSE o."transactionId" IS DISTINCT FROM n."transactionId"
              END;
        -- Campaigns count the allocations whose appointment is COMPLETED.
        INSERT INTO analytics.dirty_keys (source, key)
        SELECT DISTINCT 'allocation', al."campaignId"
        FROM old_rows o
        JOIN new_rows n ON n.id = o.id
        JOIN "DonationAllocation" al ON al."appointmentId" = n.id
        WHERE o.status IS DISTINCT FROM n.status;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics.screening_result_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'appointment', a."centerId", date_trunc('day', a."createdAt")
        FROM new_rows r JOIN "Appointment" a ON a.id = r."appointmentId";
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'appointment', a."centerId", date_trunc('day', a."createdAt")
        FROM old_rows r JOIN "Appointment" a ON a.id = r."appointmentId";
    ELSE
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'appointment', a."centerId", date_trunc('day', a."createdAt")
        FROM (SELECT "appointmentId", "uploadedAt" FROM old_rows
              UNION SELECT "appointmentId", "uploadedAt" FROM new_rows
              EXCEPT (SELECT "appointmentId", "uploadedAt" FROM old_rows
                      INTERSECT SELECT "appointmentId", "uploadedAt" FROM new_rows)) r
        JOIN "Appointment" a ON a.id = r."appointmentId";
    END IF;
    RETURN NULL;
END $$;

-- Only COMPLETED transactions are in the rollups: a PENDING booking records nothing until it
-- completes.
CREATE FUNCTION analytics.transaction_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'transaction',
               CASE WHEN "type" = 'DONATION' THEN "relatedDonationId" END,
               date_trunc('day', "createdAt")
        FROM new_rows WHERE status = 'COMPLETED';
    ELSIF TG_OP = 'DELETE' THEN
        -- Linked appointments: the foreign key's ON DELETE SET NULL updates them.
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'transaction',
               CASE WHEN "type" = 'DONATION' THEN "relatedDonationId" END,
               date_trunc('day', "createdAt")
        FROM old_rows WHERE status = 'COMPLETED';
    ELSE
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'transaction', k.key, k.day
        FROM old_rows o
        FULL JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES
            (o.status, CASE WHEN o."type" = 'DONATION' THEN o."relatedDonationId" END,
             date_trunc('day', o."createdAt")),
            (n.status, CASE WHEN n."type" = 'DONATION' THEN n."relatedDonationId" END,
             date_trunc('day', n."createdAt"))
        ) AS k(status, key, day)
        WHERE k.status = 'COMPLETED'
          AND (o.id IS NULL OR n.id IS NULL
               OR (o."type", o.status, o.amount, o."relatedDonationId", o."paymentChannel",
                   o."createdAt")
                  IS DISTINCT FROM (n."type", n.status, n.amount, n."relatedDonationId",
                                    n."paymentChannel", n."createdAt"));
        -- Centre revenue counts the completed transaction of each appointment.
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'appointment', a."centerId", date_trunc('day', a."createdAt")
        FROM old_rows o
        JOIN new_rows n ON n.id = o.id
        JOIN "Appointment" a ON a."transactionId" = n.id
        WHERE (o.status = 'COMPLETED' OR n.status = 'COMPLETED')
          AND (o.status, o.amount) IS DISTINCT FROM (n.status, n.amount);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics.user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics.dirty_keys (source, day)
        SELECT DISTINCT 'user', date_trunc('day', "createdAt") FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics.dirty_keys (source, day)
        SELECT DISTINCT 'user', date_trunc('day', "createdAt") FROM old_rows;
    ELSE
        INSERT INTO analytics.dirty_keys (source, day)
        SELECT DISTINCT 'user', date_trunc('day', k."createdAt")
        FROM (SELECT id, "createdAt" FROM old_rows UNION SELECT id, "createdAt" FROM new_rows
              EXCEPT (SELECT id, "createdAt" FROM old_rows
                      INTERSECT SELECT id, "createdAt" FROM new_rows)) k;
    END IF;
    RETURN NULL;
END $$;

-- A profile's state places its patient's waitlist entries ('' without a profile). A new
-- profile moves its patient's entries from '' to its state: each day one of them joined is
-- recorded under both. A deleted or changed profile records its old state whole (day NULL: the
-- refresh recounts every entry of that state): when a user is deleted, the cascades may remove
-- the entries before this trigger could find their days.
CREATE FUNCTION analytics.patient_profile_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'state', state, NULL::timestamp FROM new_rows
        WHERE COALESCE(state, '') <> ''
        UNION ALL
        SELECT DISTINCT 'waitlist', k.state, date_trunc('day', w."joinedAt")
        FROM new_rows p
        JOIN "Waitlist" w ON w."patientId" = p."userId"
        CROSS JOIN LATERAL (VALUES (COALESCE(p.state, '')), ('')) AS k(state);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT k.source, old_rows.state, NULL::timestamp FROM old_rows
        CROSS JOIN (VALUES ('state'), ('waitlist')) AS k(source)
        WHERE COALESCE(old_rows.state, '') <> ''
        UNION ALL
        SELECT DISTINCT 'waitlist', '', date_trunc('day', w."joinedAt")
        FROM old_rows p JOIN "Waitlist" w ON w."patientId" = p."userId";
    ELSE
        WITH changed AS (
            (SELECT 'old' AS side, "userId", state FROM old_rows
             EXCEPT SELECT 'old', "userId", state FROM new_rows)
            UNION ALL
            (SELECT 'new', "userId", state FROM new_rows
             EXCEPT SELECT 'new', "userId", state FROM old_rows)
        )
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'state', state, NULL::timestamp FROM changed
        WHERE COALESCE(state, '') <> ''
        UNION ALL
        SELECT DISTINCT 'waitlist', state, NULL::timestamp FROM changed
        WHERE side = 'old' AND COALESCE(state, '') <> ''
        UNION ALL
        SELECT DISTINCT 'waitlist', k.state, date_trunc('day', w."joinedAt")
        FROM changed c
        JOIN "Waitlist" w ON w."patientId" = c."userId"
        CROSS JOIN LATERAL (VALUES (COALESCE(c.state, '')), ('')) AS k(state);
    END IF;
    RETURN NULL;
END $$;

-- An entry is placed by the current state of its patient's profile ('' without one).
CREATE FUNCTION analytics.waitlist_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'waitlist', COALESCE(p.state, ''), date_trunc('day', w."joinedAt")
        FROM new_rows w LEFT JOIN "PatientProfile" p ON p."userId" = w."patientId";
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'waitlist', COALESCE(p.state, ''), date_trunc('day', w."joinedAt")
        FROM old_rows w LEFT JOIN "PatientProfile" p ON p."userId" = w."patientId";
    ELSE
        INSERT INTO analytics.dirty_keys (source, key, day)
        SELECT DISTINCT 'waitlist', COALESCE(p.state, ''), date_trunc('day', w."joinedAt")
        FROM (SELECT id, "patientId", status, "joinedAt", "claimedAt" FROM old_rows
              UNION SELECT id, "patientId", status, "joinedAt", "claimedAt" FROM new_rows
              EXCEPT (SELECT id, "patientId", status, "joinedAt", "claimedAt" FROM old_rows
                      INTERSECT
                      SELECT id, "patientId", status, "joinedAt", "claimedAt" FROM new_rows)) w
        LEFT JOIN "PatientProfile" p ON p."userId" = w."patientId";
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics.allocation_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics.dirty_keys (source, key)
        SELECT DISTINCT 'allocation', "campaignId" FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics.dirty_keys (source, key)
        SELECT DISTINCT 'allocation', "campaignId" FROM old_rows;
    ELSE
        INSERT INTO analytics.dirty_keys (source, key)
        SELECT DISTINCT 'allocation', k."campaignId"
        FROM (SELECT id, "campaignId", "appointmentId" FROM old_rows
              UNION SELECT id, "campaignId", "appointmentId" FROM new_rows
              EXCEPT (SELECT id, "campaignId", "appointmentId" FROM old_rows
                      INTERSECT SELECT id, "campaignId", "appointmentId" FROM new_rows)) k;
    END IF;
    RETURN NULL;
END $$;

-- One trigger per (table, event): a trigger with transition tables fires for one event only.
DO $$
DECLARE
    item RECORD;
BEGIN
    FOR item IN SELECT * FROM (VALUES
        ('Appointment', 'appointment'),
        ('ScreeningResult', 'screening_result'),
        ('Transaction', 'transaction'),
        ('User', 'user'),
        ('PatientProfile', 'patient_profile'),
        ('Waitlist', 'waitlist'),
        ('DonationAllocation', 'allocation')
    ) AS t(table_name, name) LOOP
        EXECUTE format(
            'CREATE TRIGGER analytics_%s_inserted AFTER INSERT ON %I '
            'REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT '
            'EXECUTE FUNCTION analytics.%s_changed()', item.name, item.table_name, item.name);
        EXECUTE format(
            'CREATE TRIGGER analytics_%s_updated AFTER UPDATE ON %I '
            'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT '
            'EXECUTE FUNCTION analytics.%s_changed()', item.name, item.table_name, item.name);
        EXECUTE format(
            'CREATE TRIGGER analytics_%s_deleted AFTER DELETE ON %I '
            'REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT '
            'EXECUTE FUNCTION analytics.%s_changed()', item.name, item.table_name, item.name);
        EXECUTE format(
            'CREATE TRIGGER analytics_%s_truncated AFTER TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION analytics.rollups_stale()',
            item.name, item.table_name);
    END LOOP;
END $$;

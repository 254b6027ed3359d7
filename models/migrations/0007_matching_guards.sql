-- 0007_matching_guards: database guards of the waitlist matching run (spec/matching.md 3.2, I10,
-- I3). The advisory lock serialises runs; these indexes make a second run or a second
-- allocation impossible even for code that forgets the lock.
--
-- One allocation per waitlist entry is already the production unique index
-- "DonationAllocation_waitlistId_key" (I3); nothing is added for it.

-- Executions the reference left RUNNING forever (D-MAT-14) would block the index below: all
-- but the newest become FAILED now, with the message the matching run itself writes for
-- abandoned executions; the newest is handled by the next run (it marks every RUNNING row of a
-- run that no longer holds the lock as abandoned).
UPDATE matching_executions
SET status = 'FAILED',
    "completedAt" = date_trunc('milliseconds', CURRENT_TIMESTAMP AT TIME ZONE 'UTC'),
    errors = jsonb_build_array(jsonb_build_object(
        'message', 'Execution abandoned (worker stopped)',
        'timestamp', to_char(CURRENT_TIMESTAMP AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    ))
WHERE status = 'RUNNING'
  AND id <> (
      SELECT id FROM matching_executions WHERE status = 'RUNNING'
      ORDER BY "startedAt" DESC, id DESC LIMIT 1
  );

-- I10: at most one execution is RUNNING at any time.
CREATE UNIQUE INDEX matching_executions_one_running_key
    ON matching_executions ((true)) WHERE status = 'RUNNING';

-- A job (Dramatiq message id, recorded as batchConfig.trigger.jobId) completes at most one
-- execution: a redelivered or repeated message finds it and does nothing.
CREATE UNIQUE INDEX matching_executions_job_done_key
    ON matching_executions ((("batchConfig" -> 'trigger' ->> 'jobId')))
    WHERE status IN ('COMPLETED', 'PARTIALLY_COMPLETED')
      AND ("batchConfig" -> 'trigger' ->> 'jobId') IS NOT NULL;

-- The run's lookups: allocations of an execution (I11 bookkeeping, admin views).
CREATE INDEX donation_allocation_matching_execution_idx
    ON "DonationAllocation" ("matchingExecutionId");

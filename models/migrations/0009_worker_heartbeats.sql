-- 0009_worker_heartbeats: one row per running worker process, refreshed every few seconds.
--
-- The edge's circuit breaker and readiness check read it to know whether any worker (for a
-- queue) is alive. jobs.heartbeat_at cannot say that: it moves only while a job runs, so an
-- idle, healthy worker would look dead. A worker deletes its row when it stops cleanly; a
-- killed one leaves a row that simply goes stale (and is pruned a day later).
CREATE TABLE worker_heartbeats (
    id TEXT NOT NULL,
    worker_name TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues TEXT[] NOT NULL DEFAULT '{}',
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    beat_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT worker_heartbeats_pkey PRIMARY KEY (id)
);
-- "Newest heartbeat" and pruning read by time.
CREATE INDEX worker_heartbeats_beat_at_idx ON worker_heartbeats (beat_at);

-- 0008_analytics_indexes: indexes the analytics refresh needs (actors/analytics/queries.py;
-- measured in docs/benchmarks.md, "Analytics"). Names are snake_case so that they can never
-- collide with Prisma's "<Table>_<cols>_idx" names.

-- Appointments by their transaction. Prisma indexes no foreign key: finding the transactions
-- shared by several appointments was a hash aggregate over every linked appointment (~0.45 s at
-- 600k links); with this index it is an index-only scan (~0.1 s). It also serves the payment
-- webhook's "the appointment whose transactionId is this row" and ON DELETE SET NULL.
CREATE INDEX appointment_transaction_idx ON "Appointment" ("transactionId");

-- Appointments by creation time: the dashboard's active patients (last 30 days) and the time
-- report's recent windows read a slice instead of the whole table.
CREATE INDEX appointment_created_at_idx ON "Appointment" ("createdAt");

-- 0011_center_listing_index: the public center list pages newest first
-- (edge/services/centers.py, ORDER BY "createdAt" DESC, "id" DESC). Without an index in that
-- order each page scanned and sorted every center: 1.7 ms of database CPU per request at 2,000
-- centers, 0.87 ms with it (docs/benchmarks.md, "Edge").
CREATE INDEX service_center_listing_idx ON "ServiceCenter" ("createdAt" DESC, "id" DESC);

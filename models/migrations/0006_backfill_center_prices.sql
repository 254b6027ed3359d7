-- 0006_backfill_center_prices: every (center, screening type) offer in the join table gets a
-- price row, at the type's agreed price, when it has none (D-DM-7: centers registered through
-- the reference API could never be booked for self-pay).

INSERT INTO "ServiceCenterScreeningType" ("id", "centerId", "screeningTypeId", "amount")
SELECT gen_random_uuid()::text, offer."B", offer."A", st."agreedPrice"
FROM "_ScreeningTypeToServiceCenter" AS offer
JOIN "ScreeningType" AS st ON st."id" = offer."A"
ON CONFLICT ("centerId", "screeningTypeId") DO NOTHING;

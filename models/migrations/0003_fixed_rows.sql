-- 0003_fixed_rows: rows the code relies on (spec/domain-model.md 6.1). Re-runnable: every
-- insert skips rows that exist, so an existing production database keeps its own.

-- Screening type categories (fixed ids; "treatement" is the production spelling).
INSERT INTO "ScreeningTypeCategory" ("id", "name", "description") VALUES
    ('cancer', 'Cancer', 'Cancer-related screenings'),
    ('vaccine', 'Vaccine', 'Preventive vaccinations'),
    ('general', 'General', 'General health screenings'),
    ('treatement', 'treatment', 'treatment-related screenings'),
    ('screening', 'Screening', 'Screening-related stuff')
ON CONFLICT DO NOTHING;

-- The system donor owning the general pool. Its password hash is a bcrypt hash of 32 random
-- bytes that were discarded: nobody can log in as this user (D-DM-20).
INSERT INTO "User" ("id", "fullName", "email", "phone", "passwordHash", "createdAt") VALUES
    ('general-public', 'General Donor Pool', 'donorpool@zerocancer.org', NULL,
     '$2b$10$mmszFNQDEiX8tZo0X8Yr9O2AWROkdSz.SxK9qIaYEfuc3MV381z6S',
     date_trunc('milliseconds', CURRENT_TIMESTAMP AT TIME ZONE 'UTC'))
ON CONFLICT DO NOTHING;

INSERT INTO "DonorProfile" ("id", "userId", "organizationName", "country", "emailVerified")
SELECT gen_random_uuid()::text, 'general-public', NULL, 'Nigeria',
       date_trunc('milliseconds', CURRENT_TIMESTAMP AT TIME ZONE 'UTC')
WHERE EXISTS (SELECT 1 FROM "User" WHERE "id" = 'general-public')
ON CONFLICT DO NOTHING;

-- The general donor pool: anonymous donations credit it, matching falls back to it.
INSERT INTO "DonationCampaign" (
    "id", "donorId", "totalAmount", "availableAmount", "title", "purpose", "targetGender",
    "targetAgeRange", "targetStates", "targetLgas", "status", "expiryDate", "createdAt",
    "updatedAt"
)
SELECT 'general-donor-pool', 'general-public', 0, 0, 'General donation public pool', NULL, NULL,
       NULL, ARRAY[]::text[], ARRAY[]::text[], 'ACTIVE', NULL,
       date_trunc('milliseconds', CURRENT_TIMESTAMP AT TIME ZONE 'UTC'),
       date_trunc('milliseconds', CURRENT_TIMESTAMP AT TIME ZONE 'UTC')
WHERE EXISTS (SELECT 1 FROM "User" WHERE "id" = 'general-public')
ON CONFLICT DO NOTHING;

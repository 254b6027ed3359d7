-- 0004_lookup_indexes: indexes the new system's queries need on production tables. Names are
-- snake_case so that they can never collide with Prisma's "<Table>_<cols>_idx" names.

-- A user's notifications, newest first (spec/api/notifications.md 3.1).
CREATE INDEX notification_recipients_user_idx ON "NotificationRecipient" ("userId");

-- Logins and registrations compare lower(email) (D-DM-14). Not unique: legacy rows may differ
-- only by case.
CREATE INDEX user_email_lower_idx ON "User" (lower("email"));
CREATE INDEX service_center_email_lower_idx ON "ServiceCenter" (lower("email"));
CREATE INDEX center_staff_email_lower_idx ON "CenterStaff" ("centerId", lower("email"));
CREATE INDEX admins_email_lower_idx ON "Admins" (lower("email"));

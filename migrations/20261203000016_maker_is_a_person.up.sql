-- The maker-checker rule compares people, not credentials: a version
-- submitted through an API key is recorded as submitted by the user who
-- created the key, so that user cannot approve it with their own sign-in.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
-- Every tenant's rows (campaigns and api_keys force row-level security, and
-- the owner that runs migrations is no superuser in production).
SET LOCAL p360.all_tenants = 'on';

UPDATE campaigns c
SET submitted_by = 'user:' || k.created_by
FROM api_keys k
WHERE c.submitted_by = 'api_key:' || k.id
  AND k.created_by IS NOT NULL;

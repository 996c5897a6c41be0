SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore require-concurrent-index-deletion
DROP INDEX jobs_dedup_key;
UPDATE jobs SET status = 'succeeded' WHERE status = 'superseded';
-- The old index folded running jobs too; keep the newest of any pair.
DELETE FROM jobs AS j USING jobs AS k
    WHERE j.kind = k.kind AND j.dedup_key = k.dedup_key AND j.id < k.id
      AND j.status IN ('queued', 'running') AND k.status IN ('queued', 'running');
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX jobs_dedup_key ON jobs (kind, dedup_key)
    WHERE dedup_key IS NOT NULL AND status IN ('queued', 'running');
-- The queue table is small (finished jobs are pruned) and lock_timeout bounds the wait.
-- squawk-ignore ban-drop-constraint
ALTER TABLE jobs DROP CONSTRAINT jobs_status;
ALTER TABLE jobs ADD CONSTRAINT jobs_status
    CHECK (status IN ('queued', 'running', 'succeeded', 'dead')) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE jobs VALIDATE CONSTRAINT jobs_status;

-- squawk-ignore ban-drop-table
DROP TABLE ttd_objects;
-- squawk-ignore ban-drop-column
ALTER TABLE campaigns DROP COLUMN activation;

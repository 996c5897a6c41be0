-- The SQS relay looks for queued jobs not yet handed to SQS, per queue in
-- run_at order; without this index it would walk past every relayed job.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- The queue table is small (finished jobs are pruned) and lock_timeout bounds the wait.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX jobs_relay_idx ON jobs (queue, run_at) WHERE status = 'queued' AND locked_by IS NULL;

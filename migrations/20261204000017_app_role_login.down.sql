SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- The role stays able to log in: other databases of the cluster, and the
-- version this one goes back to, may still connect as it (that version
-- switches to it with SET ROLE, which works either way).
SELECT 1;

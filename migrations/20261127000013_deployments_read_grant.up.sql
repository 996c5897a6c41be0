-- The serving instances export the state of a deployment in progress on
-- /metrics (whether one runs, the new slot's weight, how long its controller
-- has been silent), so that an alert fires when a controller dies with
-- traffic split. They read; only the migrating role writes.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

GRANT SELECT ON deployments TO p360_app;

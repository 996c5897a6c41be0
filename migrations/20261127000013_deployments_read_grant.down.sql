SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

REVOKE SELECT ON deployments FROM p360_app;

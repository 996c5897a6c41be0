-- The audit log partitioned by month (issue 20), so that a month archived
-- to the object-locked audit bucket can leave the table by dropping its
-- partition instead of deleting rows (which the triggers refuse) or
-- rewriting the table.
--
-- The table keeps its name and columns: the running version's statements
-- work unchanged. Its rows are copied in this transaction (one INSERT;
-- milliseconds at today's volume, a write pause of about a second per
-- hundred thousand events).
--
-- audit_month_partitions(day) makes a month's partition (the worker keeps
-- two months ahead; the default partition takes rows of a month that has
-- none, and the function moves them into it when it makes it). Each
-- partition holds its month's (chain_id, seq) once (a unique index of its
-- own: a key across partitions would have to include the month) and refuses
-- TRUNCATE (a statement trigger on the parent does not reach a partition
-- truncated by name). Across months a chain's numbers stay unique because
-- appends take the chain's head, locked, and `p360 audit verify` checks it.
--
-- audit_drop_month(month, sha256, events) drops an archived month: only the
-- oldest month in the table, ended at least 30 days ago, holding exactly the
-- events its archive holds; it records the month and each chain's last link
-- in it (audit_chain_bases), which the table's remaining events must follow
-- and the archive must hold. The application's role owns no table, so the
-- functions run as their owner and do only that.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '600s';

-- The old table leaves under another name and a new one takes its name in
-- this transaction: clients never see the rename.
-- squawk-ignore renaming-table
ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;
-- squawk-ignore renaming-object
ALTER TABLE audit_events_unpartitioned RENAME CONSTRAINT audit_events_pkey TO audit_events_unpartitioned_pkey;
-- squawk-ignore renaming-object
ALTER TABLE audit_events_unpartitioned RENAME CONSTRAINT audit_events_chain_seq_key TO audit_events_unpartitioned_chain_seq_key;
-- squawk-ignore renaming-object
ALTER INDEX audit_events_tenant_time_idx RENAME TO audit_events_unpartitioned_tenant_time_idx;

CREATE TABLE audit_events (
    id uuid NOT NULL,
    chain_id uuid NOT NULL,
    seq bigint NOT NULL,
    tenant_id uuid REFERENCES tenants (id),
    occurred_at timestamptz NOT NULL,
    actor_type text NOT NULL CONSTRAINT audit_events_actor_type CHECK (actor_type IN ('user', 'api_key', 'system')),
    actor_id text,
    action text NOT NULL,
    target_type text,
    target_id text,
    request_id text,
    source_ip text,
    user_agent text,
    changes jsonb NOT NULL,
    outcome text NOT NULL CONSTRAINT audit_events_outcome CHECK (outcome IN ('success', 'failure', 'denied')),
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    CONSTRAINT audit_events_pkey PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX audit_events_tenant_time_idx ON audit_events (tenant_id, occurred_at DESC, id DESC);

CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION p360_audit_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION p360_audit_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_events_tenant ON audit_events
    USING (p360_tenant_visible(tenant_id));
GRANT SELECT, INSERT ON audit_events TO p360_app;

CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX audit_events_default_chain_seq_key ON audit_events_default (chain_id, seq);
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events_default
    FOR EACH STATEMENT EXECUTE FUNCTION p360_audit_append_only();

-- The link each chain's events in the table follow once its older months
-- were dropped: the last event of the newest dropped month it had events in.
CREATE TABLE audit_chain_bases (
    chain_id uuid PRIMARY KEY,
    seq bigint NOT NULL,
    hash bytea NOT NULL
);
-- Months dropped from the table, with the archive they were dropped against.
CREATE TABLE audit_dropped_months (
    month date PRIMARY KEY CONSTRAINT audit_dropped_months_first CHECK (extract(day FROM month) = 1),
    events bigint NOT NULL,
    archive_sha256 text NOT NULL CONSTRAINT audit_dropped_months_sha256 CHECK (archive_sha256 ~ '^[0-9a-f]{64}$'),
    dropped_at timestamptz NOT NULL
);
GRANT SELECT ON audit_chain_bases, audit_dropped_months TO p360_app;

CREATE FUNCTION audit_month_partitions(day date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    first date := date_trunc('month', day)::date;
    next date := (date_trunc('month', day) + interval '1 month')::date;
    name text := 'audit_events_' || to_char(date_trunc('month', day), 'YYYY_MM');
    from_at timestamptz := first::timestamp AT TIME ZONE 'UTC';
    to_at timestamptz := next::timestamp AT TIME ZONE 'UTC';
    stranded boolean;
BEGIN
    IF to_regclass(name) IS NOT NULL
        OR EXISTS (SELECT 1 FROM audit_dropped_months WHERE month = first) THEN
        RETURN;
    END IF;
    SELECT EXISTS (SELECT 1 FROM audit_events_default WHERE occurred_at >= from_at AND occurred_at < to_at)
        INTO stranded;
    IF stranded THEN
        -- Rows of this month in the default partition: the month's own
        -- partition can only be made with them moved into it. Detached, the
        -- default partition is a table of its own without the parent's
        -- row triggers, so the rows can leave it.
        LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE;
        ALTER TABLE audit_events DETACH PARTITION audit_events_default;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
        name, from_at, to_at);
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (chain_id, seq)', name || '_chain_seq_key', name);
    EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %I '
        'FOR EACH STATEMENT EXECUTE FUNCTION p360_audit_append_only()', name);
    IF stranded THEN
        EXECUTE format('INSERT INTO %I SELECT * FROM audit_events_default '
            'WHERE occurred_at >= %L AND occurred_at < %L', name, from_at, to_at);
        DELETE FROM audit_events_default WHERE occurred_at >= from_at AND occurred_at < to_at;
        ALTER TABLE audit_events ATTACH PARTITION audit_events_default DEFAULT;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION audit_month_partitions(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_month_partitions(date) TO p360_app;

-- It sees every tenant's events while it checks (the checks must), whatever
-- the caller's session says, and leaves the session's setting as it was.
CREATE FUNCTION audit_drop_month(month date, archive_sha256 text, archive_events bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    first date := date_trunc('month', month)::date;
    name text := 'audit_events_' || to_char(date_trunc('month', month), 'YYYY_MM');
    to_at timestamptz := (first + interval '1 month')::date::timestamp AT TIME ZONE 'UTC';
    held bigint;
    out_of_order boolean;
    visibility text := current_setting('p360.all_tenants', true);
BEGIN
    IF month <> first THEN
        RAISE EXCEPTION 'audit_drop_month: % is not the first day of a month', month
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_at > now() - interval '30 days' THEN
        RAISE EXCEPTION 'audit_drop_month: % ended less than 30 days ago', to_char(first, 'YYYY-MM')
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF to_regclass(name) IS NULL THEN
        RAISE EXCEPTION 'audit_drop_month: % has no partition', to_char(first, 'YYYY-MM')
            USING ERRCODE = 'undefined_table';
    END IF;
    -- Appends wait here (and this waits 5 s at most for readers to finish:
    -- a waiting lock would hold every append up); the drop needs this lock
    -- anyway.
    LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE;
    PERFORM set_config('p360.all_tenants', 'on', true);
    IF EXISTS (SELECT 1 FROM audit_events WHERE occurred_at < first::timestamp AT TIME ZONE 'UTC') THEN
        RAISE EXCEPTION 'audit_drop_month: older events are still in the table; drop the oldest month first'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format('SELECT count(*) FROM %I', name) INTO held;
    IF held <> archive_events THEN
        RAISE EXCEPTION 'audit_drop_month: % holds % events, its archive %', to_char(first, 'YYYY-MM'),
            held, archive_events
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    -- Each chain's events of the month must precede all its later ones.
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM (SELECT chain_id, max(seq) AS last FROM %I GROUP BY chain_id) m '
        'JOIN audit_events e ON e.chain_id = m.chain_id AND e.seq < m.last AND e.occurred_at >= %L)',
        name, to_at) INTO out_of_order;
    IF out_of_order THEN
        RAISE EXCEPTION 'audit_drop_month: a chain has events of % after later ones', to_char(first, 'YYYY-MM')
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format('INSERT INTO audit_chain_bases (chain_id, seq, hash) '
        'SELECT DISTINCT ON (chain_id) chain_id, seq, hash FROM %I ORDER BY chain_id, seq DESC '
        'ON CONFLICT (chain_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash', name);
    INSERT INTO audit_dropped_months (month, events, archive_sha256, dropped_at)
        VALUES (first, held, archive_sha256, now());
    EXECUTE format('DROP TABLE %I', name);
    PERFORM set_config('p360.all_tenants', coalesce(visibility, ''), true);
    RETURN held;
END
$$;
REVOKE ALL ON FUNCTION audit_drop_month(date, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_drop_month(date, text, bigint) TO p360_app;

-- The row-level security of the old table applies to its owner too (a
-- migration role that is not a superuser, as on RDS): every tenant's rows
-- must be seen to be copied.
SET LOCAL p360.all_tenants = 'on';

-- Partitions for every month the log has events in, and the next two.
DO $$
DECLARE
    month date;
BEGIN
    SELECT date_trunc('month', coalesce(min(occurred_at), now()) AT TIME ZONE 'UTC')::date
        INTO month FROM audit_events_unpartitioned;
    WHILE month <= (now() AT TIME ZONE 'UTC' + interval '2 months')::date LOOP
        PERFORM audit_month_partitions(month);
        month := (month + interval '1 month')::date;
    END LOOP;
END
$$;

INSERT INTO audit_events SELECT * FROM audit_events_unpartitioned;
-- squawk-ignore ban-drop-table
DROP TABLE audit_events_unpartitioned;

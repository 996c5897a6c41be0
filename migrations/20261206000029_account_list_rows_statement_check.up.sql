-- Account-list rows: the foreign key from each row to its list becomes one
-- set-based check per statement.
--
-- An upload inserts every row of a list (up to 200,000) in the transaction
-- that creates the list. The foreign key checked each row on its own — a
-- lookup and a share lock of the same list row, 100,000 times — and took
-- half of the insert's time (0.33 of 0.62 s for 100,000 rows,
-- docs/benchmarks.md). The statement triggers below check every list a
-- statement's rows name in one anti-join over its transition table, and
-- lock those lists as the foreign key did (FOR KEY SHARE), so a row still
-- cannot name a list that does not exist or belongs to another tenant.
-- Deleting a list deletes its rows (the foreign key's ON DELETE CASCADE);
-- changing a list's id or tenant is refused (its NO ACTION).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE FUNCTION account_list_rows_have_list() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1
        FROM (SELECT DISTINCT tenant_id, list_id FROM new_rows) n
        WHERE NOT EXISTS (
            SELECT 1 FROM account_lists l
            WHERE l.tenant_id = n.tenant_id AND l.id = n.list_id
            FOR KEY SHARE
        )
    ) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'an account-list row names a list that does not exist',
            CONSTRAINT = 'account_list_rows_list_fkey';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER account_list_rows_have_list_insert
    AFTER INSERT ON account_list_rows
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION account_list_rows_have_list();
CREATE TRIGGER account_list_rows_have_list_update
    AFTER UPDATE ON account_list_rows
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION account_list_rows_have_list();

CREATE FUNCTION account_lists_delete_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM account_list_rows r
    USING old_lists o
    WHERE r.list_id = o.id AND r.tenant_id = o.tenant_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER account_lists_delete_rows
    AFTER DELETE ON account_lists
    REFERENCING OLD TABLE AS old_lists
    FOR EACH STATEMENT EXECUTE FUNCTION account_lists_delete_rows();

CREATE FUNCTION account_lists_keep_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING
        MESSAGE = 'an account list''s id and tenant do not change',
        CONSTRAINT = 'account_list_rows_list_fkey';
END
$$;

CREATE TRIGGER account_lists_keep_key
    BEFORE UPDATE OF id, tenant_id ON account_lists
    FOR EACH ROW
    WHEN (old.id IS DISTINCT FROM new.id OR old.tenant_id IS DISTINCT FROM new.tenant_id)
    EXECUTE FUNCTION account_lists_keep_key();

-- squawk-ignore ban-drop-constraint
ALTER TABLE account_list_rows DROP CONSTRAINT account_list_rows_list_fkey;

-- The per-row foreign key again (every row satisfies it: the triggers
-- checked the same thing).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- Validating in the same transaction holds the lock while every row is
-- checked: acceptable for a rollback, which runs with the new version gone.
ALTER TABLE account_list_rows ADD CONSTRAINT account_list_rows_list_fkey
    FOREIGN KEY (tenant_id, list_id) REFERENCES account_lists (tenant_id, id)
    ON DELETE CASCADE NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE account_list_rows VALIDATE CONSTRAINT account_list_rows_list_fkey;

DROP TRIGGER account_lists_keep_key ON account_lists;
-- squawk-ignore ban-drop-function
DROP FUNCTION account_lists_keep_key();
DROP TRIGGER account_lists_delete_rows ON account_lists;
-- squawk-ignore ban-drop-function
DROP FUNCTION account_lists_delete_rows();
DROP TRIGGER account_list_rows_have_list_update ON account_list_rows;
DROP TRIGGER account_list_rows_have_list_insert ON account_list_rows;
-- squawk-ignore ban-drop-function
DROP FUNCTION account_list_rows_have_list();

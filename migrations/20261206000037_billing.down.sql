SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-table
DROP TABLE invoice_lines;
-- squawk-ignore ban-drop-function
DROP FUNCTION invoice_lines_frozen();
-- squawk-ignore ban-drop-table
DROP TABLE invoices;
-- squawk-ignore ban-drop-function
DROP FUNCTION invoices_final();
-- squawk-ignore ban-drop-table
DROP TABLE invoice_numbers;
-- squawk-ignore ban-drop-table
DROP TABLE billing_periods;

-- Nothing to undo: which key a person submitted through is in the audit log
-- (actor), and the older code reads `user:<id>` makers as well.
SELECT 1;

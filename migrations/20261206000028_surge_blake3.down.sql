-- The previous version compares Bombora's SHA-256 with the checksum: a week
-- whose file is known by its BLAKE3 is downloaded again once and recorded
-- by its SHA-256 (the same content, a replacement).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

-- squawk-ignore ban-drop-column
ALTER TABLE surge_files DROP COLUMN sha256;

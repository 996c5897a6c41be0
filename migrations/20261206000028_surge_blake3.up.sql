-- Surge files are known by the BLAKE3 of their bytes from this version on:
-- the parallel reader hashes each block it reads as a BLAKE3 subtree, so a
-- file is read once, and BLAKE3 costs less than SHA-256. The checksum
-- column keeps its name and form (64 hex digits); the files recorded before
-- keep their SHA-256 there, so the same bytes ingested again after the
-- upgrade are a new file of the same week (a replacement by identical
-- content, nothing lost).
--
-- The SHA-256 stays where a source publishes one: Bombora lists each week
-- with the SHA-256 of its file, and the fetch compares it with the week's
-- file before downloading again. Every file recorded so far is known by
-- its SHA-256, so it is that.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

ALTER TABLE surge_files ADD COLUMN sha256 text
    CONSTRAINT surge_files_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$');

-- One row a week: a small table.
UPDATE surge_files SET sha256 = checksum;

-- Companies' IP ranges (IPv4 and IPv6, both ends included), as 16-byte keys
-- in one ordering (IPv4 as its IPv4-mapped IPv6 form), so a range look-up is
-- an index scan whatever the family. Ranges never overlap: the import checks
-- each against the others under a table lock (accounts::ranges).
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE company_ip_ranges (
    domain text NOT NULL REFERENCES companies (domain) ON DELETE CASCADE,
    first_ip bytea NOT NULL CONSTRAINT company_ip_ranges_first_len CHECK (length(first_ip) = 16),
    last_ip bytea NOT NULL CONSTRAINT company_ip_ranges_last_len CHECK (length(last_ip) = 16),
    CONSTRAINT company_ip_ranges_order CHECK (first_ip <= last_ip),
    PRIMARY KEY (domain, first_ip)
);

-- The table is created empty in this transaction: nothing to build concurrently.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX company_ip_ranges_first ON company_ip_ranges (first_ip);

GRANT SELECT, INSERT, DELETE ON company_ip_ranges TO p360_app;

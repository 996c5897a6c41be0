-- What each audience holds in The Trade Desk: one first-party segment (and
-- the data group around it) per TTD advertiser whose ad groups target the
-- audience, and the IP ranges sent to it with when they expire, so only the
-- difference is sent and ranges are refreshed before TTD drops them.
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';

CREATE TABLE audience_segments (
    -- The data group's P360 id (activation's ttd_objects maps it to TTD's).
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    audience_id uuid NOT NULL,
    ttd_advertiser_id text NOT NULL,
    -- The segment's name at TTD (unique per data owner).
    name text NOT NULL,
    first_party_data_id bigint,
    -- The audience build the segment holds (0: none sent yet).
    synced_build bigint NOT NULL DEFAULT 0,
    synced_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audience_segments_audience_fkey FOREIGN KEY (tenant_id, audience_id)
        REFERENCES audiences (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT audience_segments_audience_advertiser_key UNIQUE (audience_id, ttd_advertiser_id)
);

CREATE TABLE audience_segment_entries (
    tenant_id uuid NOT NULL,
    segment_id uuid NOT NULL REFERENCES audience_segments (id) ON DELETE CASCADE,
    -- A CIDR block as sent.
    entry text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (segment_id, entry)
);

-- The tables are created empty in this transaction: nothing to build concurrently.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX audience_segment_entries_expiry ON audience_segment_entries (expires_at);

ALTER TABLE audience_segments ENABLE ROW LEVEL SECURITY;
ALTER TABLE audience_segments FORCE ROW LEVEL SECURITY;
CREATE POLICY audience_segments_tenant ON audience_segments USING (p360_tenant_visible(tenant_id));
ALTER TABLE audience_segment_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE audience_segment_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY audience_segment_entries_tenant ON audience_segment_entries
    USING (p360_tenant_visible(tenant_id));

GRANT SELECT, INSERT, UPDATE, DELETE ON audience_segments, audience_segment_entries TO p360_app;

-- Activation maps two more kinds of TTD object: an audience's data group
-- and the TTD audience an ad group targets.
-- One row per TTD object (small), and lock_timeout bounds the wait.
-- squawk-ignore ban-drop-constraint
ALTER TABLE ttd_objects DROP CONSTRAINT ttd_objects_type;
ALTER TABLE ttd_objects ADD CONSTRAINT ttd_objects_type
    CHECK (object_type IN ('advertiser', 'campaign', 'ad_group', 'creative', 'data_group', 'audience'))
    NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE ttd_objects VALIDATE CONSTRAINT ttd_objects_type;

-- What of a recording must outlive the documented rebuild (wipe the derived tables, replay):
-- its id and uuid, which the platform's module_contents.zoom_recording_id, recording_views and
-- API links hold, and its view counters, which the view agent counted from events the replay
-- does not read (docs/design.md, "Views"; docs/operations.md, "Replay"). Neither table below is
-- derived from the raw topics, so neither is wiped.
--
-- The copies of existing rows change nothing when run again (ON CONFLICT DO NOTHING).
-- depends: 0012_common_columns

-- Every recording's id and uuid, by Zoom's natural key, from its first insert on. A recording
-- inserted again after a wipe takes them back instead of new ones.
CREATE TABLE zoom_recording_keys (
    zoom_recording_id varchar(100) PRIMARY KEY,
    id bigint NOT NULL UNIQUE,
    uuid uuid NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO zoom_recording_keys (zoom_recording_id, id, uuid, created_at, updated_at)
SELECT zoom_recording_id, id, uuid, created_at, created_at FROM zoom_recordings
ON CONFLICT DO NOTHING;

-- The view agent's counters of each recording, by the recording's uuid: zoom_recordings'
-- view_count and unique_viewers are copies of these, restored when the row is inserted again.
CREATE TABLE recording_view_counters (
    id bigserial UNIQUE,
    uuid uuid NOT NULL UNIQUE
        GENERATED ALWAYS AS (zoomstream_key_uuid('view-counters', recording_uuid::text)) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    recording_uuid uuid PRIMARY KEY,
    view_count integer NOT NULL DEFAULT 0 CHECK (view_count >= 0),
    unique_viewers integer NOT NULL DEFAULT 0 CHECK (unique_viewers >= 0)
);
INSERT INTO recording_view_counters (recording_uuid, view_count, unique_viewers)
SELECT uuid, view_count, unique_viewers FROM zoom_recordings
 WHERE view_count > 0 OR unique_viewers > 0
ON CONFLICT DO NOTHING;

-- Runs after zoom_recordings_key_uuid (triggers fire in name order), which derives NEW.uuid
-- from the natural key; a key registered before keeps its own id and uuid (a recording from
-- before migration 0006 kept a random uuid). A new key never takes an id registered to another
-- (a sequence restarted by a wipe with RESTART IDENTITY). On an upsert that updates, NEW is
-- discarded: only the registration matters then, and it exists.
CREATE OR REPLACE FUNCTION zoomstream_stable_recording_keys() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    known zoom_recording_keys%ROWTYPE;
    counted recording_view_counters%ROWTYPE;
BEGIN
    SELECT * INTO known FROM zoom_recording_keys WHERE zoom_recording_id = NEW.zoom_recording_id;
    IF NOT FOUND THEN
        WHILE EXISTS (SELECT 1 FROM zoom_recording_keys WHERE id = NEW.id) LOOP
            NEW.id := nextval(pg_get_serial_sequence('zoom_recordings', 'id'));
        END LOOP;
        INSERT INTO zoom_recording_keys (zoom_recording_id, id, uuid)
        VALUES (NEW.zoom_recording_id, NEW.id, NEW.uuid)
        ON CONFLICT (zoom_recording_id) DO NOTHING;
        -- Registered now, or by a concurrent transaction that committed meanwhile (each
        -- statement here sees what is committed when it starts).
        SELECT * INTO STRICT known FROM zoom_recording_keys
         WHERE zoom_recording_id = NEW.zoom_recording_id;
    END IF;
    NEW.id := known.id;
    NEW.uuid := known.uuid;
    SELECT * INTO counted FROM recording_view_counters WHERE recording_uuid = known.uuid;
    IF FOUND THEN
        NEW.view_count := counted.view_count;
        NEW.unique_viewers := counted.unique_viewers;
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS zoom_recordings_stable_keys ON zoom_recordings;
CREATE TRIGGER zoom_recordings_stable_keys BEFORE INSERT ON zoom_recordings
    FOR EACH ROW EXECUTE FUNCTION zoomstream_stable_recording_keys();

-- recording_views is the view agent's, not derived from the raw topics: a wipe of
-- zoom_recordings (TRUNCATE … CASCADE, or DELETE) must not take it along. Its recording_id is
-- resolved from the recording's uuid at each write, and is the same after a rebuild.
ALTER TABLE recording_views DROP CONSTRAINT IF EXISTS recording_views_recording_id_fkey;

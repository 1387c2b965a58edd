-- The external API call log (issue 17.4, the spec's "External API interaction logging"): one
-- row per HTTP attempt to an external service (Zoom's API and its OAuth token endpoint),
-- written in batches by ingest's api_call_log, kept 90 days by `zoomstream cleanup`. No secret
-- in any column: the URL is kept without its query, answers' bodies never.
--
-- The subject names a recording by its natural key (zoom_recordings.zoom_recording_id), not
-- its id: no foreign key, so a wipe and rebuild of the recordings (migration 0013) keeps the
-- log, and the log names the same recording afterwards.
-- depends: 0018_recording_expiry

CREATE TABLE external_api_calls (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    service varchar(20) NOT NULL,
    operation varchar(50) NOT NULL,
    method varchar(10) NOT NULL,
    url varchar(2000) NOT NULL,
    status_code integer,
    duration_ms double precision NOT NULL CHECK (duration_ms >= 0),
    attempt integer NOT NULL CHECK (attempt >= 1),
    error text,
    request_id varchar(200),
    meeting_uuid varchar(100),
    recording_id varchar(100)
);
-- Retention deletes by created_at; the dashboard counts calls per hour since a time.
CREATE INDEX external_api_calls_created_idx ON external_api_calls (created_at);
-- An operator's question: what did we ask Zoom about this meeting (docs/operations.md)?
CREATE INDEX external_api_calls_meeting_idx ON external_api_calls (meeting_uuid, created_at)
    WHERE meeting_uuid IS NOT NULL;

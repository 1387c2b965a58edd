-- Recordings (spec: ZoomRecording, ZoomRecordingFile) and the event-matching rule.
-- depends: 0001_zoom_webhook_logs

-- The platform event of a Zoom meeting occurrence. Deleted events never match (defect 9). When
-- several live events share the meeting id (recurring meetings, personal rooms), an occurrence
-- keeps the event that an earlier webhook of the same occurrence (same uuid) was matched to;
-- otherwise the most recently created event wins.
CREATE FUNCTION zoomstream_match_event(meeting_id text, meeting_uuid text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT e.id
      FROM events e
     WHERE e.zoom_meeting_id = meeting_id
       AND meeting_id <> ''
       AND e.deleted_at IS NULL
     ORDER BY EXISTS (
                SELECT 1 FROM zoom_webhook_logs l
                 WHERE l.zoom_meeting_uuid = meeting_uuid AND meeting_uuid <> ''
                   AND l.event_id = e.id
              ) DESC,
              e.created_at DESC, e.id DESC
     LIMIT 1
$$;

CREATE INDEX zoom_webhook_logs_meeting_uuid_idx ON zoom_webhook_logs (zoom_meeting_uuid);

CREATE TABLE zoom_recordings (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    event_id bigint NOT NULL,
    zoom_meeting_id varchar(20) NOT NULL,
    zoom_meeting_uuid varchar(100) NOT NULL,
    zoom_recording_id varchar(100) NOT NULL UNIQUE,
    topic varchar(300) NOT NULL DEFAULT '',
    recording_start timestamptz NOT NULL,
    recording_end timestamptz NOT NULL,
    duration_seconds integer NOT NULL DEFAULT 0 CHECK (duration_seconds >= 0),
    total_size_bytes bigint NOT NULL DEFAULT 0,
    status varchar(20) NOT NULL DEFAULT 'processing'
        CHECK (status IN ('processing', 'available', 'expired', 'deleted', 'error', 'trashed')),
    zoom_expires_at timestamptz,
    access_level varchar(20) NOT NULL DEFAULT 'registrants'
        CHECK (access_level IN ('registrants', 'attendees', 'certificate_holders', 'public')),
    zoom_password varchar(50) NOT NULL DEFAULT '',
    -- Never written: the platform password is kept only as a hash (defect 20).
    access_password varchar(50) NOT NULL DEFAULT '',
    access_password_hash text NOT NULL DEFAULT '',
    title varchar(200) NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    thumbnail_url varchar(200) NOT NULL DEFAULT '',
    is_published boolean NOT NULL DEFAULT false,
    published_at timestamptz,
    auto_publish boolean NOT NULL DEFAULT false,
    view_count integer NOT NULL DEFAULT 0 CHECK (view_count >= 0),
    unique_viewers integer NOT NULL DEFAULT 0 CHECK (unique_viewers >= 0),
    -- Added: what the webhooks carry beyond the spec, and the order of their application.
    share_url varchar(2000) NOT NULL DEFAULT '',
    host_email varchar(254) NOT NULL DEFAULT '',
    download_token text NOT NULL DEFAULT '',
    download_token_expires_at timestamptz,
    lifecycle varchar(10) NOT NULL DEFAULT 'active' CHECK (lifecycle IN ('active', 'trashed', 'deleted')),
    lifecycle_changed_at timestamptz,
    source_event_at timestamptz NOT NULL,
    version bigint NOT NULL DEFAULT 1
);
CREATE INDEX zoom_recordings_event_idx ON zoom_recordings (event_id);
CREATE INDEX zoom_recordings_meeting_idx ON zoom_recordings (zoom_meeting_id);
CREATE INDEX zoom_recordings_status_idx ON zoom_recordings (status);
CREATE INDEX zoom_recordings_published_idx ON zoom_recordings (is_published, recording_start DESC);

CREATE TABLE zoom_recording_files (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    recording_id bigint NOT NULL REFERENCES zoom_recordings(id) ON DELETE CASCADE,
    zoom_file_id varchar(100) NOT NULL,
    file_type varchar(20) NOT NULL,
    recording_type varchar(50) NOT NULL DEFAULT '',
    file_name varchar(255) NOT NULL DEFAULT '',
    file_extension varchar(10) NOT NULL DEFAULT '',
    file_size_bytes bigint NOT NULL DEFAULT 0,
    download_url varchar(2000) NOT NULL DEFAULT '',
    play_url varchar(2000) NOT NULL DEFAULT '',
    share_url varchar(2000) NOT NULL DEFAULT '',
    storage_url varchar(500) NOT NULL DEFAULT '',
    processing_status varchar(20) NOT NULL DEFAULT 'completed',
    is_visible boolean NOT NULL DEFAULT true,
    -- Added: Zoom's own type, the file's times, and the event time of the data held.
    zoom_file_type varchar(20) NOT NULL DEFAULT '',
    recording_start timestamptz,
    recording_end timestamptz,
    source_event_at timestamptz NOT NULL,
    UNIQUE (recording_id, zoom_file_id)
);
CREATE INDEX zoom_recording_files_type_idx ON zoom_recording_files (recording_id, file_type);
CREATE INDEX zoom_recording_files_file_idx ON zoom_recording_files (zoom_file_id);

-- Recording views and watch progress (spec: RecordingView), written from the worker's Faust
-- tables as absolute values (docs/design.md, "Views").
-- depends: 0004_email

CREATE TABLE recording_views (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    recording_id bigint NOT NULL REFERENCES zoom_recordings(id) ON DELETE CASCADE,
    registration_id bigint NOT NULL,
    view_count integer NOT NULL DEFAULT 0 CHECK (view_count >= 0),
    first_viewed_at timestamptz NOT NULL,
    last_viewed_at timestamptz NOT NULL,
    total_watch_seconds integer NOT NULL DEFAULT 0 CHECK (total_watch_seconds >= 0),
    max_position_seconds integer NOT NULL DEFAULT 0 CHECK (max_position_seconds >= 0),
    completed boolean NOT NULL DEFAULT false,
    -- Added: when the watched time reached the threshold, and the exact watched seconds.
    completed_at timestamptz,
    watch_seconds_exact double precision NOT NULL DEFAULT 0,
    UNIQUE (recording_id, registration_id)
);
CREATE INDEX recording_views_recording_idx ON recording_views (recording_id);
CREATE INDEX recording_views_registration_idx ON recording_views (registration_id);

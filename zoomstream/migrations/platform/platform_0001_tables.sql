-- The platform's own tables, which zoomstream reads and updates. Production already has them;
-- this optional set creates them for local use and tests (`zoomstream migrate --platform`).
-- depends:

CREATE TABLE IF NOT EXISTS users (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    email text NOT NULL,
    name text NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS events (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    title text NOT NULL,
    zoom_meeting_id varchar(20),
    organizer_id bigint REFERENCES users(id) ON DELETE SET NULL,
    auto_publish_recordings boolean NOT NULL DEFAULT false,
    deleted_at timestamptz
);
CREATE INDEX IF NOT EXISTS events_zoom_meeting_id_idx ON events (zoom_meeting_id);

CREATE TABLE IF NOT EXISTS registrations (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    event_id bigint NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    user_id bigint REFERENCES users(id) ON DELETE SET NULL,
    email text NOT NULL,
    full_name text NOT NULL DEFAULT '',
    status varchar(20) NOT NULL DEFAULT 'confirmed',
    attended boolean NOT NULL DEFAULT false,
    certificate_issued boolean NOT NULL DEFAULT false,
    zoom_registrant_id varchar(100)
);
CREATE INDEX IF NOT EXISTS registrations_event_idx ON registrations (event_id);

CREATE TABLE IF NOT EXISTS contact_lists (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    owner_id bigint REFERENCES users(id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS contacts (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    contact_list_id bigint NOT NULL REFERENCES contact_lists(id) ON DELETE CASCADE,
    email text NOT NULL,
    email_bounced boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS contacts_email_idx ON contacts (lower(email));

CREATE TABLE IF NOT EXISTS module_contents (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    event_id bigint NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    content_type varchar(20) NOT NULL,
    zoom_recording_id bigint
);

CREATE TABLE IF NOT EXISTS content_progress (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    registration_id bigint NOT NULL REFERENCES registrations(id) ON DELETE CASCADE,
    content_id bigint NOT NULL REFERENCES module_contents(id) ON DELETE CASCADE,
    status varchar(20) NOT NULL DEFAULT 'not_started',
    total_time_seconds integer NOT NULL DEFAULT 0,
    video_progress_seconds integer NOT NULL DEFAULT 0,
    video_completed boolean NOT NULL DEFAULT false,
    completed_at timestamptz,
    UNIQUE (registration_id, content_id)
);

-- Every table has id, uuid, created_at and updated_at (DESIGN.md; issue 16.13). The tables made
-- without some of them get them here. Their uuids are derived from the row's natural key, as
-- migration 0006 does for the other derived tables, so a wipe and replay gives back the same
-- ones; a generated column needs no trigger. Rows already there take their creation time (or
-- now) as both times. Adding a stored column rewrites the table once.
-- depends: 0011_password_failures

ALTER TABLE zoom_participant_facts
    ADD COLUMN uuid uuid NOT NULL UNIQUE
        GENERATED ALWAYS AS (zoomstream_key_uuid('fact', zoom_meeting_uuid || '/' || fact_key)) STORED,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE zoom_participant_facts SET updated_at = created_at;

ALTER TABLE email_events
    ADD COLUMN uuid uuid NOT NULL UNIQUE
        GENERATED ALWAYS AS (zoomstream_key_uuid('email-event', provider || '/' || event_id)) STORED,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE email_events SET updated_at = created_at;

ALTER TABLE attendance_flags
    ADD COLUMN id bigserial UNIQUE,
    ADD COLUMN uuid uuid NOT NULL UNIQUE
        GENERATED ALWAYS AS (zoomstream_key_uuid('attendance-flag', registration_id::text)) STORED,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
UPDATE attendance_flags SET updated_at = created_at;

ALTER TABLE attendance_identities
    ADD COLUMN id bigserial UNIQUE,
    ADD COLUMN uuid uuid NOT NULL UNIQUE
        GENERATED ALWAYS AS (zoomstream_key_uuid('identity', zoom_meeting_uuid || '/' || identity)) STORED,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE recording_password_failures
    ADD COLUMN uuid uuid NOT NULL UNIQUE
        GENERATED ALWAYS AS (zoomstream_key_uuid('password-failures', scope || '/' || key)) STORED,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

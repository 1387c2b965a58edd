-- Attendance: meeting occurrences, participant facts, and the sessions and summaries recomputed
-- from them (docs/design.md, "Attendance").
-- depends: 0002_recordings

CREATE TABLE zoom_meetings (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    zoom_meeting_uuid varchar(100) NOT NULL UNIQUE,
    zoom_meeting_id varchar(20) NOT NULL DEFAULT '',
    event_id bigint,
    topic varchar(300) NOT NULL DEFAULT '',
    is_webinar boolean NOT NULL DEFAULT false,
    start_time timestamptz,
    end_time timestamptz
);
CREATE INDEX zoom_meetings_event_idx ON zoom_meetings (event_id);

-- What each participant webhook said; the same fact delivered twice is one row.
CREATE TABLE zoom_participant_facts (
    id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    zoom_meeting_uuid varchar(100) NOT NULL,
    fact_key char(64) NOT NULL,
    kind varchar(10) NOT NULL CHECK (kind IN ('joined', 'left', 'waiting')),
    session_id varchar(100) NOT NULL,
    at timestamptz NOT NULL,
    join_time timestamptz,
    registrant_id varchar(100),
    email varchar(254),
    zoom_user_id varchar(100),
    customer_key varchar(100),
    name varchar(255) NOT NULL DEFAULT '',
    leave_reason text,
    UNIQUE (zoom_meeting_uuid, fact_key)
);

CREATE TABLE attendance_sessions (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    zoom_meeting_uuid varchar(100) NOT NULL,
    session_id varchar(100) NOT NULL,
    join_time timestamptz NOT NULL,
    person_key varchar(300) NOT NULL,
    leave_time timestamptz,
    closed_by varchar(12) CHECK (closed_by IN ('left', 'meeting_end')),
    duration_seconds integer,
    leave_reason text,
    name varchar(255) NOT NULL DEFAULT '',
    registrant_id varchar(100),
    email varchar(254),
    UNIQUE (zoom_meeting_uuid, session_id, join_time)
);
CREATE INDEX attendance_sessions_person_idx ON attendance_sessions (zoom_meeting_uuid, person_key);

CREATE TABLE attendance_summaries (
    id bigserial PRIMARY KEY,
    uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    zoom_meeting_uuid varchar(100) NOT NULL,
    person_key varchar(300) NOT NULL,
    zoom_meeting_id varchar(20) NOT NULL DEFAULT '',
    event_id bigint,
    registration_id bigint,
    registrant_id varchar(100),
    email varchar(254),
    name varchar(255) NOT NULL DEFAULT '',
    first_join timestamptz NOT NULL,
    last_leave timestamptz,
    total_seconds integer NOT NULL CHECK (total_seconds >= 0),
    session_count integer NOT NULL CHECK (session_count > 0),
    attended boolean NOT NULL,
    threshold_seconds integer NOT NULL,
    version bigint NOT NULL DEFAULT 1,
    UNIQUE (zoom_meeting_uuid, person_key)
);
CREATE INDEX attendance_summaries_event_idx ON attendance_summaries (event_id);
CREATE INDEX attendance_summaries_registration_idx ON attendance_summaries (registration_id);

-- The registrations whose `attended` zoomstream set. Only those are set back to false when no
-- summary of theirs reaches the threshold any more (a late `left` shortened a session that the
-- meeting's end had closed); a flag the platform set itself is never taken back.
CREATE TABLE attendance_flags (
    registration_id bigint PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

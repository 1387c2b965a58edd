-- Attendance updated per person, not per occurrence (docs/design.md, "Attendance"): who is who
-- is kept per occurrence, each occurrence keeps the bounds its facts give and the threshold
-- its summaries were last brought to.
-- depends: 0007_analytics_views

-- Every identity of an occurrence's people (session:<id>, registrant:<id>, email:<address>,
-- zoom:<id>, customer:<key>) and the person it belongs to: a new fact finds the people it
-- touches here, without reading the occurrence's other facts.
CREATE TABLE attendance_identities (
    zoom_meeting_uuid varchar(100) NOT NULL,
    identity varchar(300) NOT NULL,
    person_key varchar(300) NOT NULL,
    PRIMARY KEY (zoom_meeting_uuid, identity)
);
CREATE INDEX attendance_identities_person_idx ON attendance_identities (zoom_meeting_uuid, person_key);
CREATE INDEX zoom_participant_facts_session_idx ON zoom_participant_facts (zoom_meeting_uuid, session_id);

ALTER TABLE zoom_meetings
    ADD COLUMN first_join timestamptz,
    ADD COLUMN last_leave timestamptz,
    ADD COLUMN applied_threshold integer,
    ADD COLUMN applied_end timestamptz,
    ADD COLUMN settled_at timestamptz,
    ADD COLUMN settle_due boolean NOT NULL DEFAULT false,
    -- Occurrences recorded before this migration have no identities yet: their first update
    -- goes over all of their facts once. New occurrences start indexed (they have no facts).
    ADD COLUMN people_indexed boolean NOT NULL DEFAULT false;
ALTER TABLE zoom_meetings ALTER COLUMN people_indexed SET DEFAULT true;
CREATE INDEX zoom_meetings_settle_idx ON zoom_meetings (settled_at) WHERE settle_due OR NOT people_indexed;

UPDATE zoom_meetings m SET first_join = b.first_join, last_leave = b.last_leave
FROM (
    SELECT zoom_meeting_uuid,
           min(CASE kind WHEN 'joined' THEN at WHEN 'left' THEN join_time END) AS first_join,
           max(CASE kind WHEN 'left' THEN at END) AS last_leave
    FROM zoom_participant_facts GROUP BY zoom_meeting_uuid
) b
WHERE b.zoom_meeting_uuid = m.zoom_meeting_uuid;

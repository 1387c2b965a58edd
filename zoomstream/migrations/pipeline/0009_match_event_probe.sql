-- The event match of an occurrence costs one index probe, whatever the size of the log table
-- (docs/design.md, "Performance"). A SQL function's body is planned generically: when one
-- occurrence dominated the statistics, the planner took a sequential scan for the EXISTS
-- (expecting a match on the first row), and an occurrence not logged yet read the whole log
-- table. The probe is now on (zoom_meeting_uuid, event_id), and the function's plan never
-- scans a table: both of its lookups have an index that answers them.
-- depends: 0008_attendance_people

CREATE INDEX zoom_webhook_logs_meeting_uuid_event_idx
    ON zoom_webhook_logs (zoom_meeting_uuid, event_id);
-- The new index answers every lookup the single-column one did.
DROP INDEX zoom_webhook_logs_meeting_uuid_idx;

CREATE OR REPLACE FUNCTION zoomstream_match_event(meeting_id text, meeting_uuid text)
RETURNS bigint
LANGUAGE sql STABLE
SET enable_seqscan = off
AS $$
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
